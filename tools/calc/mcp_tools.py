"""The calc service's operations as MCP tools, served at ``/mcp`` beside the REST API.

The same functions answer both: a tool call is the REST operation's handler called with
the same request model, and its errors become tool errors the caller can read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from tools.service_kit.errors import ServiceError

from .routers.calc import CONVERT_DESCRIPTION, EVALUATE_DESCRIPTION, evaluate_expression
from .routers.calc import convert_units as convert_handler
from .schemas import ConversionRequest, ConversionResult, EvaluationRequest, EvaluationResult

__all__ = ["build_server"]

# Both only compute: no side effects, and the same input always gives the same answer.
PURE = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


def _described(model: type[EvaluationRequest] | type[ConversionRequest], field: str) -> str:
    return model.model_fields[field].description or ""


def build_server(instructions: str) -> MCPServer:
    server = MCPServer("calc", instructions=instructions)

    @server.tool(
        name="calculate",
        title="Calculate exactly",
        annotations=PURE,
        description=EVALUATE_DESCRIPTION,
    )
    def calculate(
        expression: Annotated[
            str, Field(min_length=1, max_length=1000, description=_described(EvaluationRequest, "expression"))
        ],
    ) -> EvaluationResult:
        try:
            return evaluate_expression(EvaluationRequest(expression=expression))
        except ServiceError as exc:
            raise ToolError(exc.message) from None

    @server.tool(
        name="convert_units",
        title="Convert units",
        annotations=PURE,
        description=CONVERT_DESCRIPTION,
    )
    def convert_units(
        value: Annotated[Decimal, Field(description=_described(ConversionRequest, "value"))],
        from_unit: Annotated[
            str, Field(min_length=1, max_length=64, description=_described(ConversionRequest, "from_unit"))
        ],
        to_unit: Annotated[
            str, Field(min_length=1, max_length=64, description=_described(ConversionRequest, "to_unit"))
        ],
    ) -> ConversionResult:
        try:
            return convert_handler(ConversionRequest(value=value, from_unit=from_unit, to_unit=to_unit))
        except ServiceError as exc:
            raise ToolError(exc.message) from None

    return server
