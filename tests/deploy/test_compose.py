"""deploy/compose.yaml against the Compose Specification's JSON schema, and what it promises:
health checks on every long-running mailpoll service, start order by conditions, the worker's
stop grace covering its --grace, files it mounts that exist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.deploy.kubernetes import SCHEMAS

DEPLOY = Path(__file__).parents[2] / "deploy"
MAILPOLL = ("scheduler", "worker", "watcher", "web")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_the_compose_file_follows_the_compose_specification() -> None:
    spec = json.loads((SCHEMAS / "compose" / "compose-spec.json").read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in
              jsonschema.Draft7Validator(spec).iter_errors(compose())]  # fmt: skip
    assert not errors


def seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(duration[:-1]) * units[duration[-1]]


def test_mailpoll_services_are_checked_and_start_once_their_dependencies_are_ready() -> None:
    services = compose()["services"]
    for name in MAILPOLL:
        service = services[name]
        check = " ".join(service["healthcheck"]["test"])
        port = service["environment"]["MAILPOLL_METRICS_PORT"]
        assert f"127.0.0.1:{port}/readyz" in check, name
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert services["migrate"]["healthcheck"] == {"disable": True}
    for backing in ("postgres", "redis"):
        assert services[backing]["healthcheck"]["test"]


def test_a_worker_gets_its_grace_before_compose_kills_it() -> None:
    worker = compose()["services"]["worker"]
    grace = float(worker["command"][worker["command"].index("--grace") + 1])
    assert seconds(worker["stop_grace_period"]) > grace


def test_what_the_monitoring_profile_mounts_is_in_the_repository() -> None:
    services = compose()["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            assert (DEPLOY / source).exists(), f"{name}: {source}"
