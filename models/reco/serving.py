"""What is served: the one code path from a model to a user's list, used by the API and by the
learner's prequential evaluation alike, so that the figures describe what users get.

``exclude`` chooses what the list leaves out of what the user already has: ``"seen"`` (the
default: everything they clicked, rated or bought -- a list that repeats them is worth less),
``"bought"`` (only what they ordered) or ``"none"``.

>>> from models.reco.trending import TrendingPopularity
>>> from models.reco.base import Interaction
>>> m = TrendingPopularity()
>>> for item in ("a", "b", "c"):
...     m.add_item(item)
>>> for user, item, kind in [("u1", "a", "click"), ("u2", "a", "click"), ("u2", "b", "order")]:
...     m.learn_one(Interaction(user, item, kind, 1.0, 0.0))
>>> history = UserItems(seen={"a", "b"}, bought={"b"})
>>> [[r.item_id for r in serve(m, "u2", 3, policy, history)] for policy in ("seen", "bought", "none")]
[[], ['a'], ['a', 'b']]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from models.reco.base import Interaction, Recommendation, Recommender

ExcludePolicy = Literal["seen", "bought", "none"]
EXCLUDE_POLICIES: tuple[str, ...] = get_args(ExcludePolicy)
DEFAULT_EXCLUDE: ExcludePolicy = "seen"


@dataclass
class UserItems:
    """What one user already has: every item they interacted with, and those they ordered."""

    seen: set[str] = field(default_factory=set)
    bought: set[str] = field(default_factory=set)

    def add(self, interaction: Interaction) -> None:
        self.seen.add(interaction.item_id)
        if interaction.kind == "order":
            self.bought.add(interaction.item_id)


def exclusions(policy: ExcludePolicy, items: UserItems) -> set[str]:
    if policy == "seen":
        return items.seen
    if policy == "bought":
        return items.bought
    return set()


def serve(model: Recommender, user_id: str, k: int, policy: ExcludePolicy, items: UserItems) -> list[Recommendation]:
    """The list a user gets: ``model``'s top ``k`` without what ``policy`` leaves out."""
    return model.recommend(user_id, k, exclude=exclusions(policy, items))
