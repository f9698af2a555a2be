"""What keeps the API's writes from being abused: a size limit on every request body, and a rate
limit per client on the anonymous click path.

- :class:`BodySizeLimit` (ASGI middleware, every route): a request whose `Content-Length` is over
  `SHOPSTREAM_API_MAX_BODY_BYTES`, or whose streamed body grows past it, gets 413 with a message,
  before the application reads it (like Elasticsearch's `http.max_content_length`).
- :class:`ClickRateLimit`: at most `SHOPSTREAM_CLICK_RATE_LIMIT` (the `limits` notation, e.g.
  `20/second;600/minute`) anonymous clicks per client address, moving windows kept in memory, so
  per API process. Behind a reverse proxy the client address is the one uvicorn takes from the
  proxy's `X-Forwarded-For` (for proxies in `--forwarded-allow-ips`, by default 127.0.0.1).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.api_token import HOW_TO_SET, unsafe_token_reason
from infra.config import Settings


class BodyTooLarge(HTTPException):
    """Raised while the body streams in: FastAPI passes an HTTPException through as it is."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes (SHOPSTREAM_API_MAX_BODY_BYTES); send less")


class BodySizeLimit:
    """Answer 413 for a request body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            text = declared.decode("latin-1").strip()
            if not text.isdigit():
                await _answer(send, 400, f"invalid Content-Length header: {text[:40]!r}")
                return
            if int(text) > self.max_bytes:
                await _answer(send, 413, BodyTooLarge(self.max_bytes).detail)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:  # a route that read the body outside FastAPI's handling
            if started:
                raise
            await _answer(send, 413, exc.detail)


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0
    limit: str = ""


class ClickRateLimit:
    """Moving-window limits per client address (several, all must allow)."""

    def __init__(self, spec: str) -> None:
        try:
            self.items: list[RateLimitItem] = parse_many(spec)
        except ValueError as exc:
            raise ValueError(f"SHOPSTREAM_CLICK_RATE_LIMIT={spec!r} is not a rate limit "
                             f"such as '20/second;600/minute' ({exc})") from None
        if not self.items:
            raise ValueError(f"SHOPSTREAM_CLICK_RATE_LIMIT={spec!r} names no limit")
        self.spec = spec
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, client: str) -> Verdict:
        """Count one click from ``client`` if every limit allows it; else say when to retry."""
        for item in self.items:
            if not self._limiter.test(item, "click", client):
                reset = self._limiter.get_window_stats(item, "click", client).reset_time
                return Verdict(False, max(1, math.ceil(reset - time.time())), str(item))
        for item in self.items:
            self._limiter.hit(item, "click", client)
        return Verdict(True)


def client_address(scope_or_request: Any) -> str:
    client = getattr(scope_or_request, "client", None)
    return client.host if client is not None and client.host else "unknown"


def why_not_serve(settings: Settings) -> str | None:
    """Why a server with these settings must not start (outside development mode), or None.

    The operator's token must be set and strong (`infra.api_token`), and the click rate limit
    must parse."""
    problem = unsafe_token_reason(settings.api_token)
    if problem is not None:
        return f"{problem}: {HOW_TO_SET}"
    try:
        ClickRateLimit(settings.click_rate_limit)
    except ValueError as exc:
        return str(exc)
    return None
