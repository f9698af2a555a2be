"""The monitoring stack's files are valid: the Prometheus config and rules (`promtool`), the Grafana
provisioning and dashboard (parsed), and every metric they query is one that `/metrics` exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
DASHBOARD = INFRA / "grafana" / "dashboards" / "shopstream.json"
PROMTOOL = shutil.which("promtool")

# What /metrics exports (api/services/prometheus.py); counters and histograms with their suffixes.
EXPORTED = {
    "kafka_consumergroup_lag", "kafka_consumergroup_lag_seconds", "kafka_consumergroup_current_offset",
    "kafka_topic_partition_current_offset", "shopstream_consumergroup_partition_status",
    "shopstream_consumergroup_status", "shopstream_consumergroup_members_alive", "shopstream_events_applied_total",
    "shopstream_events_dead_lettered_total", "shopstream_dead_letters_total",
    "shopstream_freshness_produce_to_applied_seconds_bucket",
    "shopstream_freshness_produce_to_searchable_seconds_bucket",
    "shopstream_http_request_duration_seconds_bucket", "shopstream_prequential_hr10", "shopstream_prequential_ndcg10",
    "shopstream_prequential_window_hr10", "shopstream_prequential_evaluated_total", "shopstream_model_info",
    "shopstream_index_info", "shopstream_child_restarts_total", "shopstream_lag_sample_age_seconds",
    "shopstream_lag_sampler_kafka_up", "up",
}
_FUNCTIONS = {"sum", "max", "min", "by", "rate", "histogram_quantile", "or", "unless", "offset", "le", "group",
              "topic", "route", "status", "kind", "child", "model", "version", "job", "humanizeDuration"}


def dashboard_queries() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [a["expr"] for a in dash["annotations"]["list"]]
    return exprs


def rule_queries() -> list[str]:
    rules = yaml.safe_load((INFRA / "prometheus" / "alerts.yml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', "", expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # matchers
    expr = re.sub(r"\[[^]]*\]", "", expr)  # ranges
    expr = re.sub(r"\boffset\s+\w+", "", expr)  # offset 30s
    return {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if w not in _FUNCTIONS and not w[0].isdigit()
            and not re.fullmatch(r"\d+[smhd]", w)}


def test_dashboard_is_valid_json_with_the_panels_of_the_ops_page():
    dash = json.loads(DASHBOARD.read_text())
    titles = " | ".join(p["title"] for p in dash["panels"])
    for words in ("status", "Lag, records", "Lag, seconds", "Events in", "Events applied", "p50 / p95", "HR@10",
                  "Dead-lettered"):
        assert words in titles, (words, titles)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["datasource"]["uid"] == "shopstream-prometheus" for p in dash["panels"])


@pytest.mark.parametrize("expr", dashboard_queries() + rule_queries())
def test_every_query_names_an_exported_metric(expr):
    names = metric_names(expr)
    assert names and names <= EXPORTED, (names - EXPORTED, expr)


def test_grafana_provisioning_points_at_the_dashboard_and_prometheus():
    prov = INFRA / "grafana" / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert ds["uid"] == "shopstream-prometheus" and ds["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((prov / "dashboards" / "shopstream.yml").read_text())["providers"][0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./infra/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./infra/prometheus:/etc/prometheus:ro" in compose["services"]["prometheus"]["volumes"]
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["api:8000"]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed: run `make prometheus`")
def test_promtool_accepts_the_config_and_the_rules():
    assert PROMTOOL
    for args in (["check", "config", str(INFRA / "prometheus" / "prometheus.yml")],
                 ["check", "rules", str(INFRA / "prometheus" / "alerts.yml")]):
        result = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
