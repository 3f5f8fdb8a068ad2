"""ASGI middleware: a hard request-size limit and one structured access-log line per request.

The size limit is enforced on the bytes actually received, not only on Content-Length, so a
chunked upload cannot get past it. A response that starts before its request's body was read
to the end (a refusal: no credentials, too large, rate-limited, bad path) closes the
connection: the server stops receiving a body it will never use, instead of draining up to
`max_body_bytes` to keep the connection open. Hostile clients uploading megabytes that are
refused at the door then cost the machine (the event loop, the kernel, the loopback) almost
nothing. The access log records method, path, status, duration
and a request id; never bodies or query strings, which may hold patient data.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from venapath.api.errors import error_body
from venapath.errors import InputError, TooLargeError

access_log = logging.getLogger("venapath.access")


class BodyTooLargeError(TooLargeError):
    """The request body passed `max_bytes` while it was being received."""

    def __init__(self, limit: int) -> None:
        message = f"the request body is larger than {limit} bytes"
        super().__init__("", "request body bytes", limit, message)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _too_large(scope, send, self.max_bytes)
            return
        received = 0
        started = False
        body_unread = bool(declared) or _header(scope, b"transfer-encoding") is not None

        async def counting_receive() -> Message:
            nonlocal received, body_unread
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
                body_unread = bool(message.get("more_body", False))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if body_unread:
                    message = {**message, "headers": [*message.get("headers", []), CLOSE]}
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await _too_large(scope, send, self.max_bytes)


CLOSE = (b"connection", b"close")


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    """Answer 413 from the middleware (the app never saw the request), mapped like any error."""
    error = BodyTooLargeError(limit)
    body, media = error_body(
        scope.get("path", ""), 413, type(error).title, error.message, list(error.problems)
    )
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", media.encode()),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class UnstorableUrlMiddleware:
    """Refuse a NUL character in the path or query (422, naming which) before any route runs:
    a database refuses it, and a path id reaches SQL in every registry route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = _unstorable_part(scope)
            if where is not None:
                await _refuse_unstorable(scope, send, where)
                return
        await self.app(scope, receive, send)


def _unstorable_part(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    query = scope.get("query_string", b"").lower()
    if b"%00" in query or b"\x00" in query:
        return "query"
    return None


async def _refuse_unstorable(scope: Scope, send: Send, where: str) -> None:
    error = InputError.at(where, "contains a NUL character (%00), which cannot be stored")
    body, media = error_body(
        scope.get("path", ""), 422, type(error).title, error.message, list(error.problems)
    )
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", media.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                },
            )
