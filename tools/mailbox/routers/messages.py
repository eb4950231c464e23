"""Messages to people: send one, read it, list them, and post the person's reply.

sendMessage declares an OpenAPI callback: when the reply is posted, the service POSTs
it to the message's callback_url. The orchestrator uses this to wait, durably and
for days if need be, for a person's answer.

A call made for an agent run (the ``X-Toolmesh-Run-Id`` header the orchestrator sets) sees only
the messages that run sent, and a callback_url is never shown to anyone, since it lets its holder
answer for the person. Posting a reply is the person's act: replyToMessage asks for approval
(``x-toolmesh-approval: required``) before any agent may call it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, status

from tools.service_kit.dependencies import IdempotencyKey, RequestClaim, RunScope, require_api_key

from ..callbacks import check_callback_url
from ..delivery import Deliverer
from ..schemas import (
    CALLBACK_TIMEOUT_SECONDS,
    Delivery,
    Message,
    MessagePage,
    MessageSend,
    ReplyCallback,
    ReplyPost,
    error_responses,
)
from ..store import MessageRecord, MessageStore

__all__ = ["router"]

router = APIRouter(
    prefix="/messages",
    tags=["messages"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(),
)

reply_callback = APIRouter()


@reply_callback.post(
    "{$request.body#/callback_url}",
    name="reply",
    operation_id="deliverReply",
    summary="The person's reply to a message",
    description="POSTed by the mailbox once per reply, retried with backoff until the receiver "
    "answers 2xx; an Idempotency-Key header (mailbox-reply-<message_id>) lets it drop repeats.",
)
def reply_callback_spec(body: ReplyCallback) -> None:
    """Only describes the callback in the spec; the mailbox never serves this route."""


def _store(request: Request) -> MessageStore:
    store: MessageStore = request.app.state.store
    return store


Store = Annotated[MessageStore, Depends(_store)]
MessageId = Annotated[
    str,
    Path(
        max_length=100,
        description="The message's id, as returned by sendMessage.",
        examples=["msg_3f2a9c0d1b2e4f56"],
    ),
]
_UNKNOWN = error_responses("No message has this id.")


def _deliverer(request: Request) -> Deliverer:
    deliverer: Deliverer = request.app.state.deliverer
    return deliverer


def _message(record: MessageRecord) -> Message:
    delivery = None
    if record.delivery is not None:
        d = record.delivery
        delivery = Delivery(state=d.state, attempts=d.attempts, last_error=d.last_error, delivered_at=d.delivered_at)
    return Message(
        id=record.id,
        to=record.to,
        subject=record.subject,
        body=record.body,
        has_callback=record.callback_url is not None,
        status="replied" if record.reply is not None else "awaiting_reply",
        created_at=record.created_at,
        reply=record.reply,
        reply_from=record.reply_from,
        replied_at=record.replied_at,
        delivery=delivery,
    )


@router.post(
    "",
    operation_id="sendMessage",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    callbacks=reply_callback.routes,
    openapi_extra={"x-toolmesh-callback-timeout": CALLBACK_TIMEOUT_SECONDS},
    summary="Send a message to a person and wait for the reply",
    description="Send a message to a person (by name or email address). When they reply, the reply "
    "(message_id, from, reply, replied_at) is POSTed to callback_url, so the caller can wait for it; "
    "a person may take days. Ask one clear question.",
)
def send_message(body: MessageSend, request: Request, store: Store, scope: RunScope, claim: RequestClaim) -> Message:
    if body.callback_url is not None:
        check_callback_url(body.callback_url, request.app.state.allowed_origins)
    return _message(
        store.send(
            to=body.to,
            subject=body.subject,
            body=body.body,
            callback_url=body.callback_url,
            run_id=scope,
            claim=claim,
        )
    )


@router.get(
    "",
    operation_id="listMessages",
    summary="List messages, newest first",
    description="Page through sent messages, optionally only those to one person or in one status.",
)
def list_messages(
    store: Store,
    scope: RunScope,
    to: Annotated[str | None, Query(max_length=320, description="Only messages to this person.")] = None,
    status: Annotated[
        Literal["awaiting_reply", "replied"] | None, Query(description="Only messages in this status.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="How many messages to skip.")] = 0,
) -> MessagePage:
    replied = None if status is None else status == "replied"
    records, total = store.page(to=to, replied=replied, limit=limit, offset=offset, scope=scope)
    return MessagePage(
        items=[_message(r) for r in records],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=offset + len(records) if offset + len(records) < total else None,
    )


@router.get(
    "/{message_id}",
    operation_id="getMessage",
    summary="Read a message and its reply",
    responses=_UNKNOWN,
    description="The message, its reply if there is one, and the reply's delivery.",
)
def get_message(message_id: MessageId, store: Store, scope: RunScope) -> Message:
    return _message(store.get(message_id, scope=scope))


@router.post(
    "/{message_id}/reply",
    operation_id="replyToMessage",
    summary="Post a person's reply to a message",
    responses=_UNKNOWN,
    dependencies=[IdempotencyKey],
    openapi_extra={"x-toolmesh-approval": "required"},
    description="Record the person's answer. The service then delivers it to the message's callback_url, "
    "retrying until it is received. A message takes one reply; a second one gives 409. This speaks for "
    "the person, so an agent's call waits for a person's approval.",
)
def reply_to_message(
    message_id: MessageId,
    body: ReplyPost,
    store: Store,
    scope: RunScope,
    deliverer: Annotated[Deliverer, Depends(_deliverer)],
) -> Message:
    record = store.reply(message_id, reply=body.reply, reply_from=body.from_, scope=scope)
    deliverer.wake()
    return _message(record)
