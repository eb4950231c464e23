"""The OpenAPI engine: specs in, function-calling tools out, tool calls back to HTTP.

Pipeline (a module each): `documents` (read JSON/YAML) -> `refs` (follow $refs under
the spec's root) -> `swagger2` (upgrade 2.0) -> `operations` (arguments and bindings)
-> `schemas`/`shaping` (compact JSON Schema) -> `strict` (OpenAI strict variant) ->
`naming`. `registry` and `catalog` bind tools to runs; `invoke` makes the calls.
"""

from .arguments import validate_arguments
from .catalog import build_catalog
from .conversion_cache import ConversionCache
from .converter import ConversionOptions, ConvertedSpec, convert_document, load_and_convert
from .errors import OpenApiEngineError, OperationError, RefError, RegistryError, SpecLoadError
from .invoke import DEFAULT_MAX_BODY_CHARS, DEFAULT_TOOL_TIMEOUT, invoke
from .models import (
    RUN_ID_HEADER,
    BodyBinding,
    CallbackSpec,
    Catalog,
    ParamBinding,
    Problem,
    SecurityBinding,
    ToolFunction,
    ToolInfo,
    ToolResult,
    WaitSpec,
)
from .openai_rules import LEGACY_STRICT_LIMITS, StrictLimits, check_strict_schema, check_tools
from .registry import Registry, ToolEntry, ToolFilter, load_registry

__all__ = [
    "DEFAULT_MAX_BODY_CHARS",
    "DEFAULT_TOOL_TIMEOUT",
    "LEGACY_STRICT_LIMITS",
    "RUN_ID_HEADER",
    "BodyBinding",
    "CallbackSpec",
    "Catalog",
    "ConversionCache",
    "ConversionOptions",
    "ConvertedSpec",
    "OpenApiEngineError",
    "OperationError",
    "ParamBinding",
    "Problem",
    "RefError",
    "Registry",
    "RegistryError",
    "SecurityBinding",
    "SpecLoadError",
    "StrictLimits",
    "ToolEntry",
    "ToolFilter",
    "ToolFunction",
    "ToolInfo",
    "ToolResult",
    "WaitSpec",
    "build_catalog",
    "check_strict_schema",
    "check_tools",
    "convert_document",
    "invoke",
    "load_and_convert",
    "load_registry",
    "validate_arguments",
]
