"""producers/simulator: a deterministic simulated shop that emits the event stream.

>>> from producers.simulator import Simulator, SimulatorConfig
>>> sim = Simulator(SimulatorConfig(seed=42, n_products=50, n_users=20))
>>> events = list(sim.events(500))
>>> sim.tally.to_dict()["events"], events[0].payload.type
(500, 'product.upserted')
"""

from producers.simulator.catalogue import Product
from producers.simulator.queries import QueryIntent, generate_queries
from producers.simulator.specs import SPEC_BY_KEY, SUBCATEGORIES, TOP_CATEGORIES, SubcategorySpec
from producers.simulator.tastes import TasteModel, UserTaste, load_tastes
from producers.simulator.world import DEFAULT_START, Simulator, SimulatorConfig, Tally, World, new_run_id

__all__ = [
    "DEFAULT_START",
    "SPEC_BY_KEY",
    "SUBCATEGORIES",
    "TOP_CATEGORIES",
    "Product",
    "QueryIntent",
    "Simulator",
    "SimulatorConfig",
    "SubcategorySpec",
    "Tally",
    "TasteModel",
    "UserTaste",
    "World",
    "generate_queries",
    "load_tastes",
    "new_run_id",
]
