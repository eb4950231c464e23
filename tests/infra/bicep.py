"""Read the Bicep templates without the Bicep compiler, which cannot run here.

``pycep-parser`` (the Bicep grammar Checkov uses) turns each file into a JSON tree: parameters
with their decorators, variables, resources with type and API version, modules with their path
and arguments, outputs. Expressions stay trees (``{"function": ...}``, ``{"operator": ...}``),
literal objects and arrays stay plain, so the tests can read the literal parts (the service
table, setting names, scale defaults) and check how the files fit together. What only the real
compiler and Azure Resource Manager know (resource schemas, type checking) is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

from tests.infra.mesh import INFRA

MAIN = INFRA / "main.bicep"
PARAMETERS_FILE = INFRA / "main.parameters.json"
TOKEN_LENGTH = 13
"""uniqueString() always returns 13 characters."""


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def parse(path: Path) -> dict[str, Any]:
    """The file's tree, with quoted object keys (``'llm-gateway'``) unquoted."""
    tree: dict[str, Any] = _unquote_keys(dict(BicepParser().parse(file_path=path)))
    for section in ("parameters", "variables", "resources", "modules", "outputs"):
        tree.setdefault(section, {})
    return tree


def _unquote_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {_unquote(str(k)): _unquote_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_unquote_keys(v) for v in node]
    return node


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "'" else key


def decorators(declaration: dict[str, Any]) -> dict[str, Any]:
    return {d["type"]: d.get("argument") for d in declaration.get("decorators", [])}


def module_params(call: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a module call, through loops (``[for ...]``) and conditions (``if``)."""
    config = call["config"]
    while "params" not in config and isinstance(config.get("config"), dict):
        config = config["config"]
    params: dict[str, Any] = config.get("params", {})
    return params


def module_path(source: Path, call: dict[str, Any]) -> Path:
    return (source.parent / str(call["detail"]["path"])).resolve()


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def literal_objects(node: Any) -> Iterator[dict[str, Any]]:
    """Object literals written in the template, not the parse tree's expression nodes.

    A function call is ``{"function": {"type", "parameters": {...}}}`` and an operator
    ``{"operator": {"type", "operands": {...}}}``; their arguments are searched, the nodes
    themselves are not literals.
    """
    if isinstance(node, list):
        for item in node:
            yield from literal_objects(item)
    elif isinstance(node, dict):
        expression = node.get("function") or node.get("operator")
        if isinstance(expression, dict) and len(node) == 1:
            arguments = expression.get("parameters") or expression.get("operands") or {}
            for value in arguments.values():
                yield from literal_objects(value)
            return
        yield node
        for value in node.values():
            yield from literal_objects(value)


def strings(node: Any) -> Iterator[str]:
    return (item for item in walk(node) if isinstance(item, str))


def references(node: Any) -> set[str]:
    """Identifiers and ``${...}`` interpolations an expression mentions (approximately)."""
    found: set[str] = set()
    for text in strings(node):
        found.update(re.findall(r"\$\{([^}]+)\}", text))
        if re.fullmatch(r"[A-Za-z_]\w*", text):
            found.add(text)
    return found


def fill(template: str, **values: str) -> str:
    """Evaluate a ``'...${name}...'`` string template with the given values."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        assert key in values, f"no value for ${{{key}}} in {template!r}"
        return values[key]

    return re.sub(r"\$\{([^}]+)\}", replace, template)
