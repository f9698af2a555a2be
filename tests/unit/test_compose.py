"""docker-compose.yml and the Dockerfile are hardened by default: a token is required, Kafka's port
is not published to the host, the API is published on loopback only, nothing runs as root."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_runs_as_a_non_root_user() -> None:
    services = _compose()["services"]
    assert services and all(str(s.get("user", "root")) not in {"root", "0", "0:0"} for s in services.values())
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}


def test_kafka_is_not_published_and_the_api_only_on_loopback_by_default() -> None:
    services = _compose()["services"]
    assert "ports" not in services["kafka"]
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert published == ["${SHOPSTREAM_PUBLISH_HOST:-127.0.0.1}:8000:8000"]


def test_the_api_gets_a_token_that_must_be_set() -> None:
    env = _compose()["services"]["api"]["environment"]
    assert env["SHOPSTREAM_API_TOKEN"].startswith("${SHOPSTREAM_API_TOKEN:?")  # compose stops if unset
