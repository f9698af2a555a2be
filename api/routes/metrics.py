from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import Reco
from api.schemas import Metrics
from api.services.metrics import MetricsService

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_model=Metrics)
def metrics(request: Request, reco: Reco) -> Metrics:
    """Consumer lag, throughput, freshness and prequential model quality, as measured now."""
    service: MetricsService = request.app.state.metrics
    return Metrics.model_validate(service.snapshot(reco.prequential()))
