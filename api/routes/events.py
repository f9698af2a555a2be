"""The API's one write: a shopper's click, put on Kafka like every other event.

The API never writes state itself. `POST /events/click` validates the body with the events schema,
wraps it in an envelope and hands it to an `EventSink` (one per app, created on first use, closed
when the app shuts down); the consumers apply it from the `clicks` topic as they do any click.

It is the web page's click path, open to anonymous callers and built so that it cannot be abused:
the browser never holds the operator's token.

- **Only clicks on products that exist**: the product must be live in the catalog read model
  (422 otherwise, so a made-up id can never become a "popular" item).
- **Rate-limited per client** (`SHOPSTREAM_CLICK_RATE_LIMIT`; 429 with `Retry-After`). A caller
  with the operator's token (`Authorization: Bearer $SHOPSTREAM_API_TOKEN`: load tools, scripts)
  is not limited; a wrong token is 401, never a silent fallback to the anonymous path.
- **Idempotent**: the body's `event_id` (a UUID the client makes once per click and repeats on
  every retry) becomes the event's id, and every consumer counts an event id once, so a retry after
  a timeout or a 503 -- when the first attempt may have reached Kafka after all -- is counted once.
- Bodies are size-limited for every route (`api.guards.BodySizeLimit`, 413).

Status codes: 202 with the event id once Kafka has acknowledged the event; 401 for a wrong token;
422 for a body that is not a valid click or names an unknown product; 429 over the rate limit;
503 when the catalog cannot be read or Kafka cannot be reached or does not acknowledge in time
(never 500).
"""

from __future__ import annotations

import logging
import secrets
import socket
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from kafka.errors import KafkaError

from api.deps import Catalog, SettingsDep
from api.guards import ClickRateLimit, client_address
from api.schemas import ClickAccepted, ClickRequest, problems
from api.services.catalog import CatalogUnavailable
from events import Click, make_event
from infra.producer import EventSink
from readmodels.catalog.store import get_product

log = logging.getLogger(__name__)

# How long a request waits for Kafka: to open a TCP connection to a bootstrap server, and for the
# broker's acknowledgement of the event.
CONNECT_TIMEOUT_S = 2.0
ACK_TIMEOUT_S = 10.0


class _Sinks:
    """The app's one sink, created lazily (the API starts without Kafka) and closed on shutdown."""

    def __init__(self) -> None:
        self.sink: EventSink | None = None
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            sink, self.sink = self.sink, None
        if sink is not None:
            try:
                sink.close()
            except Exception:  # shutting down: report, do not raise
                log.exception("closing the click sink failed")


_holder_lock = threading.Lock()


def _sinks(app: FastAPI) -> _Sinks:
    with _holder_lock:
        holder: _Sinks | None = getattr(app.state, "click_sinks", None)
        if holder is None:
            holder = app.state.click_sinks = _Sinks()
        return holder


def _rate_limit(app: FastAPI) -> ClickRateLimit:
    with _holder_lock:
        limit: ClickRateLimit | None = getattr(app.state, "click_rate_limit", None)
        if limit is None:
            limit = app.state.click_rate_limit = ClickRateLimit(app.state.settings.click_rate_limit)
        return limit


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    _rate_limit(app)  # a malformed SHOPSTREAM_CLICK_RATE_LIMIT stops the start, with its message
    try:
        yield
    finally:
        holder: _Sinks | None = getattr(app.state, "click_sinks", None)
        if holder is not None:
            holder.close()


router = APIRouter(prefix="/events", tags=["events"], lifespan=_lifespan)
bearer = HTTPBearer(auto_error=False, description="Optional: SHOPSTREAM_API_TOKEN, as `Authorization: Bearer <token>`, "
                                                   "lifts the per-client rate limit.")


