"""Write each tool service's OpenAPI spec to specs/<name>.openapi.json.

Run ``python tools/export_specs.py`` after changing a service; ``--check`` only
reports which exported specs differ from the services (exit status 1), which is
what the drift test relies on too. The registry may point at these files, so they
must match what the running services serve at /openapi.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SPECS_DIR = REPO_ROOT / "specs"
TOOLS_DIR = Path(__file__).resolve().parent
# Every tools/<name>/ that holds a service (a main.py exposing ``app``).
SERVICES = tuple(sorted(p.parent.name for p in TOOLS_DIR.glob("*/main.py")))

__all__ = ["SERVICES", "main", "render_spec", "spec_path"]


def spec_path(name: str) -> Path:
    return SPECS_DIR / f"{name}.openapi.json"


def render_spec(name: str) -> str:
    """The spec of ``tools.<name>`` exactly as it is exported (stable key order, final newline)."""
    module = importlib.import_module(f"tools.{name}.main")
    spec: dict[str, Any] = module.app.openapi()
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", default=list(SERVICES), help="services to export (default: all)")
    parser.add_argument("--check", action="store_true", help="report drift instead of writing")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(SERVICES))
    if unknown:
        parser.error(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    drifted = []
    for name in args.names:
        text, path = render_spec(name), spec_path(name)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                drifted.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO_ROOT)}")
    for name in drifted:
        print(f"{spec_path(name).name} differs from tools.{name}; run python tools/export_specs.py")
    return 1 if drifted else 0


if __name__ == "__main__":
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    sys.exit(main())
