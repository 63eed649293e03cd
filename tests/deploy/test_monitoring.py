"""The monitoring files speak of metrics that exist: the alert rules (Prometheus and
prometheus-operator), the Grafana dashboard and the deploy README use only names that mailpoll
exposes, the README documents every one, and the Prometheus files follow their schemas."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import fakeredis
import jsonschema
import pytest
import yaml
from dramatiq.brokers.redis import RedisBroker
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mailpoll import health
from shared import metrics
from shared.db.database import Database
from tests.deploy.kubernetes import KUBERNETES, SCHEMAS, named, render
from web.metrics import WebMetrics

DEPLOY = KUBERNETES.parent
NAME = re.compile(r"\bmailpoll_[a-z0-9_]+[a-z0-9]\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Every metric family a mailpoll process serves, with its type: the pipeline's, the
    cluster figures (on a real, empty database and an embedded Redis broker), the web's."""
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'mailpoll.db'}")
    database.upgrade()
    broker = RedisBroker(client=fakeredis.FakeRedis())  # type: ignore[no-untyped-call]
    web = WebMetrics()
    web.requests.labels("GET", "/healthz", "200").inc()
    web.latency.labels("GET", "/healthz").observe(0.1)
    figures = health.Chain(
        health.local_figures(health.ClusterCollector(database, broker)),
        health.WatcherCollector(list),
        web.registry,
    )
    text = generate_latest(figures).decode()
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    yield {name: kind for name, kind in families.items() if name.startswith("mailpoll_")}
    database.dispose()


def series(exposed: dict[str, str]) -> set[str]:
    """The names a query may use: each family with its type's suffixes."""
    return {name + suffix for name, kind in exposed.items() for suffix in SUFFIXES[kind]}


def alerts() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return loaded


def dashboard() -> dict[str, Any]:
    path = KUBERNETES / "monitoring" / "grafana-dashboard.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_every_pipeline_metric_is_served(exposed: dict[str, str]) -> None:
    defined = {m._name for m in vars(metrics).values() if hasattr(m, "_name")}
    assert defined <= set(exposed)


def test_the_alert_rules_follow_prometheus_rules_schema_and_operator_has_the_same() -> None:
    schema = json.loads((SCHEMAS / "prometheus" / "prometheus.rules.json").read_text())
    jsonschema.Draft7Validator(schema).validate(alerts())
    rule = named(render(KUBERNETES / "monitoring"), "PrometheusRule", "mailpoll")
    assert rule["spec"] == alerts()


@pytest.mark.parametrize("name", ["prometheus.yml", "kubernetes-scrape.yml"])
def test_the_scrape_configs_follow_prometheus_schema(name: str) -> None:
    schema = json.loads((SCHEMAS / "prometheus" / "prometheus.json").read_text())
    jsonschema.Draft7Validator(schema).validate(
        yaml.safe_load((DEPLOY / "prometheus" / name).read_text())
    )


def test_alerts_dashboard_and_docs_name_only_metrics_that_exist(exposed: dict[str, str]) -> None:
    known = series(exposed) | set(exposed)
    expressions = [rule["expr"] for group in alerts()["groups"] for rule in group["rules"]]
    panels = [p for p in dashboard()["panels"] if p["type"] != "row"]
    expressions += [target["expr"] for panel in panels for target in panel["targets"]]
    texts = {"alerts and dashboard": "\n".join(expressions)}
    for doc in (DEPLOY / "README.md", DEPLOY.parent / "README.md"):
        texts[doc.name] = doc.read_text()
    unknown = {where: sorted(set(NAME.findall(text)) - known) for where, text in texts.items()}
    assert not {where: names for where, names in unknown.items() if names}


def test_the_deploy_readme_documents_every_metric(exposed: dict[str, str]) -> None:
    documented = set(NAME.findall((DEPLOY / "README.md").read_text()))
    shown = {name: "_total" if kind == "counter" else "" for name, kind in exposed.items()}
    assert {name + suffix for name, suffix in shown.items()} - documented == set()


def test_the_dashboard_is_well_formed() -> None:
    board = dashboard()
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}"
