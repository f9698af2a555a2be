"""Every route documents the shape of its answer: `/docs` shows a schema for each success response."""

from __future__ import annotations

from pathlib import Path

from api.main import create_app
from infra.config import Settings

# Answers that are not JSON by design.
NOT_JSON = {("get", "/metrics")}  # Prometheus text


def test_every_json_route_has_a_response_model(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, api_token="t" * 40), lag_sampler=False)
    spec = app.openapi()
    untyped = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if (method, path) in NOT_JSON:
                continue
            for code, response in operation["responses"].items():
                if not code.startswith("2"):
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if "$ref" not in schema:
                    untyped.append(f"{method.upper()} {path} -> {code}: {schema}")
    assert untyped == []
    assert len(spec["paths"]) >= 13
