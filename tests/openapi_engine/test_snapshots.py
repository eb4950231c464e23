"""What the model sees for small corpus specs, pinned: any change to it is a visible diff.

Refresh after an intended change:
    UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/openapi_engine/test_snapshots.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from openapi_engine import load_and_convert
from tests.openapi_engine.conftest import corpus_path

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.mark.parametrize("relative", ["petstore-3.0/openapi.yaml", "museum-3.1/openapi.yaml"])
def test_converted_tools_match_snapshot(relative: str) -> None:
    converted = load_and_convert(str(corpus_path(relative)))
    current = {
        "tools": [fn.openai_tool() for fn in converted.functions],
        "strict": {fn.name: fn.strict_parameters for fn in converted.functions},
        "problems": [str(p) for p in converted.problems],
    }
    path = SNAPSHOTS / (relative.split("/")[0] + ".json")
    text = json.dumps(current, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
        if os.environ.get("UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"snapshot {path.name} was missing and has been written; check it in")
    assert json.loads(path.read_text(encoding="utf-8")) == current
