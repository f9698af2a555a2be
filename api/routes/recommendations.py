from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import Catalog, Reco
from api.schemas import (
    ModelsResponse,
    RecommendationsResponse,
    RecommendedItem,
    ServingModel,
    UserProfile,
    problems,
)
from api.services.catalog import CatalogUnavailable
from api.services.reco import RecoUnavailable
from models.reco.serving import ExcludePolicy
from readmodels.catalog.store import get_products_by_id
from readmodels.learner.model import snapshot_infos

router = APIRouter(tags=["recommendations"])

UserId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/recommendations/{user_id}", response_model=RecommendationsResponse, responses=problems(422, 503))
def recommendations(
    reco: Reco,
    catalog: Catalog,
    user_id: UserId,
    k: Annotated[int, Query(ge=1, le=100, description="How many items (1-100).")] = 10,
    exclude: Annotated[ExcludePolicy | None, Query(
        description="Leave out what the user already has: seen (clicked, rated or bought), bought, or none. "
                    "Default: SHOPSTREAM_RECO_EXCLUDE (seen).")] = None,
) -> RecommendationsResponse:
    """Personal recommendations, each with a reason; trending items for a user with no history."""
    policy: ExcludePolicy = exclude or reco.settings.reco_exclude
    try:
        recs, live = reco.recommend(user_id, k, policy)
    except RecoUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    try:
        products = get_products_by_id(catalog.conn(), [r.item_id for r in recs])
    except CatalogUnavailable:
        products = {}
    results = []
    for r in recs:
        item = RecommendedItem(product_id=r.item_id, score=round(r.score, 6), reason=r.reason)
        if r.item_id in products:
            p = products[r.item_id]
            item = item.model_copy(update={"name": p.name, "brand": p.brand, "category": p.category,
                                           "price": p.price, "in_stock": p.stock > 0})
        results.append(item)
    return RecommendationsResponse(user_id=user_id, model_version=live.version,
                                   events_trained=live.model.events_trained, exclude=policy, results=results)


@router.get("/users/{user_id}", response_model=UserProfile, responses=problems(422, 503))
def user(reco: Reco, user_id: UserId) -> UserProfile:
    """What the recommender knows of a user: recent items, category / brand / price affinities."""
    try:
        return UserProfile.model_validate(reco.profile(user_id))
    except RecoUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


@router.get("/models", response_model=ModelsResponse)
def models(reco: Reco) -> ModelsResponse:
    """Stored model versions with the prequential figures at the time, and the live figures now."""
    live = reco.live
    serving = None if live is None else ServingModel(
        version=live.version, events_trained=live.model.events_trained, log_seq=live.seq)
    return ModelsResponse(serving=serving, versions=snapshot_infos(reco.snapshot_dir), prequential=reco.prequential())
