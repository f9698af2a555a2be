"""The API's one write: a shopper's click, put on Kafka like every other event.

The API never writes state itself. `POST /events/click` validates the body with the events schema,
wraps it in an envelope and hands it to an `EventSink` (one per app, created on first use, closed
when the app shuts down); the consumers apply it from the `clicks` topic as they do any click.

Status codes: 202 with the event id once Kafka has acknowledged the event; 401 without the right
bearer token (`SHOPSTREAM_API_TOKEN`); 422 for a body that is not a valid click; 503 when Kafka
cannot be reached or does not acknowledge in time (never 500).
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from kafka.errors import KafkaError

from api.deps import SettingsDep
from api.schemas import ClickAccepted
from events import Click, make_event
from infra.producer import EventSink

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


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    try:
        yield
    finally:
        holder: _Sinks | None = getattr(app.state, "click_sinks", None)
        if holder is not None:
            holder.close()


router = APIRouter(prefix="/events", tags=["events"], lifespan=_lifespan)
bearer = HTTPBearer(auto_error=False, description="SHOPSTREAM_API_TOKEN, as `Authorization: Bearer <token>`.")


def require_token(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    """Writes need the API token. Runs before the body is validated: no token, no further detail."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(
            401, "missing bearer token: send `Authorization: Bearer <SHOPSTREAM_API_TOKEN>`", headers=challenge
        )
    if not secrets.compare_digest(credentials.credentials.encode(), settings.api_token.encode()):
        raise HTTPException(401, "wrong bearer token (see SHOPSTREAM_API_TOKEN)", headers=challenge)


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


@router.post("/click", status_code=202, dependencies=[Depends(require_token)], response_model=ClickAccepted)
def click(request: Request, settings: SettingsDep, body: Click) -> ClickAccepted:
    """Record a click from the web page (or any client holding the token) as a `click` event.

    Body: `{user_id, product_id, session_id, source: search|recommendation|browse, position, query}`.
    Returns 202 with the event id once Kafka has acknowledged it.
    """
    event = make_event(body)
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
        # confirmed, so the caller hears 503 and may send the click again.
        raise HTTPException(
            503,
            f"Kafka at {settings.bootstrap} did not acknowledge the click within {ACK_TIMEOUT_S:g} s ({exc}); "
            "it is not confirmed",
        ) from None
    if failed:
        raise HTTPException(503, f"Kafka at {settings.bootstrap} rejected the click; it was not recorded")
    return ClickAccepted(accepted=True, event_id=str(event.event_id), type=event.type.value)
