"""From a spec document to named, checked functions: the conversion pipeline.

load -> (Swagger 2.0 upgrade) -> per operation: validate with openapi-pydantic, draft
arguments and bindings, finish the schema, derive the strict variant -> name. An
operation that fails any step is skipped with its reason; only a document that is not
OpenAPI at all fails the whole spec.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx
from openapi_pydantic.v3.v3_0 import Operation as Operation30
from openapi_pydantic.v3.v3_1 import Operation as Operation31
from pydantic import ValidationError

from .documents import parse_document, read_source
from .errors import OperationError, RefError, SpecLoadError
from .models import Problem, ToolFunction, WaitSpec
from .naming import base_name, dedupe
from .operations import OperationDraft, draft_operation
from .refs import Resolver, escape_pointer
from .schemas import SchemaCompiler
from .shaping import finish, json_size
from .strict import to_strict
from .swagger2 import upgrade_swagger2

__all__ = ["ConversionOptions", "ConvertedSpec", "convert_document", "load_and_convert"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_OPERATIONS = 20_000
"""Most operations converted from one spec; the rest are reported."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConversionOptions:
    """What the registry says about one tool's conversion."""

    tool: str = ""
    auth: Mapping[str, str] = dataclasses.field(default_factory=dict)
    include_tags: Sequence[str] = ()
    include_operations: Sequence[str] = ()
    include_methods: Sequence[str] = ()
    exclude_tags: Sequence[str] = ()
    exclude_operations: Sequence[str] = ()
    exclude_methods: Sequence[str] = ()
    approval: str = "safe-methods"
    approval_overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)
    waits: Mapping[str, WaitSpec] = dataclasses.field(default_factory=dict)
    """The registry's waits by operationId; they win over a spec's x-toolmesh-wait."""
    allowed_hosts: Sequence[str] = ()
    include_deprecated: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConvertedSpec:
    """The functions of one spec and every operation that was skipped."""

    source: str
    title: str
    functions: list[ToolFunction]
    problems: list[Problem]


def load_and_convert(
    source: str, options: ConversionOptions | None = None, *, client: httpx.Client | None = None
) -> ConvertedSpec:
    """Read `source` (file or URL), then convert it; raises SpecLoadError."""
    document = parse_document(read_source(source, client=client), source)
    return convert_document(document, source, options, client=client)


def _selected(draft: OperationDraft, options: ConversionOptions) -> bool:
    op_id, method, tags = draft.operation_id, draft.method.lower(), set(draft.tags)
    if options.include_operations and op_id not in options.include_operations:
        return False
    if options.include_methods and method not in {m.lower() for m in options.include_methods}:
        return False
    if options.include_tags and not tags & set(options.include_tags):
        return False
    if op_id and op_id in options.exclude_operations:
        return False
    if method in {m.lower() for m in options.exclude_methods}:
        return False
    return not tags & set(options.exclude_tags)


def _approval(draft: OperationDraft, options: ConversionOptions) -> tuple[bool, bool]:
    """Whether a call asks a person first, and whether that is demanded (no run may waive it).

    A demand is the spec's ``x-toolmesh-approval: required`` or the registry's ``always``; the
    safe-methods default is a policy a run may relax.
    """
    if draft.approval is not None:
        required = draft.approval == "required"
        return required, required
    override = options.approval_overrides.get(draft.operation_id)
    policy = override or options.approval
    if policy in ("always", "required"):
        return True, True
    if policy == "never":
        return False, False
    return draft.method not in SAFE_METHODS, False


def convert_document(
    document: Any,
    source: str,
    options: ConversionOptions | None = None,
    *,
    client: httpx.Client | None = None,
) -> ConvertedSpec:
    """Convert a parsed spec; raises SpecLoadError when it is not OpenAPI 3.x / Swagger 2.0."""
    options = options or ConversionOptions()
    tool = options.tool or None
    if not isinstance(document, dict):
        raise SpecLoadError(source, "", "a spec must be a mapping at the top level")
    if str(document.get("swagger", "")).startswith("2."):
        document = upgrade_swagger2(document)
    version = str(document.get("openapi", ""))
    if not version.startswith("3."):
        raise SpecLoadError(source, "/openapi", "not an OpenAPI 3.x or Swagger 2.0 document")
    paths = document.get("paths")
    if paths is None:
        paths = {}
    if not isinstance(paths, dict):
        raise SpecLoadError(source, "/paths", "paths must be a mapping")
    resolver = Resolver(document, source, client=client, allowed_hosts=options.allowed_hosts)
    compiler = SchemaCompiler(resolver, openapi_version=version)
    components = document.get("components") if isinstance(document.get("components"), dict) else {}
    raw_schemes = components.get("securitySchemes")
    context = _Context(
        resolver=resolver,
        compiler=compiler,
        options=options,
        schemes=raw_schemes if isinstance(raw_schemes, dict) else {},
        root_security=document.get("security"),
        servers=document.get("servers"),
        operation_model=Operation30 if version.startswith("3.0") else Operation31,
    )
    problems: list[Problem] = []
    drafts: list[tuple[OperationDraft, dict[str, Any], str | None]] = []
    for count, (pointer, found) in enumerate(_operations(paths, resolver), start=1):
        try:
            if isinstance(found, _Skip):
                raise found
            if count > MAX_OPERATIONS:
                raise _Skip(f"more than {MAX_OPERATIONS} operations; skipped")
            converted = _convert_operation(context, pointer, *found)
        except _Skip as skip:
            problems.append(Problem(tool=tool, operation=skip.operation, pointer=pointer, reason=skip.reason))
            continue
        if converted is not None:
            drafts.append(converted)
    names = dedupe((base_name(d.operation_id, d.method, d.path), d.method, d.path) for d, _, _ in drafts)
    functions = [
        _function(d, schema, note, name, options) for (d, schema, note), name in zip(drafts, names, strict=True)
    ]
    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    return ConvertedSpec(source=source, title=str(info.get("title") or ""), functions=functions, problems=problems)


