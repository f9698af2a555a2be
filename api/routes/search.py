from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse

from api.deps import Catalog, PersonalizerDep
from api.schemas import SearchResponse, problems
from api.services.catalog import CatalogUnavailable
from api.services.search import search
from models.search import Filters, Fusion, Mode

router = APIRouter(tags=["search"])

MAX_QUERY_CHARS = 10_000


@router.get("/search", response_model=SearchResponse, responses=problems(422, 503))
def search_products(
    catalog: Catalog,
    personalizer: PersonalizerDep,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="What the shopper typed.")] = "",
    k: Annotated[int, Query(ge=1, le=100, description="How many results (1-100).")] = 10,
    category: Annotated[str | None, Query(max_length=200, description="Top-level or leaf category.")] = None,
    brand: Annotated[str | None, Query(max_length=200)] = None,
    min_price: Annotated[float | None, Query(ge=0)] = None,
    max_price: Annotated[float | None, Query(ge=0)] = None,
    in_stock: Annotated[bool, Query(description="Only products in stock.")] = False,
    user_id: Annotated[str | None, Query(max_length=200, description="Personalise for this user.")] = None,
    explain: Annotated[bool, Query(description="Return each result's score parts.")] = False,
    mode: Annotated[Mode, Query(description="hybrid, or one leg alone (for evaluation).")] = "hybrid",
    fusion: Annotated[Fusion, Query(description="weighted (normalised scores) or rrf.")] = "weighted",
) -> JSONResponse:
    """Hybrid search: BM25 (FTS5) and embeddings (FAISS), fused, filtered, with facet counts."""
    if min_price is not None and max_price is not None and min_price > max_price:
        raise HTTPException(422, f"min_price ({min_price}) is greater than max_price ({max_price})")
    filters = Filters(category or None, brand or None, min_price, max_price, in_stock)
    try:
        result = search(catalog, q, k, filters, user_id, personalizer, mode, fusion)
    except CatalogUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    hits = []
    for hit in result.hits:
        item = {**hit.product.to_dict(), "score": round(hit.score, 6)}
        if explain:
            item["explain"] = hit.parts
        hits.append(item)
    # Plain JSON types, shaped as SearchResponse: returning a Response skips FastAPI's
    # response-model pass (measured ~4 ms a request) while /docs still documents the shape.
    return JSONResponse({
        "query": q,
        "k": k,
        "results": hits,
        "candidates": result.candidates,
        "facets": result.facets,
        "notes": result.notes,
        "took_ms": round(result.took_ms, 3),
    })
