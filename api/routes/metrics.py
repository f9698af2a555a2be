from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import Reco
from api.services.metrics import MetricsService

router = APIRouter(tags=["operations"])


@router.get("/metrics")
def metrics(request: Request, reco: Reco) -> dict[str, Any]:
    """Consumer lag, throughput, freshness and prequential model quality, as measured now."""
    service: MetricsService = request.app.state.metrics
    return service.snapshot(reco.prequential())
