"""Errors raised by the OpenAPI engine.

Every error names what failed so an operator can fix it without a debugger: the spec
file or URL, the JSON pointer inside it and the reason. Model mistakes (bad arguments,
HTTP failures) are never raised: they come back as messages and `ToolResult`s.

    OpenApiEngineError
     ├── SpecLoadError            a spec (or a file it refers to) cannot be read or parsed
     │    └── RefError            a $ref is unresolvable, leaves the allowed root, or loops
     ├── OperationError           one operation cannot be converted (skipped, reported)
     └── RegistryError            registry.yaml is invalid (lists every bad entry)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["OpenApiEngineError", "OperationError", "RefError", "RegistryError", "SpecLoadError"]


class OpenApiEngineError(Exception):
    """Base of every error the engine raises."""


class SpecLoadError(OpenApiEngineError):
    """A spec cannot be loaded: names the source, the JSON pointer and the reason."""

    def __init__(self, source: str, pointer: str | None, reason: str) -> None:
        self.source = source
        self.pointer = pointer
        self.reason = reason
        where = f"{source}#{pointer}" if pointer else source
        super().__init__(f"{where}: {reason}")


class RefError(SpecLoadError):
    """A `$ref` cannot be followed (missing target, outside the root, other host, loop)."""


class OperationError(OpenApiEngineError):
    """One operation cannot be converted; the rest of the spec still loads."""

    def __init__(self, pointer: str, reason: str) -> None:
        self.pointer = pointer
        self.reason = reason
        super().__init__(f"{pointer}: {reason}")


class RegistryError(OpenApiEngineError):
    """The registry is invalid; `problems` lists one line per bad entry and field."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid registry {source}:\n{lines}")
