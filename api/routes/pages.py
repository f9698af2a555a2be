"""The web page: `/` serves `api/static/index.html`, `/static/*` its script and style sheet, and
`/config` what the page needs to know from the server (the write token, on a local demo only).

How the page gets the token for `POST /events/click`: `GET /config` returns it only when all of
these hold, and otherwise returns `api_token: null` (the page then asks the operator to paste it):

- the API is configured to listen on a loopback address (`SHOPSTREAM_API_HOST`),
- the request comes from a loopback address, and
- the request's Host header names a loopback host (so that a web site that points its own name at
  127.0.0.1 -- DNS rebinding -- cannot read the token from the user's browser), and
- no proxy header says that the request was forwarded.

The trade-off: anyone who can open a connection on this machine can read the token, which is no
worse than the default token itself. It is a convenience for a local demo, not an access control
for a shared host: behind a reverse proxy on the same machine every request looks local, so a
deployment that is reachable from elsewhere must bind to a public address (which turns this off)
and hand the token to its operators some other way.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from api.deps import SettingsDep
from api.schemas import PageConfig

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_NO_CACHE = {"Cache-Control": "no-cache"}
_FORWARDED = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")

router = APIRouter(tags=["web page"])


def static_files() -> StaticFiles:
    """The page's script and style sheet, to mount at `/static`."""
    return StaticFiles(directory=STATIC_DIR)


def is_loopback(host: str | None) -> bool:
    """Whether `host` (an address or a name, maybe with a port or brackets) is this machine.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "[::1]:8000", "localhost:80", "10.0.0.1", "0.0.0.0", None)]
    [True, True, True, True, False, False, False]
    """
    if not host:
        return False
    host = host.strip()
    if host.startswith("["):  # [v6]:port
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # name:port or v4:port
        host = host.partition(":")[0]
    if host.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def may_see_token(request: Request, api_host: str) -> bool:
    """Whether this request may read the write token: see the module's docstring."""
    client = request.client.host if request.client else None
    return (
        is_loopback(api_host)
        and is_loopback(client)
        and is_loopback(request.headers.get("host"))
        and not any(h in request.headers for h in _FORWARDED)
    )


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=_NO_CACHE)


@router.get("/config", response_model=PageConfig)
def config(request: Request, settings: SettingsDep) -> PageConfig:
    """What the web page needs: the bearer token for clicks, only on a local demo (else null)."""
    local = may_see_token(request, settings.api_host)
    return PageConfig(
        api_token=settings.api_token if local else None,
        token_note=(
            "served because the API and this browser are both on this machine"
            if local
            else "the token is served to the page only on a local demo (API bound to and opened from localhost)"
        ),
    )
