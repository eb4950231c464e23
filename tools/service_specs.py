"""The tool services and their OpenAPI specs, as exported to specs/<name>.openapi.json.

Run ``python -m tests.support.generated_files`` after changing a service (a test fails when an
export drifts). The registry may point at these files, so they must match what the running
services serve at /openapi.json.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SPECS_DIR = REPO_ROOT / "specs"
TOOLS_DIR = Path(__file__).resolve().parent
# Every tools/<name>/ that holds a service (a main.py exposing ``app``).
SERVICES = tuple(sorted(p.parent.name for p in TOOLS_DIR.glob("*/main.py")))

__all__ = ["SERVICES", "render_spec", "spec_path"]


def spec_path(name: str) -> Path:
    return SPECS_DIR / f"{name}.openapi.json"


def render_spec(name: str) -> str:
    """The spec of ``tools.<name>`` exactly as it is exported (stable key order, final newline)."""
    module = importlib.import_module(f"tools.{name}.main")
    spec: dict[str, Any] = module.app.openapi()
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
