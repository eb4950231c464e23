"""The notes resource: the agent's memory, scoped by run, tagged, searchable.

A call made for an agent run (the ``X-Toolmesh-Run-Id`` header the orchestrator sets) sees and
changes only that run's notes: a note it creates belongs to the run, another run's note does
not exist for it, and a ``run_id`` filter naming another run matches nothing. A caller outside
any run (no header) sees every note.

Routes are coroutines that hand their SQLite work to the database thread
(``Database.call``), so a request costs no thread-pool hand-off and the event loop
never waits for the database.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from tools.service_kit.dependencies import IdempotencyKey, RequestClaim, RunScope, require_api_key

from ..schemas import DeletedNote, ErrorDetail, Note, NoteCreate, NotePage, NoteUpdate, SearchHit, SearchPage
from ..store import NoteRecord, NoteStore
from ..store import SearchHit as StoredHit

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorDetail, "description": "The body could not be read (not UTF-8 JSON)."},
    401: {"model": ErrorDetail, "description": "Missing or wrong X-API-Key."},
    409: {
        "model": ErrorDetail,
        "description": "The Idempotency-Key is in use by a running request or was used for another request.",
    },
    413: {"model": ErrorDetail, "description": "Request body too large."},
    422: {"model": ErrorDetail, "description": "Invalid input; the detail names the problem."},
}
_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorDetail, "description": "No note has this id."}}

router = APIRouter(prefix="/notes", tags=["notes"], dependencies=[Depends(require_api_key)], responses=_ERRORS)


async def _store(request: Request) -> NoteStore:
    store: NoteStore = request.app.state.store
    return store


Store = Annotated[NoteStore, Depends(_store)]
NoteId = Annotated[
    str,
    Path(
        max_length=100,
        description="The note's id, as returned when it was created.",
        examples=["note_3f2a9c0d1b2e4f56"],
    ),
]
RunFilter = Annotated[str | None, Query(max_length=200, description="Only notes of this agent run.")]
TagFilter = Annotated[str | None, Query(max_length=50, description="Only notes carrying this tag.")]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="How many matching notes to skip.")]


def _note(record: NoteRecord) -> Note:
    return Note(
        id=record.id,
        title=record.title,
        content=record.content,
        tags=record.tags,
        run_id=record.run_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _run_filter(scope: str | None, asked: str | None) -> str | None:
    """The run a listing may show: the caller's own when it has one (None: no filter)."""
    return asked if scope is None else scope


def _outside(scope: str | None, asked: str | None) -> bool:
    """True when a run-scoped caller asks for another run's notes: it gets none."""
    return scope is not None and asked is not None and asked != scope


def _next_offset(offset: int, count: int, total: int) -> int | None:
    return offset + count if offset + count < total else None


@router.post(
    "",
    operation_id="createNote",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Save a new note",
    description="Store a note (title, text, tags) so it can be found again later with searchNotes or "
    "listNotes. Set run_id to keep notes of one agent run together. Returns the note with its id.",
)
async def create_note(body: NoteCreate, store: Store, scope: RunScope, claim: RequestClaim) -> Note:
    record = await store.database.call(
        store.create,
        title=body.title,
        content=body.content,
        tags=body.tags,
        run_id=scope or body.run_id,
        claim=claim,
    )
    return _note(record)


@router.get(
    "",
    operation_id="listNotes",
    summary="List notes, newest first",
    description="Page through notes, newest first, optionally only those of one run or one tag. "
    "Use searchNotes to find notes by their words.",
)
async def list_notes(
    store: Store,
    scope: RunScope,
    run_id: RunFilter = None,
    tag: TagFilter = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> NotePage:
    records: list[NoteRecord] = []
    total = 0
    if not _outside(scope, run_id):
        records, total = await store.database.call(
            store.page, run_id=_run_filter(scope, run_id), tag=tag, limit=limit, offset=offset
        )
    return NotePage(
        items=[_note(r) for r in records],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=_next_offset(offset, len(records), total),
    )


@router.get(
    "/search",
    operation_id="searchNotes",
    summary="Search notes by words, best match first",
    description="Full-text search over titles, contents and tags. Notes matching any of the words are "
    "returned, ranked by relevance (matches in the title count most); word forms are matched too "
    "(budget finds budgets). Filter by run_id or tag to narrow it.",
)
async def search_notes(
    store: Store,
    scope: RunScope,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=500,
            pattern=r"\w",
            description="Words to look for (at least one letter or digit).",
            examples=["grocery budget"],
        ),
    ],
    run_id: RunFilter = None,
    tag: TagFilter = None,
    limit: Limit = 10,
    offset: Offset = 0,
) -> SearchPage:
    hits: list[StoredHit] = []
    total = 0
    if not _outside(scope, run_id):
        hits, total = await store.database.call(
            store.search, q, run_id=_run_filter(scope, run_id), tag=tag, limit=limit, offset=offset
        )
    items = [SearchHit(**_note(h.note).model_dump(), relevance=h.relevance, snippet=h.snippet) for h in hits]
    return SearchPage(
        query=q,
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        next_offset=_next_offset(offset, len(hits), total),
    )


@router.get(
    "/{note_id}",
    operation_id="getNote",
    summary="Read one note",
    responses=_NOT_FOUND,
    description="Return the full note with this id.",
)
async def get_note(note_id: NoteId, store: Store, scope: RunScope) -> Note:
    return _note(await store.database.call(store.get, note_id, scope=scope))


@router.patch(
    "/{note_id}",
    operation_id="updateNote",
    summary="Change a note",
    responses=_NOT_FOUND,
    dependencies=[IdempotencyKey],
    description="Replace the title, the content or the tags of a note; fields left out keep their "
    "value. Tags given replace all existing tags.",
)
async def update_note(note_id: NoteId, body: NoteUpdate, store: Store, scope: RunScope) -> Note:
    record = await store.database.call(
        store.update, note_id, title=body.title, content=body.content, tags=body.tags, scope=scope
    )
    return _note(record)


@router.delete(
    "/{note_id}",
    operation_id="deleteNote",
    summary="Delete a note for good",
    responses=_NOT_FOUND,
    dependencies=[IdempotencyKey],
    openapi_extra={"x-toolmesh-approval": "required"},
    description="Permanently remove a note. This cannot be undone, so it needs a person's approval.",
)
async def delete_note(note_id: NoteId, store: Store, scope: RunScope) -> DeletedNote:
    await store.database.call(store.delete, note_id, scope=scope)
    return DeletedNote(id=note_id)
