"""The FastAPI application: thin, read-only over the consumers' SQLite files and snapshots."""

from __future__ import annotations

from fastapi import FastAPI

from api.routes import health
from infra.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="shopstream", version="0.1.0")
    app.state.settings = settings or get_settings()
    app.include_router(health.router)
    return app
