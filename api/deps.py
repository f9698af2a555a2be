"""Dependencies shared by the routes: settings and read-only SQLite connections."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.services.catalog import CatalogService
from api.services.reco import RecoService
from api.services.search import Personalizer
from infra.config import Settings
from infra.sqlite import connect_reader


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def store_db(settings: SettingsDep) -> Iterator[sqlite3.Connection]:
    path = settings.sqlite_path("store")
    try:
        conn = connect_reader(path)
    except sqlite3.OperationalError:
        raise HTTPException(
            503, f"the store database {path} does not exist yet: is the `store` consumer running?"
        ) from None
    try:
        yield conn
    finally:
        conn.close()


StoreDb = Annotated[sqlite3.Connection, Depends(store_db)]


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
