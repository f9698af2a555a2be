from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import SettingsDep
from infra.config import CONSUMER_GROUPS

router = APIRouter(tags=["health"])


@router.get("/health")
def health(settings: SettingsDep) -> dict[str, Any]:
    """Liveness, and which consumer groups have written their state yet."""
    stores = {group: settings.sqlite_path(group).exists() for group in CONSUMER_GROUPS}
    return {"status": "ok", "bootstrap_servers": settings.bootstrap, "stores": stores}


@router.get("/ping")
def ping() -> dict[str, bool]:
    """A bare endpoint: the baseline that benchmarks compare the real endpoints with."""
    return {"ok": True}
