"""Reading an `mcp` registry entry's tools for the catalog; a server that is down fails that entry alone."""

from __future__ import annotations

import os
from collections.abc import Mapping

from openapi_engine import ConvertedSpec, SpecLoadError
from openapi_engine.registry import ToolEntry

from .client import credential_headers, list_server_tools, run_blocking
from .conversion import convert_tools, header_bindings
from .invoke import failure_result

__all__ = ["load_mcp_entry"]


def load_mcp_entry(entry: ToolEntry, environ: Mapping[str, str] | None = None) -> ConvertedSpec:
    """List the server's tools and convert them; raises SpecLoadError naming why it could not."""
    env = os.environ if environ is None else environ
    try:
        headers = credential_headers(header_bindings(entry.auth), env)
    except LookupError as exc:
        raise SpecLoadError(entry.spec, None, str(exc)) from None
    try:
        tools = run_blocking(lambda: list_server_tools(entry.spec, headers, entry.timeout_seconds))
    except Exception as exc:
        found = failure_result(exc)
        reason = found.error if found is not None and found.error else f"listing its tools failed: {type(exc).__name__}"
        raise SpecLoadError(entry.spec, None, reason) from None
    return convert_tools(entry, tools)
