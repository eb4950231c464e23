"""Export the gateway's OpenAPI document to specs/llm_gateway.openapi.json.

The exported file is what the tool registry points agents at, so they can call the model
as a tool; a test fails when it drifts from the app. Regenerate with
``python -m tests.support.generated_files llm_gateway``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SPEC_PATH", "render_spec"]

SPEC_PATH = Path(__file__).resolve().parent.parent / "specs" / "llm_gateway.openapi.json"


def render_spec() -> str:
    from llm_gateway.main import app

    document: dict[str, Any] = app.openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
