"""Export the gateway's OpenAPI document to specs/llm_gateway.openapi.json.

The exported file is what the tool registry points agents at, so they can call the model
as a tool; a test fails when it drifts from the app. Regenerate with
``python -m llm_gateway.spec``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["SPEC_PATH", "render_spec"]

SPEC_PATH = Path(__file__).resolve().parent.parent / "specs" / "llm_gateway.openapi.json"


def render_spec() -> str:
    from llm_gateway.main import app

    document: dict[str, Any] = app.openapi()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else SPEC_PATH
    target.write_text(render_spec())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
