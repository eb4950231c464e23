"""Issues: file, find, discuss, change, close and delete work items.

Closing and deleting carry ``x-toolmesh-approval: required``: they end or erase work
other people may rely on, so a person confirms them before they happen.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from tools.service_kit.dependencies import IdempotencyKey, RequestClaim, require_api_key

from ..schemas import (
    CloseRequest,
    Comment,
    CommentCreate,
    DeletedIssue,
    Issue,
    IssueCreate,
    IssueDetail,
    IssuePage,
    IssueSearchHit,
    IssueSearchPage,
    IssueUpdate,
    Priority,
    State,
    error_responses,
)
from ..store import CommentRecord, IssueFilters, IssueRecord, IssueStore

__all__ = ["router"]

router = APIRouter(
    prefix="/issues", tags=["issues"], dependencies=[Depends(require_api_key)], responses=error_responses()
)

_UNKNOWN_ISSUE = error_responses("No issue has this id.")
_APPROVAL = {"x-toolmesh-approval": "required"}


def _store(request: Request) -> IssueStore:
    store: IssueStore = request.app.state.store
    return store


Store = Annotated[IssueStore, Depends(_store)]
IssueId = Annotated[str, Path(max_length=30, description="The issue's id: project key and number.", examples=["ENG-1"])]
ProjectFilter = Annotated[str | None, Query(max_length=10, description="Only issues of this project key.")]
StateFilter = Annotated[State | None, Query(description="Only issues in this state.")]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="How many matching issues to skip.")]


def _issue(record: IssueRecord) -> Issue:
    return Issue(**vars(record))


def _comment(record: CommentRecord) -> Comment:
    return Comment(id=record.id, author=record.author, body=record.body, created_at=record.created_at)


def _next_offset(offset: int, count: int, total: int) -> int | None:
    return offset + count if offset + count < total else None


@router.post(
    "",
    operation_id="createIssue",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    responses=error_responses("No project has this key."),
    summary="File a new issue",
    description="Create an issue, in the default project unless a project key is given (see listProjects). "
    "Returns it with its id, such as MAIN-7. New issues are in state todo unless another open state is "
    "given. Use searchIssues first to avoid filing a duplicate.",
)
def create_issue(body: IssueCreate, request: Request, store: Store, claim: RequestClaim) -> Issue:
    return _issue(
        store.create_issue(
            project=body.project or request.app.state.settings.default_project,
            title=body.title,
            description=body.description,
            state=body.state,
            priority=body.priority,
            assignee=body.assignee,
            labels=body.labels,
            claim=claim,
        )
    )


@router.get(
    "",
    operation_id="listIssues",
    summary="List issues, most urgent first",
    description="Page through issues, optionally only those of a project, state, assignee, label or "
    "priority. Sorted by priority (urgent first), then newest.",
)
def list_issues(
    store: Store,
    project: ProjectFilter = None,
    state: StateFilter = None,
    assignee: Annotated[str | None, Query(max_length=100, description="Only issues assigned to this person.")] = None,
    label: Annotated[str | None, Query(max_length=50, description="Only issues with this label.")] = None,
    priority: Annotated[Priority | None, Query(description="Only issues of this priority.")] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> IssuePage:
    filters = IssueFilters(project=project, state=state, assignee=assignee, label=label, priority=priority)
    records, total = store.page(filters, limit=limit, offset=offset)
    return IssuePage(
        items=[_issue(r) for r in records],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=_next_offset(offset, len(records), total),
    )


@router.get(
    "/search",
    operation_id="searchIssues",
    summary="Search issues by words, best match first",
    description="Full-text search over issue titles, descriptions and labels; issues matching any word "
    "are returned, ranked by relevance (title matches count most). Use it before createIssue to avoid "
    "filing a duplicate.",
)
def search_issues(
    store: Store,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=500,
            pattern=r"\w",
            examples=["checkout total"],
            description="Words to look for (at least one letter or digit).",
        ),
    ],
    project: ProjectFilter = None,
    state: StateFilter = None,
    limit: Limit = 10,
    offset: Offset = 0,
) -> IssueSearchPage:
    hits, total = store.search(q, IssueFilters(project=project, state=state), limit=limit, offset=offset)
    items = [IssueSearchHit(**vars(record), relevance=relevance) for record, relevance in hits]
    return IssueSearchPage(
        query=q,
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        next_offset=_next_offset(offset, len(hits), total),
    )


@router.get(
    "/{issue_id}",
    operation_id="getIssue",
    summary="Read one issue with its comments",
    responses=_UNKNOWN_ISSUE,
    description="The issue with this id and all its comments, oldest first.",
)
def get_issue(issue_id: IssueId, store: Store) -> IssueDetail:
    record = store.get_issue(issue_id)
    return IssueDetail(**vars(record), comments=[_comment(c) for c in store.comments(issue_id)])


@router.patch(
    "/{issue_id}",
    operation_id="updateIssue",
    summary="Change an issue",
    responses=_UNKNOWN_ISSUE,
    dependencies=[IdempotencyKey],
    description="Change the title, description, open state, priority, assignee or labels; fields left "
    "out keep their value. Setting an open state on a closed issue reopens it. Use closeIssue to close.",
)
def update_issue(issue_id: IssueId, body: IssueUpdate, store: Store) -> Issue:
    changes: dict[str, object] = body.model_dump(exclude_none=True)
    if changes.get("assignee") == "":
        changes["assignee"] = None
    return _issue(store.update_issue(issue_id, changes))


@router.post(
    "/{issue_id}/comments",
    operation_id="commentOnIssue",
    status_code=status.HTTP_201_CREATED,
    responses=_UNKNOWN_ISSUE,
    dependencies=[IdempotencyKey],
    summary="Comment on an issue",
    description="Add a comment to an issue, e.g. findings, a question or progress.",
)
def comment_on_issue(issue_id: IssueId, body: CommentCreate, store: Store) -> Comment:
    return _comment(store.add_comment(issue_id, author=body.author, body=body.body))


@router.post(
    "/{issue_id}/close",
    operation_id="closeIssue",
    summary="Close an issue as done or canceled",
    responses=_UNKNOWN_ISSUE,
    dependencies=[IdempotencyKey],
    openapi_extra=_APPROVAL,
    description="Close an open issue with resolution done or canceled, optionally with a closing "
    "comment. Needs a person's approval. Closing a closed issue gives 409.",
)
def close_issue(issue_id: IssueId, store: Store, body: CloseRequest | None = None) -> Issue:
    body = body or CloseRequest()
    return _issue(store.close_issue(issue_id, resolution=body.resolution, comment=body.comment, author=body.author))


@router.delete(
    "/{issue_id}",
    operation_id="deleteIssue",
    summary="Delete an issue for good",
    responses=_UNKNOWN_ISSUE,
    dependencies=[IdempotencyKey],
    openapi_extra=_APPROVAL,
    description="Permanently remove an issue and its comments. Prefer closeIssue; deleting cannot be "
    "undone and needs a person's approval.",
)
def delete_issue(issue_id: IssueId, store: Store) -> DeletedIssue:
    store.delete_issue(issue_id)
    return DeletedIssue(id=issue_id)
