"""MCP servers as tools: listing, conversion and calls over streamable HTTP.

`loader` reads a registry entry of kind `mcp` into the catalog (`conversion` puts the
tools' schemas through the OpenAPI engine's shaping and strict derivation); `invoke`
makes one call from an activity, and `tasks` lets a long one run as a task the run polls.
Everything else — approvals, retries, history — is the same as for OpenAPI operations.
"""

from .conversion import MCP_METHOD, convert_tools, is_mcp
from .invoke import McpAnswers, answer_mcp_task, cancel_mcp_task, invoke_mcp, poll_mcp_task, tool_result
from .loader import load_mcp_entry

__all__ = [
    "MCP_METHOD",
    "McpAnswers",
    "answer_mcp_task",
    "cancel_mcp_task",
    "convert_tools",
    "invoke_mcp",
    "is_mcp",
    "load_mcp_entry",
    "poll_mcp_task",
    "tool_result",
]
