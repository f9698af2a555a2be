from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import Catalog
from api.schemas import Product, SimilarHit, SimilarResponse, problems
from api.services.catalog import CatalogUnavailable
from api.services.search import similar
from readmodels.catalog.store import get_product

router = APIRouter(prefix="/products", tags=["products"])

ProductId = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/{product_id}", response_model=Product, responses=problems(404, 422, 503))
def product(catalog: Catalog, product_id: ProductId) -> Product:
    """One product as the catalogue holds it now."""
    try:
        row = get_product(catalog.conn(), product_id)
    except CatalogUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    if row is None:
        raise HTTPException(404, f"no product {product_id!r} (it may not exist, or have been removed)")
    return Product.model_validate(row.to_dict())


@router.get("/{product_id}/similar", response_model=SimilarResponse, responses=problems(404, 422, 503))
def similar_products(
    catalog: Catalog, product_id: ProductId, k: Annotated[int, Query(ge=1, le=100)] = 10
) -> SimilarResponse:
    """The products nearest to this one in the embedding space, in stock first."""
    try:
        hits = similar(catalog, product_id, k)
    except CatalogUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    if hits is None:
        raise HTTPException(404, f"no product {product_id!r}")
    return SimilarResponse(
        product_id=product_id,
        results=[SimilarHit.model_validate({**h.product.to_dict(), "score": round(h.score, 6)}) for h in hits],
    )
