"""Dependencies shared by the routes: the settings and the app's read-side services."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.services.catalog import CatalogService
from api.services.reco import RecoService
from api.services.search import Personalizer
from infra.config import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_catalog(request: Request) -> CatalogService:
    catalog: CatalogService = request.app.state.catalog
    return catalog


Catalog = Annotated[CatalogService, Depends(get_catalog)]


def get_personalizer(request: Request) -> Personalizer | None:
    personalizer: Personalizer | None = getattr(request.app.state, "personalizer", None)
    return personalizer


PersonalizerDep = Annotated[Personalizer | None, Depends(get_personalizer)]


def get_reco(request: Request) -> RecoService:
    reco: RecoService = request.app.state.reco
    return reco


Reco = Annotated[RecoService, Depends(get_reco)]
