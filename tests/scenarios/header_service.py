"""A tool with an argument sent as a header, to check what reaches a tool from the model's text."""

from __future__ import annotations

from fastapi import FastAPI, Header

app = FastAPI(title="headers", version="1.0.0")


@app.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/note", operation_id="echoNote", summary="Echo the note sent in the X-Note header")
def echo_note(x_note: str = Header(alias="X-Note")) -> dict[str, str]:
    return {"note": x_note}
