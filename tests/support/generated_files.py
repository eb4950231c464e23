"""Every file the repository generates from its code, written or checked for drift in one place.

``python -m tests.support.generated_files`` rewrites them all (or only the ones named);
``--check`` writes nothing and reports each file that differs from its source (exit status 1),
which is what tests/test_generated_files.py checks. The files: the OpenAPI documents of the run
API, the gateway and each tool service under specs/, and docs/settings.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COMMAND", "GeneratedFile", "generated_files", "main"]

COMMAND = "python -m tests.support.generated_files"


@dataclass(frozen=True)
class GeneratedFile:
    name: str
    path: Path
    render: Callable[[], str]
    source: str
    """What the file is generated from, for the drift message."""

    def drifted(self) -> bool:
        return not self.path.exists() or self.path.read_text(encoding="utf-8") != self.render()


def _tool_spec(service: str) -> Callable[[], str]:
    from tools.service_specs import render_spec

    return lambda: render_spec(service)


def generated_files() -> list[GeneratedFile]:
    from agent_loop import run_api_spec
    from llm_gateway import spec as gateway_spec
    from tests.support import settings_table
    from tools.service_specs import SERVICES, spec_path

    return [
        GeneratedFile("run_api", run_api_spec.SPEC_PATH, run_api_spec.render_spec, "the run API"),
        GeneratedFile("llm_gateway", gateway_spec.SPEC_PATH, gateway_spec.render_spec, "the gateway app"),
        *(GeneratedFile(s, spec_path(s), _tool_spec(s), f"tools.{s}") for s in SERVICES),
        GeneratedFile("settings", settings_table.DOC_PATH, settings_table.render, "the settings classes"),
    ]


def main(argv: Sequence[str] | None = None, files: Sequence[GeneratedFile] | None = None) -> int:
    files = list(files if files is not None else generated_files())
    by_name = {f.name: f for f in files}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", help=f"files to write or check (default: all of {', '.join(by_name)})")
    parser.add_argument("--check", action="store_true", help="report drift instead of writing")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(by_name))
    if unknown:
        parser.error(f"unknown file(s): {', '.join(unknown)}; known: {', '.join(by_name)}")
    chosen = [by_name[n] for n in args.names] if args.names else files
    if args.check:
        drifted = [f for f in chosen if f.drifted()]
        for f in drifted:
            print(f"{f.path.name} differs from {f.source}; run {COMMAND} {f.name}")
        return 1 if drifted else 0
    for f in chosen:
        f.path.write_text(f.render(), encoding="utf-8")
        print(f"wrote {f.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
