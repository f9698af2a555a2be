from __future__ import annotations

from fastapi import APIRouter

from api.deps import SettingsDep
from api.schemas import Health, Ping
from infra.config import CONSUMER_GROUPS

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(settings: SettingsDep) -> Health:
    """Liveness, and which consumer groups have written their state yet."""
    stores = {group: settings.sqlite_path(group).exists() for group in CONSUMER_GROUPS}
    return Health(status="ok", bootstrap_servers=settings.bootstrap, stores=stores)


@router.get("/ping", response_model=Ping)
def ping() -> Ping:
    """A bare endpoint: the baseline that benchmarks compare the real endpoints with."""
    return Ping(ok=True)
