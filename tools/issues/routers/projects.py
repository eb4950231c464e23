"""Projects: the containers issues are filed under (their key prefixes issue ids)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from tools.service_kit.dependencies import IdempotencyKey, require_api_key

from ..schemas import Project, ProjectCreate, ProjectList, error_responses
from ..store import IssueStore, ProjectRecord

__all__ = ["router"]

router = APIRouter(
    prefix="/projects",
    tags=["projects"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(),
)


def _store(request: Request) -> IssueStore:
    store: IssueStore = request.app.state.store
    return store


Store = Annotated[IssueStore, Depends(_store)]


def _project(record: ProjectRecord) -> Project:
    return Project(
        key=record.key,
        name=record.name,
        description=record.description,
        created_at=record.created_at,
        open_issues=record.open_issues,
        total_issues=record.total_issues,
    )


@router.post(
    "",
    operation_id="createProject",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Create a project",
    description="Create a project to file issues under. Its key (2-10 uppercase letters or digits, "
    "starting with a letter) prefixes the ids of its issues. A key that exists already gives 409.",
)
def create_project(body: ProjectCreate, store: Store) -> Project:
    return _project(store.create_project(key=body.key, name=body.name, description=body.description))


@router.get(
    "",
    operation_id="listProjects",
    summary="List all projects",
    description="Every project with its key and how many issues are open.",
)
def list_projects(store: Store) -> ProjectList:
    return ProjectList(items=[_project(p) for p in store.list_projects()])


@router.get(
    "/{project_key}",
    operation_id="getProject",
    summary="Read one project",
    responses=error_responses("No project has this key."),
    description="The project with this key and its issue counts.",
)
def get_project(project_key: Annotated[str, Path(max_length=10, examples=["ENG"])], store: Store) -> Project:
    return _project(store.get_project(project_key))
