"""Operator endpoints: `/metrics` (Prometheus text), `/metrics.json` (the shop page's strip),
`/ops` (the dashboard) and `/ops/data` (its figures: the last hour, kept server-side)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from api.routes.pages import STATIC_DIR
from api.schemas import Metrics, OpsData
from api.services.metrics import MetricsService
from api.services.prometheus import CONTENT_TYPE, PrometheusExposition

router = APIRouter(tags=["operations"])


def _service(request: Request) -> MetricsService:
    service: MetricsService = request.app.state.metrics
    return service


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
def metrics(request: Request) -> Response:
    """Prometheus text format: lag (records, seconds), offsets, Burrow status, events applied and
    dead-lettered, freshness histograms, HTTP request durations, prequential quality, versions."""
    exposition: PrometheusExposition = request.app.state.prometheus
    return Response(exposition.render(), media_type=CONTENT_TYPE)


@router.get("/metrics.json", response_model=Metrics)
def metrics_json(request: Request) -> Metrics:
    """The same figures as JSON, as of the lag sampler's last round (its age and `stale` say how old)."""
    return Metrics.model_validate(_service(request).snapshot())


@router.get("/ops", include_in_schema=False)
def ops_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "ops.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/ops/data", response_model=OpsData)
def ops_data(
    request: Request,
    since: Annotated[float | None, Query(ge=0, description="Only rounds after this time (Unix seconds).")] = None,
) -> dict[str, Any]:
    """The dashboard's figures: every sampling round of the last hour (or since `since`), the status
    of each group and partition now."""
    return _service(request).ops_data(since)
