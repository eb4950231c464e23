"""The app's JSON settings files (host.json, local.settings.json, function.json) read as the Functions host reads them.

The host parses them with comments allowed (``//`` to the end of a line, ``/* ... */``), so files
written for ``func start`` often carry them; Python's ``json`` refuses them. Comments are blanked
here, outside strings, keeping every line and column where it was, so a real syntax error is
still reported where it is in the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["read_json_config"]

# A string (kept), a line comment or a block comment (blanked); anything else is left alone.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\n]*|/\*.*?\*/', re.DOTALL)


def _blank(match: re.Match[str]) -> str:
    text = match.group()
    if text.startswith('"'):
        return text
    return re.sub(r"[^\n]", " ", text)


def read_json_config(path: Path) -> Any:
    """The JSON value in ``path``, comments allowed; ``json.JSONDecodeError`` when it is not JSON."""
    return json.loads(_TOKEN.sub(_blank, path.read_text()))