def click_caller(
    request: Request, settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Who is clicking: "operator" (the right bearer token: not rate-limited) or the client's
    address (rate-limited). Runs before the body is validated, so a flood of bad bodies is limited too."""
    if credentials is not None:
        challenge = {"WWW-Authenticate": "Bearer"}
        if not settings.api_token:
            raise HTTPException(401, "this server has no operator token; send the click without "
                                     "an Authorization header", headers=challenge)
        if not secrets.compare_digest(credentials.credentials.encode(), settings.api_token.encode()):
            raise HTTPException(401, "wrong bearer token (see SHOPSTREAM_API_TOKEN); "
                                     "send none to use the anonymous, rate-limited path", headers=challenge)
        return "operator"
    client = client_address(request)
    verdict = _rate_limit(request.app).hit(client)
    if not verdict.allowed:
        raise HTTPException(
            429, f"too many clicks from {client}: at most {verdict.limit}; retry in {verdict.retry_after_s} s "
                 "with the same event_id", headers={"Retry-After": str(verdict.retry_after_s)})
    return client


def require_product(catalog: Catalog, product_id: str) -> None:
    """A click must name a product that is live in the catalog read model."""
    try:
        row = get_product(catalog.conn(), product_id)
    except CatalogUnavailable as exc:
        raise HTTPException(503, f"cannot check the product, the click was not recorded: {exc}") from None
    except sqlite3.Error as exc:
        raise HTTPException(503, f"cannot read the catalog ({exc}); the click was not recorded") from None
    if row is None:
        raise HTTPException(422, f"unknown product {product_id!r}: a click must name a product in the catalog "
                                 "(it may not exist, or have been removed)")


def _reachable(bootstrap: str, timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether any bootstrap server accepts a TCP connection: a quick check before building a
    producer, which otherwise takes its full bootstrap timeout (30 s) to give up."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            continue
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


def _unavailable(bootstrap: str, what: str) -> HTTPException:
    return HTTPException(503, f"{what}: Kafka at {bootstrap} is not reachable; the click was not recorded")


def _sink(request: Request, bootstrap: str, topic_prefix: str) -> EventSink:
    holder = _sinks(request.app)
    with holder.lock:
        if holder.sink is None:
            if not _reachable(bootstrap):
                raise _unavailable(bootstrap, "cannot connect")
            try:
                # No failed-events file: a click that is not confirmed gets a 503, and its sender
                # may send it again; writing it down as well could record it twice.
                holder.sink = EventSink(bootstrap, topic_prefix, linger_ms=0)
            except KafkaError as exc:
                raise _unavailable(bootstrap, f"cannot start a producer ({exc})") from None
        return holder.sink


@router.post(
    "/click", status_code=202, response_model=ClickAccepted, responses=problems(401, 413, 422, 429, 503),
    # The bearer token is optional: `{}` says that anonymous callers are welcome too.
    openapi_extra={"security": [{}]},
)
def click(
    request: Request, settings: SettingsDep, catalog: Catalog, body: ClickRequest,
    caller: Annotated[str, Depends(click_caller)],
) -> ClickAccepted:
    """Record a click from the web page (or any client) as a `click` event.

    Body: `{event_id, user_id, product_id, session_id, source: search|recommendation|browse, position,
    query}`; `event_id` is the idempotency key (send the same one again on a retry). Anonymous
    callers are rate-limited per address; the operator's bearer token lifts the limit. Returns 202
    with the event id once Kafka has acknowledged it.
    """
    require_product(catalog, body.product_id)
    payload = Click.model_validate(body.model_dump(exclude={"event_id"}))
    event = make_event(payload, event_id=body.event_id)
    sink = _sink(request, settings.bootstrap, settings.topic_prefix)
    holder = _sinks(request.app)
    try:
        # One send at a time, so that a failure counted by the sink is this event's.
        with holder.send_lock:
            failed_before = sink.failed
            sink.send(event)
            sink.producer.flush(timeout=ACK_TIMEOUT_S)
            failed = sink.failed > failed_before
    except KafkaError as exc:
        # A timeout leaves the event queued in the producer, which keeps retrying; it is not
        # confirmed, so the caller hears 503 and sends it again with the same event id.
        raise HTTPException(
            503,
            f"Kafka at {settings.bootstrap} did not acknowledge the click within {ACK_TIMEOUT_S:g} s ({exc}); "
            "it is not confirmed: send it again with the same event_id",
        ) from None
    if failed:
        raise HTTPException(503, f"Kafka at {settings.bootstrap} rejected the click; it was not recorded")
    log.debug("click %s from %s", event.event_id, caller)
    return ClickAccepted(accepted=True, event_id=str(event.event_id), type=event.type.value)
