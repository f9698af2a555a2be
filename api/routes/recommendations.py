from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import Catalog, Reco
from api.services.catalog import CatalogUnavailable
from api.services.reco import RecoUnavailable
from infra.catalog.store import get_products_by_id
from infra.learner.model import snapshot_infos

router = APIRouter(tags=["recommendations"])

UserId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/recommendations/{user_id}")
def recommendations(
    reco: Reco,
    catalog: Catalog,
    user_id: UserId,
    k: Annotated[int, Query(ge=1, le=100, description="How many items (1-100).")] = 10,
    exclude_bought: Annotated[bool, Query(description="Leave out what the user already bought.")] = True,
) -> dict[str, Any]:
    """Personal recommendations, each with a reason; trending items for a user with no history."""
    try:
        recs, live = reco.recommend(user_id, k, exclude_bought)
    except RecoUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    try:
        products = get_products_by_id(catalog.conn(), [r.item_id for r in recs])
    except CatalogUnavailable:
        products = {}
    results = []
    for r in recs:
        item: dict[str, Any] = {"product_id": r.item_id, "score": round(r.score, 6), "reason": r.reason}
        if r.item_id in products:
            p = products[r.item_id]
            item.update(name=p.name, brand=p.brand, category=p.category, price=p.price, in_stock=p.stock > 0)
        results.append(item)
    return {
        "user_id": user_id,
        "model_version": live.version,
        "events_trained": live.model.events_trained,
        "results": results,
    }


@router.get("/users/{user_id}")
def user(reco: Reco, user_id: UserId) -> dict[str, Any]:
    """What the recommender knows of a user: recent items, category / brand / price affinities."""
    try:
        return reco.profile(user_id)
    except RecoUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


@router.get("/models")
def models(reco: Reco) -> dict[str, Any]:
    """Stored model versions with the prequential figures at the time, and the live figures now."""
    live = reco.live
    return {
        "serving": None if live is None else {
            "version": live.version,
            "events_trained": live.model.events_trained,
            "trained_seq": live.trained_seq,
        },
        "versions": snapshot_infos(reco.snapshot_dir),
        "prequential": reco.prequential(),
    }
