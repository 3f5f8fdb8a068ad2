"""A response sent before its request's body was read closes the connection (the server does
not drain megabytes it will never use); a request read to the end keeps it open."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from venapath.api.middleware import BodyLimitMiddleware

CHUNK = b"x" * 65_536


async def refuse_at_once(scope: Scope, receive: Receive, send: Send) -> None:
    """Like a 401 from authentication: the body is never read."""
    await send({"type": "http.response.start", "status": 401, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def read_then_answer(scope: Scope, receive: Receive, send: Send) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _headers_sent(app: Any, headers: list[tuple[bytes, bytes]], chunks: int) -> dict[bytes, bytes]:
    scope = {"type": "http", "method": "POST", "path": "/api/v1/evaluate", "headers": headers}
    remaining = [
        {"type": "http.request", "body": CHUNK, "more_body": i < chunks - 1} for i in range(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return remaining.pop(0) if remaining else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(BodyLimitMiddleware(app, max_bytes=4_000_000)(scope, receive, send))
    return dict(sent[0]["headers"])


@pytest.mark.parametrize(
    "body_headers",
    [[(b"content-length", str(len(CHUNK) * 8).encode())], [(b"transfer-encoding", b"chunked")]],
    ids=["content-length", "chunked"],
)
def test_a_refusal_before_the_body_is_read_closes_the_connection(
    body_headers: list[tuple[bytes, bytes]],
) -> None:
    assert _headers_sent(refuse_at_once, body_headers, chunks=8).get(b"connection") == b"close"


def test_a_request_read_to_the_end_keeps_the_connection() -> None:
    headers = [(b"content-length", str(len(CHUNK) * 8).encode())]
    assert b"connection" not in _headers_sent(read_then_answer, headers, chunks=8)


def test_a_refused_request_without_a_body_keeps_the_connection() -> None:
    assert b"connection" not in _headers_sent(refuse_at_once, [(b"content-length", b"0")], 1)
    assert b"connection" not in _headers_sent(refuse_at_once, [], chunks=1)
