"""Wire models of the mailbox service, including the callback it POSTs.

``from`` is a Python keyword, so the fields carrying it are named ``from_`` with the
alias ``from`` on the wire and in the spec.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "CALLBACK_TIMEOUT_SECONDS",
    "Delivery",
    "ErrorDetail",
    "Message",
    "MessagePage",
    "MessageSend",
    "ReplyCallback",
    "ReplyPost",
    "error_responses",
]

CALLBACK_TIMEOUT_SECONDS = 604_800
"""How long a run should wait for a reply before giving up: one week."""


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogate escapes)") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain more than whitespace")
    return value


_Readable = AfterValidator(_encodable)
Address = Annotated[str, StringConstraints(min_length=1, max_length=320, pattern=r"\S"), _Readable]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S"), _Readable]
Text = Annotated[str, StringConstraints(min_length=1, max_length=50_000), _Readable, AfterValidator(_not_blank)]


class MessageSend(BaseModel):
    """A message to a person, and where to deliver their reply."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "to": "dana@example.com",
                    "subject": "Approve the 598.80 EUR order?",
                    "body": "The order of 12 chairs comes to 598.80 EUR. Shall I place it?",
                    "callback_url": "http://127.0.0.1:7071/api/callbacks/run-42/call-7",
                }
            ]
        },
    )

    to: Address = Field(description="Who the message is for: a name or an email address.")
    subject: Subject = Field(description="One line saying what the message is about.")
    body: Text = Field(description="The message. Ask one clear question when you need an answer.")
    callback_url: Annotated[str, Field(max_length=2000, json_schema_extra={"format": "uri"})] | None = Field(
        default=None,
        description="Where the reply is POSTed when the person answers. Its origin must be allowed by the service.",
    )


class ReplyPost(BaseModel):
    """A person's answer to a message."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [{"reply": "Yes, order them.", "from": "dana@example.com"}]},
    )

    reply: Text = Field(description="The answer.")
    from_: Address | None = Field(
        default=None, alias="from", description="Who answered; defaults to the message's recipient."
    )


class ReplyCallback(BaseModel):
    """What the service POSTs to the callback_url when the person replies."""

    model_config = ConfigDict(populate_by_name=True)

    message_id: str
    from_: str = Field(alias="from", description="Who answered.")
    reply: str
    replied_at: datetime


class Delivery(BaseModel):
    """How far the reply's delivery to the callback_url has got."""

    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None
    delivered_at: datetime | None


class Message(BaseModel):
    """A message as the service shows it. Its callback_url is write-only: whoever holds it can answer
    for the person, so it is never shown back."""

    id: str = Field(description="The message's id, e.g. msg_3f2a9c0d1b2e4f56.")
    to: str
    subject: str
    body: str
    has_callback: bool = Field(description="Whether the reply is delivered to the callback_url given at send.")
    status: Literal["awaiting_reply", "replied"]
    created_at: datetime
    reply: str | None
    reply_from: str | None
    replied_at: datetime | None
    delivery: Delivery | None = Field(description="Null until there is a reply to deliver.")


class MessagePage(BaseModel):
    """One page of messages, newest first."""

    items: list[Message]
    total: int
    limit: int
    offset: int
    next_offset: int | None


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
