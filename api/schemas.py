"""The shapes the API answers with: one pydantic model per response, so `/docs` documents every
route and the web page reads only documented fields."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from events import Click
from events.schema import MAX_POSITION


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


# A (name, affinity) pair. Documented without `prefixItems`, which some OpenAPI tools (Schemathesis
# 4.32) misread as the draft-4 list form of `items` and then reject the whole schema.
Affinity = Annotated[tuple[str, float], WithJsonSchema({
    "type": "array", "items": {"type": ["string", "number"]}, "minItems": 2, "maxItems": 2,
    "description": "[name, affinity]"})]


class UserProfile(BaseModel):
    user_id: str
    known: bool
    events: int
    distinct_items: int | None = None
    last_seen: float | None = None
    recent_items: list[str] = []
    top_categories: list[Affinity] = []
    top_brands: list[Affinity] = []
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


class ClickRequest(Click):
    """A click as the web page (or any client) sends it: the click, plus the client's event id."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "user_id": "u00001", "product_id": "p000001",
        "session_id": "web-1", "source": "search", "position": 0, "query": "coffee maker"}]})

    # Strict: a client that sends "3" or 3.0 for a position has a bug worth hearing about.
    position: Annotated[int, Field(strict=True, ge=0, le=MAX_POSITION)] | None = None
    event_id: uuid.UUID | None = Field(
        default=None,
        description="The idempotency key: a UUID the client makes once per click and sends again with every "
                    "retry (after a timeout, a 503 or a 429). It becomes the event's id, and every consumer "
                    "counts an event id once. Without it the server makes one, and a retry may count twice.")


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


class Metrics(BaseModel):
    time: float
    consumers: dict[str, dict[str, Any]]
    lag: dict[str, Any]
    prequential: dict[str, dict[str, float | None]]


class OpsGroupStatus(BaseModel):
    """A consumer group now, by the last lag sample (Burrow-style status)."""

    status: str = Field(description="OK, WARN, STALL, STOP or ERR.")
    reason: str
    lag: int | None = Field(description="Records behind the log end, all partitions.")
    lag_s: float | None = Field(description="Age of the oldest record not yet consumed (0 when caught up).")
    members: int = Field(description="Consumer processes with a recent heartbeat.")
    applied: int
    dead_lettered: int
    dead_by_kind: dict[str, int]
    fresh_p50: float | None = Field(description="Produce -> applied, seconds, over the freshness window.")
    fresh_p95: float | None


class OpsPartitionStatus(BaseModel):
    group: str
    topic: str
    partition: int
    committed: int
    log_end: int
    lag: int
    lag_s: float | None
    status: str
    reason: str


class OpsData(BaseModel):
    """The dashboard's figures: every sampling round since `since`, and the status now."""

    time: float
    since: float
    interval_s: float = Field(description="Seconds between sampling rounds.")
    history_s: float = Field(description="How much history the server keeps.")
    stale: bool = Field(description="The last sample is older than a few intervals (the sampler is not running).")
    age_s: float | None
    error: str | None = Field(description="Why the last round could not read Kafka, if it could not.")
    status: dict[str, OpsGroupStatus]
    partitions: list[OpsPartitionStatus]
    series: dict[str, Any] = Field(description="Column-wise time series per group and topic (`at` and one list per "
                                               "figure), version changes, prequential quality.")


class Problem(BaseModel):
    """An error answer: what was wrong, and what to do."""

    detail: str | list[dict[str, Any]] = Field(
        description="A message; for a request that does not match the schema, the list of what did not.")


_PROBLEMS = {
    401: "A wrong bearer token.",
    404: "No such item.",
    413: "The request body is too large (SHOPSTREAM_API_MAX_BODY_BYTES).",
    422: "The request is not valid: a parameter out of range, inconsistent parameters, an unknown product.",
    429: "Over the per-client rate limit; see Retry-After.",
    503: "A part of the system this needs is not available yet (it is named); retry later.",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route documents, for its `responses=`."""
    return {code: {"model": Problem, "description": _PROBLEMS[code]} for code in codes}

