"""The offline model's tool use: pick the tool a task asks for and fill its arguments.

Choice is lexical: the task's words (stemmed, with a few synonyms for common actions) are
ranked against each tool's name and description with BM25 (rank-bm25), and a tool whose
*name* shares words with the task gets a bonus, since names are the sharpest signal. A task
that shares no content word with any tool is answered in text.

Arguments come from the tool's JSON schema and the task text: titles get a short title,
bodies the task plus the results of earlier tasks (an optional body too when the task refers to
them: "write a note with the result"), queries keywords, ``expression`` the
arithmetic in the text, numbers the numbers in the text, enums their first value, booleans
false. Optional fields are filled only when the text states them outright.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rank_bm25 import BM25Plus

from llm_gateway.providers.offline.text import STOPWORDS, keywords, numbers, quoted, stem, words

__all__ = ["ToolSpec", "choose_tool", "fill_arguments", "find_expression", "tool_specs"]

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "write": ("create", "add", "save", "note", "store", "record", "post"),
    "save": ("create", "add", "store", "write", "record"),
    "record": ("create", "add", "save", "store"),
    "add": ("create", "insert", "save"),
    "note": ("create", "save"),
    "make": ("create", "add"),
    "draft": ("create", "write"),
    "find": ("search", "query", "look", "get", "list"),
    "look": ("search", "find", "query"),
    "research": ("search", "find", "query", "look"),
    "search": ("find", "query", "look"),
    "compute": ("calculate", "evaluate", "math", "expression", "calculator"),
    "calculate": ("compute", "evaluate", "math", "expression", "calculator"),
    "evaluate": ("compute", "calculate", "math", "expression"),
    "remove": ("delete",),
    "delete": ("remove",),
    "show": ("list", "get", "read"),
    "list": ("show", "get", "all"),
    "read": ("get", "fetch", "show"),
    "fetch": ("get", "read", "retrieve"),
    "retrieve": ("get", "read", "fetch"),
    "send": ("message", "email", "post", "notify"),
    "email": ("send", "message", "mail"),
    "tell": ("send", "message", "notify"),
    "notify": ("send", "message"),
}

_TITLE = {"title", "name", "subject", "heading", "label", "topic", "caption"}
_BODY = {
    "body",
    "content",
    "text",
    "message",
    "description",
    "notes",
    "summary",
    "details",
    "markdown",
    "prompt",
}
_QUERY = {"query", "q", "search", "keywords", "keyword", "term", "terms", "filter", "pattern", "question"}
_EXPR_WORDS = (
    ("divided by", "/"),
    ("multiplied by", "*"),
    ("times", "*"),
    ("plus", "+"),
    ("minus", "-"),
    ("over", "/"),
    ("x", "*"),
)
_EXPRESSION = re.compile(r"[-(]*\s*\d+(?:\.\d+)?(?:\s*(?:\*\*|[-+*/^%])\s*[(]*\s*\d+(?:\.\d+)?\s*[)]*)+")
_URL = re.compile(r"https?://[^\s\"'<>]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?Z?)?")
_EARLIER = re.compile(
    r"\b(?:results?|computed|calculated|value|answer|total|sum|findings|outcome|output|earlier|previous|above)\b",
    re.IGNORECASE,
)
_CONTEXT_ID = re.compile(r"\"(?:id|[a-z_]*_id)\"\s*:\s*\"?([\w-]+)\"?")


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


def tool_specs(tools: Any) -> list[ToolSpec]:
    specs = []
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            params = function.get("parameters")
            specs.append(
                ToolSpec(
                    name=function["name"],
                    description=str(function.get("description") or ""),
                    parameters=params if isinstance(params, dict) else {},
                )
            )
    return specs


def _expand(task: str) -> list[str]:
    terms = []
    for word in words(task):
        if word in STOPWORDS:
            continue
        terms.append(stem(word))
        terms.extend(stem(s) for s in _SYNONYMS.get(word, ()))
    if find_expression(task) is not None:
        terms.extend(("calculate", "compute", "evaluate", "math", "expression", "calculator"))
    return terms


def choose_tool(task: str, tools: list[ToolSpec]) -> ToolSpec | None:
    """The best-matching tool, or None when the task shares no content word with any tool."""
    if not tools:
        return None
    query = _expand(task)
    documents = [[stem(w) for w in words(f"{t.name} {t.name} {t.description}") if w not in STOPWORDS] for t in tools]
    scores = BM25Plus(documents).get_scores(query)
    best: tuple[float, int] | None = None
    for index, tool in enumerate(tools):
        name_terms = {stem(w) for w in words(tool.name)}
        overlap = set(query) & set(documents[index])
        if not overlap:
            continue
        score = float(scores[index]) + 2.0 * len(name_terms & set(query))
        if best is None or score > best[0]:
            best = (score, index)
    return tools[best[1]] if best is not None else None


def find_expression(text: str) -> str | None:
    """The arithmetic in the text, e.g. "What is 12 times (3 + 4)?" -> "12 * (3 + 4)"."""
    spoken = f" {text} "
    for phrase, symbol in _EXPR_WORDS:
        spoken = re.sub(rf"(?<=[\d\s]){phrase}(?=[\s\d(])", f" {symbol} ", spoken)
    candidates = [m.group(0).strip() for m in _EXPRESSION.finditer(spoken)]
    if not candidates:
        return None
    expression = max(candidates, key=len)
    expression = re.sub(r"\s+", " ", expression).replace("^", "**")
    depth = expression.count("(") - expression.count(")")
    return expression + ")" * depth if depth > 0 else expression


def _title(task: str) -> str:
    given = quoted(task)
    if given:
        return given
    match = re.search(r"\b(?:titled|called|named)\s+(.+)$", task, re.IGNORECASE)
    if match:
        return match.group(1).strip(" .")[:80]
    content = keywords(task, drop=frozenset({"note", "notes", "summary", "about", "regarding"}))
    title = " ".join(content[:6]) or " ".join(words(task)[:6])
    return (title[:1].upper() + title[1:])[:80] or "Untitled"


def _body(task: str, context: list[str]) -> str:
    earlier = [c.strip() for c in context if c and c.strip()]
    return task if not earlier else task + "\n\n" + "\n\n".join(earlier)


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None and "anyOf" in schema:
        for option in schema["anyOf"]:
            if isinstance(option, dict) and option.get("type") not in (None, "null"):
                return _kind(option)
    return str(kind or "string")


@dataclass(kw_only=True, slots=True)
class _Filler:
    task: str
    tool: ToolSpec
    context: list[str]
    numbers_left: list[float]

    def string(self, name: str, schema: dict[str, Any], required: bool) -> str | None:
        lowered = name.lower()
        parts = set(words(name))
        if lowered == "expression" or "expression" in parts or "formula" in parts:
            return find_expression(self.task) or (self.task if required else None)
        if parts & _TITLE:
            return _title(self.task) if required or quoted(self.task) else None
        if parts & _QUERY:
            drop = frozenset(stem(w) for w in words(self.tool.name)) | frozenset(words(self.tool.name))
            found = keywords(self.task, drop=drop) or keywords(self.task)
            return " ".join(found[:6]) if found else (self.task if required else None)
        if parts & _BODY:
            return _body(self.task, self.context) if required or self.refers_to_earlier() else None
        if "url" in parts or "uri" in parts or "link" in parts:
            match = _URL.search(self.task)
            return match.group(0) if match else None
        if "email" in parts or lowered in {"to", "recipient"}:
            match = _EMAIL.search(self.task)
            return match.group(0) if match else None
        if schema.get("format") in ("date", "date-time") or "date" in parts:
            match = _DATE.search(self.task)
            return match.group(0) if match else None
        if lowered == "id" or lowered.endswith("_id") or "id" in parts:
            return self.context_id()
        return self.task if required else None

    def refers_to_earlier(self) -> bool:
        """Whether the task asks for what earlier tasks found ("write a note with the result")."""
        return bool(self.context) and _EARLIER.search(self.task) is not None

    def context_id(self) -> str | None:
        for text in reversed(self.context):
            found = _CONTEXT_ID.findall(text)
            if found:
                return str(found[-1])
        found_numbers = numbers(self.task)
        return str(int(found_numbers[0])) if found_numbers else None

    def number(self, name: str, schema: dict[str, Any], integer: bool) -> float | int | None:
        parts = set(words(name))
        value: float | None = None
        if "id" in parts:
            found = self.context_id()
            if found is not None and found.lstrip("-").isdigit():
                value = float(found)
        if value is None and self.numbers_left:
            value = self.numbers_left.pop(0)
        if value is None:
            default = schema.get("default", schema.get("minimum"))
            value = float(default) if isinstance(default, int | float) else None
        if value is None:
            return None
        return int(value) if integer else value

    def value(self, name: str, schema: Any, required: bool) -> Any:
        if not isinstance(schema, dict):
            return self.task if required else None
        if "enum" in schema and schema["enum"]:
            return schema["enum"][0] if required else None
        if "const" in schema:
            return schema["const"]
        kind = _kind(schema)
        if kind == "string":
            return self.string(name, schema, required)
        if kind in ("integer", "number"):
            return self.number(name, schema, kind == "integer") if required or numbers(self.task) else None
        if kind == "boolean":
            return bool(schema.get("default", False)) if required else None
        if kind == "array":
            if not required:
                return None
            items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
            if _kind(items or {}) == "string":
                return keywords(self.task)[:3]
            return []
        if kind == "object":
            return self.fill(schema) if required else None
        return None

    def fill(self, schema: dict[str, Any]) -> dict[str, Any]:
        raw_properties = schema.get("properties")
        properties: dict[str, Any] = raw_properties if isinstance(raw_properties, dict) else {}
        required = set(schema.get("required") or [])
        arguments: dict[str, Any] = {}
        for name, prop in properties.items():
            value = self.value(name, prop, name in required)
            if value is not None:
                arguments[name] = value
            elif name in required:
                arguments[name] = "" if _kind(prop if isinstance(prop, dict) else {}) == "string" else None
        return arguments


def fill_arguments(tool: ToolSpec, task: str, context: list[str]) -> dict[str, Any]:
    """Arguments for ``tool`` taken from its schema, the task text and earlier results."""
    text_numbers = numbers(task) if find_expression(task) is None else []
    filler = _Filler(task=task, tool=tool, context=context, numbers_left=text_numbers)
    return filler.fill(tool.parameters)
