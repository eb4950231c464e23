"""MCP servers as tools: listing, conversion and calls over streamable HTTP.

`loader` reads a registry entry of kind `mcp` into the catalog (`conversion` puts the
tools' schemas through the OpenAPI engine's shaping and strict derivation); `invoke`
makes one call from an activity. Everything else — approvals, retries, history — is the
same as for OpenAPI operations.
"""

from .conversion import MCP_METHOD, convert_tools, is_mcp
from .invoke import McpAnswers, invoke_mcp, tool_result
from .loader import load_mcp_entry

__all__ = ["MCP_METHOD", "McpAnswers", "convert_tools", "invoke_mcp", "is_mcp", "load_mcp_entry", "tool_result"]
