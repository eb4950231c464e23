"""Wire models of the issues service: what callers send and get back.

Requests forbid unknown keys so a misspelt field is a 422 naming it. States and
priorities are enums in the spec, so a model sees every allowed value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "CloseRequest",
    "Comment",
    "CommentCreate",
    "DeletedIssue",
    "ErrorDetail",
    "Issue",
    "IssueCreate",
    "IssueDetail",
    "IssuePage",
    "IssueSearchHit",
    "IssueSearchPage",
    "IssueUpdate",
    "OpenState",
    "Priority",
    "Project",
    "ProjectCreate",
    "ProjectList",
    "State",
    "error_responses",
]


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogate escapes)") from None
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


State = Literal["backlog", "todo", "in_progress", "in_review", "done", "canceled"]
OpenState = Literal["backlog", "todo", "in_progress", "in_review"]
Priority = Literal["urgent", "high", "medium", "low", "none"]
ProjectKey = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,9}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S"), AfterValidator(_encodable)]
LongText = Annotated[str, Field(max_length=20_000), AfterValidator(_encodable)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=10_000, pattern=r"\S"), AfterValidator(_encodable)]
Person = Annotated[str, StringConstraints(max_length=100), AfterValidator(_encodable)]
Label = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,49}$")]
Labels = Annotated[
    list[Label],
    Field(max_length=20, description="Labels such as bug or frontend (letters, digits and _.:/-)."),
    AfterValidator(_unique),
]


class ProjectCreate(BaseModel):
    """A new project that issues are filed under."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"key": "ENG", "name": "Engineering", "description": "Product engineering work"}]
        },
    )

    key: ProjectKey = Field(description="Short uppercase key used in issue ids (ENG gives ENG-1, ENG-2...).")
    name: Name
    description: LongText = ""


class Project(BaseModel):
    key: str
    name: str
    description: str
    created_at: datetime
    open_issues: int = Field(description="Issues not done or canceled.")
    total_issues: int


class ProjectList(BaseModel):
    items: list[Project]


class IssueCreate(BaseModel):
    """A new issue."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "project": "ENG",
                    "title": "Checkout total is wrong for 12 items",
                    "description": "12 x 49.90 shows 598",
                    "priority": "high",
                    "assignee": "dana",
                    "labels": ["bug", "checkout"],
                }
            ]
        },
    )

    project: ProjectKey | None = Field(
        default=None,
        description="Key of the project to file the issue under (see listProjects); leave it out to use the "
        "default project (MAIN unless the service is configured otherwise).",
    )
    title: Name = Field(description="One line saying what is wrong or what to do.")
    description: LongText = ""
    state: OpenState = "todo"
    priority: Priority = "none"
    assignee: Person | None = Field(default=None, description="Who should work on it; null for nobody.")
    labels: Labels = []


class IssueUpdate(BaseModel):
    """Fields to change; the ones left out (or null) keep their value. Closing is closeIssue's job."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"state": "in_progress", "assignee": "dana"}]}
    )

    title: Name | None = None
    description: LongText | None = None
    state: OpenState | None = Field(default=None, description="A new open state; reopens a closed issue.")
    priority: Priority | None = None
    assignee: Person | None = Field(default=None, description="New assignee; an empty string unassigns.")
    labels: Labels | None = Field(default=None, description="Replaces all labels.")


class Issue(BaseModel):
    id: str = Field(description="Project key and number, e.g. ENG-7.")
    project: str
    title: str
    description: str
    state: State
    priority: Priority
    assignee: str | None
    labels: list[str]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    comment_count: int


class Comment(BaseModel):
    id: int
    author: str
    body: str
    created_at: datetime


class IssueDetail(Issue):
    """An issue with its comments, oldest first."""

    comments: list[Comment]


class CommentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"body": "Reproduced: 12 x 49.90 is 598.80, the page shows 598.", "author": "agent"}]
        },
    )

    body: Body = Field(description="The comment's text.")
    author: Annotated[Person, StringConstraints(min_length=1, pattern=r"\S")] = "agent"


class CloseRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"resolution": "done", "comment": "Fixed by rounding per line."}]},
    )

    resolution: Literal["done", "canceled"] = Field(
        default="done", description="done when the work is finished, canceled when it will not be done."
    )
    comment: Body | None = Field(default=None, description="Optional closing comment.")
    author: Annotated[Person, StringConstraints(min_length=1, pattern=r"\S")] = "agent"


class IssuePage(BaseModel):
    """One page of issues, most urgent first, then newest."""

    items: list[Issue]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class IssueSearchHit(Issue):
    relevance: float = Field(description="BM25 relevance; higher is a better match.")


class IssueSearchPage(BaseModel):
    query: str
    items: list[IssueSearchHit]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class DeletedIssue(BaseModel):
    id: str
    deleted: Literal[True] = True


class ErrorDetail(BaseModel):
    """Every error: a message, or for invalid input FastAPI's list of problems with their location."""

    detail: str | list[dict[str, Any]]


def error_responses(not_found: str | None = None) -> dict[int | str, dict[str, Any]]:
    """The error answers every protected operation can give, for the spec."""
    responses: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorDetail, "description": "The body could not be read (not UTF-8 JSON)."},
        401: {"model": ErrorDetail, "description": "Missing or wrong X-API-Key."},
        409: {
            "model": ErrorDetail,
            "description": "A conflict with the current state; the detail says which.",
        },
        413: {"model": ErrorDetail, "description": "Request body too large."},
        422: {"model": ErrorDetail, "description": "Invalid input; the detail names the problem."},
    }
    if not_found:
        responses[404] = {"model": ErrorDetail, "description": not_found}
    return responses
