"""Wire models of the notes service: what callers send and get back.

Requests forbid unknown keys so a misspelt field is a 422 naming it, not silently
ignored. Examples here end up in the OpenAPI spec, where a model reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "DeletedNote",
    "ErrorDetail",
    "Note",
    "NoteCreate",
    "NotePage",
    "NoteUpdate",
    "SearchHit",
    "SearchPage",
    "Tag",
]


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogate escapes)") from None
    return value


Title = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S"), AfterValidator(_encodable)]
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,49}$")]
RunId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")]

_TAGS_DESCRIPTION = "Labels for grouping and filtering (letters, digits and _.:/-, at most 20)."
_RUN_ID_DESCRIPTION = "The agent run this note belongs to; filter lists and searches by it."


def _unique(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


Tags = Annotated[list[Tag], Field(max_length=20, description=_TAGS_DESCRIPTION), AfterValidator(_unique)]


class NoteCreate(BaseModel):
    """A new note."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Grocery budget",
                    "content": "Weekly budget is 120 EUR; milk costs 1.19 EUR.",
                    "tags": ["budget", "groceries"],
                    "run_id": "run-42",
                }
            ]
        },
    )

    title: Title = Field(description="Short title saying what the note is about (not blank).")
    content: Annotated[str, Field(max_length=100_000), AfterValidator(_encodable)] = Field(
        default="", description="The note's text."
    )
    tags: Tags = []
    run_id: RunId | None = Field(default=None, description=_RUN_ID_DESCRIPTION)


class NoteUpdate(BaseModel):
    """Fields to change; the ones left out (or null) keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"content": "Weekly budget is 140 EUR.", "tags": ["budget"]}]},
    )

    title: Title | None = None
    content: Annotated[str, Field(max_length=100_000), AfterValidator(_encodable)] | None = None
    tags: Tags | None = None


class Note(BaseModel):
    """A stored note."""

    id: str = Field(description="The note's id, e.g. note_3f2a9c0d1b2e4f56.")
    title: str
    content: str
    tags: list[str]
    run_id: str | None
    created_at: datetime
    updated_at: datetime


class NotePage(BaseModel):
    """One page of notes, newest first."""

    items: list[Note]
    total: int = Field(description="How many notes match the filters in all pages.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page, or null on the last page.")


class SearchHit(Note):
    """A note that matched a search, with how well it matched."""

    relevance: float = Field(description="BM25 relevance; higher is a better match.")
    snippet: str = Field(description="Matching part of the content, matched words in [brackets].")


class SearchPage(BaseModel):
    """One page of search results, most relevant first."""

    query: str
    items: list[SearchHit]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class DeletedNote(BaseModel):
    """Confirmation that a note is gone."""

    id: str
    deleted: Literal[True] = True


class ErrorDetail(BaseModel):
    """Every error: a message, or for invalid input FastAPI's list of problems with their location."""

    detail: str | list[dict[str, Any]]
