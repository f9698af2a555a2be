"""The simulated world, pinned: a digest of what two configurations emit, computed from the code as it
was before the templates moved from Python into `producers/simulator/subcategories.toml`.

Benchmarks and tests compare runs across versions by seed, so moving the template data (or any other
refactoring of the simulator) must not change the world. If a change to the world is *intended*, say
so in the commit and re-pin: run this module with `-s` and copy the printed digests and tallies.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from events import encode
from producers.simulator import Simulator, SimulatorConfig

CLI_DEFAULT = SimulatorConfig(seed=42, n_products=400, n_users=300)
# Every catalogue change (new products, sell-outs, restocks, price changes, removals) within 6,000 events.
BUSY = SimulatorConfig(seed=5, n_products=60, n_users=30, max_stock=10, new_product_rate=0.01,
                       restock_rate=0.02, price_change_rate=0.01, remove_rate=0.01)

PINNED = {
    "cli-default": (
        CLI_DEFAULT, 5000,
        "05e1789d012b4f58d7b11c3cedae1b619b3fe0031272ac80f0fedb974c7a3df0",
        {"events": 5000, "by_type": {"product.upserted": 428, "product.removed": 1, "click": 4242, "order": 329},
         "products_alive": 410, "products_sold_out": 0, "products_removed": 1, "clicks": 4242,
         "clicks_by_source": {"search": 2071, "recommendation": 807, "browse": 1364}, "orders": 329,
         "order_lines": 501, "units_sold": 650, "order_total": "42545.02"},
    ),
    "busy": (
        BUSY, 6000,
        "da803c1ad2eadc637554dc20f2bbf18a4bb60f015972b7e95994c8517ebc00a3",
        {"events": 6000, "by_type": {"product.upserted": 371, "product.removed": 102, "click": 5136, "order": 391},
         "products_alive": 53, "products_sold_out": 0, "products_removed": 102, "clicks": 5136,
         "clicks_by_source": {"search": 2136, "recommendation": 1625, "browse": 1375}, "orders": 391,
         "order_lines": 443, "units_sold": 547, "order_total": "62163.09"},
    ),
}


def world_digest(config: SimulatorConfig, n_events: int) -> tuple[str, dict[str, object]]:
    """sha256 over the first `n_events` events as on the wire, then 100 generated queries with their
    judgements, then the users' hidden tastes; and the tally of the events."""
    sim = Simulator(config)
    digest = hashlib.sha256()
    for event in sim.events(n_events):
        digest.update(encode(event, stamp=False) + b"\n")
    for query, judged in sim.generate_queries(100, seed=1):
        digest.update(json.dumps([query, sorted(judged.items())]).encode() + b"\n")
    sim.tastes.as_of = "pinned"
    digest.update(json.dumps(sim.tastes.to_json(), sort_keys=True).encode())
    return digest.hexdigest(), json.loads(json.dumps(sim.tally.to_dict(), default=str))


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_same_seed_gives_the_same_world_as_before(name: str) -> None:
    config, n_events, pinned_digest, pinned_tally = PINNED[name]
    digest, tally = world_digest(config, n_events)
    print(f"{name}: {digest} {json.dumps(tally)}")
    assert tally == pinned_tally  # a readable diff first
    assert digest == pinned_digest