class _Skip(Exception):
    """An operation left out, with the reason reported for it."""

    def __init__(self, reason: str, operation: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.operation = operation


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Context:
    resolver: Resolver
    compiler: SchemaCompiler
    options: ConversionOptions
    schemes: dict[str, Any]
    root_security: Any
    servers: Any
    operation_model: type[Operation30] | type[Operation31]


_Found = tuple[str, str, dict[str, Any], str, dict[str, Any], str]
"""(path, method, path item, its document, operation, its document)."""


def _operations(paths: dict[str, Any], resolver: Resolver) -> Iterator[tuple[str, _Found | _Skip]]:
    """Every operation with its JSON pointer, its `$ref`s followed, or why it cannot be read."""
    doc = resolver.source
    for path, raw_item in paths.items():
        item_pointer = f"/paths/{escape_pointer(str(path))}"
        try:
            item, item_doc, _ = resolver.deref(raw_item, doc)
        except SpecLoadError as exc:
            yield item_pointer, _Skip(str(exc))
            continue
        if not isinstance(item, dict):
            yield item_pointer, _Skip("path item must be a mapping")
            continue
        for method in METHODS:
            if item.get(method) is None:
                continue
            pointer = f"{item_pointer}/{method}"
            try:
                op, op_doc, _ = resolver.deref(item[method], item_doc)
            except SpecLoadError as exc:
                yield pointer, _Skip(str(exc))
                continue
            if not isinstance(op, dict):
                yield pointer, _Skip("operation must be a mapping")
                continue
            yield pointer, (str(path), method, item, item_doc, op, op_doc)


def _convert_operation(
    context: _Context, pointer: str, path: str, method: str, item: dict[str, Any], item_doc: str,
    op: dict[str, Any], op_doc: str,
) -> tuple[OperationDraft, dict[str, Any], str | None] | None:  # fmt: skip
    """The draft and finished schema of one operation; None when filtered out; raises _Skip."""
    op_id = str(op.get("operationId") or "") or None
    if op.get("deprecated") is True and not context.options.include_deprecated:
        raise _Skip("deprecated; skipped", op_id)
    try:
        context.operation_model.model_validate({**op, "responses": {}})
        shared = item.get("parameters") or []
        draft = draft_operation(
            resolver=context.resolver, compiler=context.compiler, doc=op_doc, path=path, method=method, op=op,
            shared_params=[(p, item_doc) for p in shared] if isinstance(shared, list) else [],
            servers=item.get("servers") or context.servers,
            root_security=context.root_security, schemes=context.schemes, auth=context.options.auth,
        )  # fmt: skip
        if not _selected(draft, context.options):
            return None
        schema, note = finish(draft.schema, context.compiler.defs, context.compiler.failed)
    except ValidationError as exc:
        details = "; ".join(f"{'/'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
        raise _Skip(f"invalid operation: {details}", op_id) from None
    except OperationError as exc:
        raise _Skip(exc.reason, op_id) from None
    except RefError as exc:
        raise _Skip(str(exc), op_id) from None
    except RecursionError:
        raise _Skip("schema nested too deeply", op_id) from None
    return draft, schema, note


def _function(
    draft: OperationDraft, schema: dict[str, Any], note: str | None, name: str, options: ConversionOptions
) -> ToolFunction:
    strict_schema, strict_reason = to_strict(schema)
    needs_approval, approval_required = _approval(draft, options)
    fn = ToolFunction(
        name=name,
        tool=options.tool,
        operation_id=draft.operation_id,
        method=draft.method,
        path=draft.path,
        description=draft.description,
        parameters=schema,
        strict_parameters=strict_schema,
        strict_reason=strict_reason,
        needs_approval=needs_approval,
        approval_required=approval_required,
        callback=draft.callback,
        wait=options.waits.get(draft.operation_id, draft.wait),
        params=draft.params,
        body=draft.body,
        security=draft.security,
        schema_note=note,
        server_path=draft.server_path,
    )
    return with_size(fn)


def with_size(fn: ToolFunction) -> ToolFunction:
    """`fn` with its size report filled in (what the model reads, in characters and tokens)."""
    size = json_size(
        {
            "type": "function",
            "function": {"name": fn.name, "description": fn.description, "parameters": fn.parameters},
        }
    )
    return dataclasses.replace(fn, size_chars=size, approx_tokens=math.ceil(size / 4))
