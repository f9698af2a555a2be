"""The shapes the API answers with: one pydantic model per response, so `/docs` documents every
route and the web page reads only documented fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Product(BaseModel):
    product_id: str
    name: str
    description: str
    category_path: list[str]
    category: str = Field(description="The leaf category.")
    brand: str
    price: float
    attributes: dict[str, str]
    stock: int
    in_stock: bool


class SearchHit(Product):
    score: float
    explain: dict[str, float | int] | None = Field(
        default=None, description="With explain=true: each leg's raw score, rank, normalised value and share.")


class FacetCount(BaseModel):
    value: str
    count: int


class SearchResponse(BaseModel):
    query: str
    k: int
    results: list[SearchHit]
    candidates: int = Field(description="How many products the fused ranking held before the top k.")
    facets: dict[str, list[FacetCount]] = Field(description="category, brand and price band counts.")
    notes: list[str]
    took_ms: float


class SimilarHit(Product):
    score: float


class SimilarResponse(BaseModel):
    product_id: str
    results: list[SimilarHit]


class RecommendedItem(BaseModel):
    product_id: str
    score: float = Field(description="Only comparable within one answer.")
    reason: str
    name: str | None = None
    brand: str | None = None
    category: str | None = None
    price: float | None = None
    in_stock: bool | None = None


class RecommendationsResponse(BaseModel):
    user_id: str
    model_version: int | None
    events_trained: int
    exclude: str = Field(description="What the list leaves out of what the user has: seen, bought or none.")
    results: list[RecommendedItem]


class UserProfile(BaseModel):
    user_id: str
    known: bool
    events: int
    distinct_items: int | None = None
    last_seen: float | None = None
    recent_items: list[str] = []
    top_categories: list[tuple[str, float]] = []
    top_brands: list[tuple[str, float]] = []
    price_band: dict[str, float] | None = None
    has_profile_vector: bool | None = None
    bought: list[str] = []
    interacted_items: int = 0


class ServingModel(BaseModel):
    version: int | None
    events_trained: int
    log_seq: int = Field(description="The learner-log entry the served state includes.")


class ModelsResponse(BaseModel):
    serving: ServingModel | None
    versions: list[dict[str, Any]] = Field(
        description="Each stored snapshot's sidecar (offsets, log position, figures).")
    prequential: dict[str, dict[str, float | None]]


class ClickAccepted(BaseModel):
    accepted: bool
    event_id: str
    type: str


class Health(BaseModel):
    status: str = Field(description="ok when ready (see /health/ready), else degraded.")
    bootstrap_servers: str
    stores: dict[str, bool] = Field(description="Whether each consumer group's store is readable.")
    problems: list[str] = []


class Live(BaseModel):
    status: str
    pid: int


class Ready(BaseModel):
    status: str
    ready: bool
    problems: list[str] = Field(description="What is not ready, one line each, naming the group.")
    notes: list[str]
    groups: dict[str, dict[str, Any]] = Field(
        description="Per group: store readable, live consumer processes, last heartbeat age, lag status.")


class Ping(BaseModel):
    ok: bool


class PageConfig(BaseModel):
    api_token: str | None
    token_note: str


class Metrics(BaseModel):
    time: float
    consumers: dict[str, dict[str, Any]]
    lag: dict[str, Any]
    prequential: dict[str, dict[str, float | None]]
