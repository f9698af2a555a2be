"""The FastAPI application: thin, read-only over the consumers' SQLite files and snapshots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.guards import BodySizeLimit
from api.routes import events, health, metrics, pages, products, recommendations, search
from api.services.catalog import CatalogService
from api.services.metrics import MetricsService
from api.services.reco import RecoService
from infra.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    catalog = CatalogService(settings)
    reco = RecoService(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        catalog.start()
        reco.start()
        try:
            yield
        finally:
            reco.stop()
            catalog.stop()

    app = FastAPI(title="shopstream", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.reco = reco
    app.state.metrics = MetricsService(settings)
    app.state.personalizer = reco  # search boosts from the recommender's user profiles
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)  # 413 on every route

    @app.exception_handler(ValueError)
    async def bad_value(_request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(products.router)
    app.include_router(recommendations.router)
    app.include_router(metrics.router)
    app.include_router(events.router)
    app.include_router(pages.router)
    app.mount("/static", pages.static_files(), name="static")
    return app
