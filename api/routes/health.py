"""Health, split the way Kubernetes splits it: `/health/live` (the process answers) and
`/health/ready` (the stores are readable and every consumer group is alive and not stalled; a 503
that names what is not). `/health` answers 200 with the same verdict, for people and old scripts."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import SettingsDep
from api.schemas import Health, Live, Ping, Ready
from api.services.metrics import MetricsService

router = APIRouter(tags=["health"])


def _ready(request: Request) -> Ready:
    service: MetricsService = request.app.state.metrics
    r = service.readiness()
    return Ready(status="ready" if r.ready else "not ready", ready=r.ready, problems=r.problems, notes=r.notes,
                 groups=r.groups)


@router.get("/health", response_model=Health)
def health(request: Request, settings: SettingsDep) -> Health:
    """Always 200 while the API runs; `status` is `ok` only when ready, else `degraded` with the problems."""
    ready = _ready(request)
    stores = {g: bool(f["store_readable"]) for g, f in ready.groups.items()}
    return Health(status="ok" if ready.ready else "degraded", bootstrap_servers=settings.bootstrap, stores=stores,
                  problems=ready.problems)


@router.get("/health/live", response_model=Live)
def live() -> Live:
    """Liveness: this process answers (restart it if not)."""
    return Live(status="live", pid=os.getpid())


@router.get("/health/ready", response_model=Ready, responses={503: {"model": Ready}})
def ready(request: Request) -> Ready | JSONResponse:
    """Readiness: 200 when every group's store is readable and its consumer is alive and not STALL, STOP
    or ERR; otherwise 503 naming each problem."""
    r = _ready(request)
    if r.ready:
        return r
    return JSONResponse(status_code=503, content=r.model_dump())


@router.get("/ping", response_model=Ping)
def ping() -> Ping:
    """A bare endpoint: the baseline that benchmarks compare the real endpoints with."""
    return Ping(ok=True)
