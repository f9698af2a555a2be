"""The web page: `/` serves `api/static/index.html`, `/static/*` its script and style sheet.

The page needs no secret from the server: it records clicks through the anonymous, rate-limited
click path (`api/routes/events.py`); the operator's token is never handed to a browser.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["web page"])


def static_files() -> StaticFiles:
    """The page's script and style sheet, to mount at `/static`."""
    return StaticFiles(directory=STATIC_DIR)


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=_NO_CACHE)
