"""A tool that fails its first attempt at every job with a 500, then succeeds: a transient outage.

It counts attempts per Idempotency-Key, so a test can see that the retry reused the key.
"""

from __future__ import annotations

import os
from collections import Counter

from fastapi import FastAPI, Header, HTTPException, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict

app = FastAPI(title="flaky", version="1.0.0")
attempts: Counter[str] = Counter()
created: dict[str, dict[str, str]] = {}
api_key = APIKeyHeader(name="X-API-Key", scheme_name="ApiKeyAuth")


def _check(key: str) -> None:
    if key != os.environ.get("FLAKY_API_KEY", ""):
        raise HTTPException(401, "bad key")


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


@app.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/jobs", operation_id="createJob", status_code=201, summary="Create a scheduled job")
def create_job(
    job: JobIn, key: str = Security(api_key), idempotency_key: str | None = Header(default=None)
) -> dict[str, str]:
    _check(key)
    token = idempotency_key or job.name
    attempts[token] += 1
    if attempts[token] == 1:
        raise HTTPException(500, "temporary failure")
    return created.setdefault(token, {"id": f"job-{len(created) + 1}", "name": job.name})


@app.get("/attempts", operation_id="getAttempts", summary="How many attempts each job took")
def get_attempts(key: str = Security(api_key)) -> dict[str, int]:
    _check(key)
    return dict(attempts)
