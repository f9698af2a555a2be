"""A catalog built straight into SQLite for search benchmarks (the ingest path is benchmarked apart)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from tqdm import tqdm

from infra.config import Settings
from infra.sqlite import connect_writer, transaction
from producers.simulator.queries import CatalogueProduct
from producers.simulator.world import Simulator, SimulatorConfig
from readmodels.catalog import store
from readmodels.catalog.live_index import LiveIndex, build_embedder, embed_and_store, learns_from_catalogue, rebuild


class CatalogRow(CatalogueProduct, Protocol):
    """What a product needs to be written to the catalog (a simulated or a real-text product): what
    judging needs of it, and its name and price."""

    @property
    def name(self) -> str: ...
    @property
    def price(self) -> Any: ...


def build_catalog(
    settings: Settings, n_products: int, seed: int = 11, batch: int = 500
) -> tuple[Simulator, LiveIndex, float]:
    """Write `n_products` simulated products and their vectors to the catalog DB (as the `catalog`
    consumer does, in batches), build the index from them and save a snapshot.

    Returns the simulator (for queries and judgements), the index and the seconds the build took.
    """
    sim = Simulator(SimulatorConfig(seed=seed, n_products=n_products, n_users=10))
    live, seconds = write_catalog(settings, sim.catalogue(), batch, desc=f"catalog {n_products:,}")
    return sim, live, seconds


def write_catalog(settings: Settings, products: Sequence[CatalogRow], batch: int = 500,
                  desc: str = "catalog") -> tuple[LiveIndex, float]:
    """Write `products` and their vectors to the catalog DB as the `catalog` consumer does (in
    batches, embedded once each), build the index from the stored vectors and save a snapshot.
    Returns the index and the seconds the build took."""
    conn = connect_writer(settings.sqlite_path("catalog"))
    store.setup(conn)
    started = time.monotonic()
    # A learned embedder (LSA) is fitted on the whole catalogue by `rebuild`; a fixed one embeds as it goes.
    embedder = None if learns_from_catalogue(settings.embedder) else build_embedder(settings.embedder,
                                                                                    settings.embed_dims)
    bar = tqdm(total=len(products), desc=desc, unit="p", mininterval=1)
    for start in range(0, len(products), batch):
        with transaction(conn):
            written = []
            for i, p in enumerate(products[start:start + batch], start=start):
                w = store.write_product(
                    conn, product_id=p.product_id, name=p.name, description=p.description,
                    category_path=list(p.category_path), brand=p.brand, price=Decimal(str(p.price)),
                    attributes=dict(p.attributes), stock=getattr(p, "stock", 1), event_time=float(i),
                    produced_at=None,
                )
                if w is not None:
                    written.append(w)
            if embedder is not None:
                embed_and_store(conn, embedder, written)
        bar.update(len(written))
    bar.close()
    live = rebuild(conn, settings.embedder, settings.embed_dims, **settings.vector_index_params())
    live.save(settings.snapshot_dir("catalog"), offsets={})
    conn.close()
    return live, time.monotonic() - started
