"""Every Kubernetes manifest under deploy/ renders with kustomize and is valid, and the pieces
fit together: probes on the port that serves them, grace periods matched to the poll budget,
a disruption budget for every Deployment, KEDA reading the queues the workers take from."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared import redis_keys
from shared.properties import SPECS
from tests.deploy.kubernetes import KUBERNETES, kustomizations, named, problems, render

BASE = KUBERNETES
ROLES = ("scheduler", "worker", "watcher", "web")


def manifests() -> list[Path]:
    return sorted(p for p in KUBERNETES.rglob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("directory", kustomizations(), ids=lambda p: str(p.relative_to(BASE)))
def test_every_kustomization_renders_to_valid_resources(directory: Path) -> None:
    docs = render(directory)
    assert docs
    found = {f"{d['kind']}/{d['metadata']['name']}": problems(d) for d in docs}
    assert not {name: errors for name, errors in found.items() if errors}


def test_every_manifest_is_rendered_by_a_kustomization_or_is_the_secret_example() -> None:
    listed = set()
    for directory in kustomizations():
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        listed |= {(directory / name).resolve() for name in kustomization.get("resources", [])}
    example = KUBERNETES / "secret.example.yaml"
    assert {p.resolve() for p in manifests()} - listed == {example.resolve()}
    for doc in yaml.safe_load_all(example.read_text()):
        assert not problems(doc)


def deployment(role: str) -> dict[str, Any]:
    return named(render(BASE), "Deployment", f"mailpoll-{role}")


def container(role: str) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment(role)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_probed_on_the_port_that_serves_its_health(role: str) -> None:
    settings = named(render(BASE), "ConfigMap", "mailpoll")["data"]
    ports = {p["name"]: p["containerPort"] for p in container(role)["ports"]}
    assert ports["metrics"] == int(settings["MAILPOLL_METRICS_PORT"])
    probes = {kind: container(role)[kind]["httpGet"] for kind in
              ("startupProbe", "livenessProbe", "readinessProbe")}  # fmt: skip
    assert probes["livenessProbe"] == {"path": "/healthz", "port": "metrics"}
    assert probes["startupProbe"] == {"path": "/healthz", "port": "metrics"}
    assert probes["readinessProbe"] == {"path": "/readyz", "port": "metrics"}
    resources = container(role)["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    labels = deployment(role)["spec"]["template"]["metadata"]["labels"]
    metrics = named(render(BASE), "Service", "mailpoll-metrics")["spec"]["selector"]
    assert metrics.items() <= labels.items(), "scraped through the mailpoll-metrics Service"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_has_a_disruption_budget_over_its_pods(role: str) -> None:
    budget = named(render(BASE), "PodDisruptionBudget", f"mailpoll-{role}")
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector == deployment(role)["spec"]["selector"]["matchLabels"]


def test_a_worker_is_given_a_whole_poll_budget_to_stop() -> None:
    """SIGTERM: the polls in flight get --grace seconds, at least the default poll budget, and
    Kubernetes waits longer than that before it kills the pod."""
    args = container("worker")["args"]
    grace = float(args[args.index("--grace") + 1])
    budget = float(SPECS["poll_budget_seconds"].default or 0)
    assert grace >= budget > 0
    assert deployment("worker")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace


def test_keda_scales_workers_on_the_queues_they_take_jobs_from() -> None:
    scaled = named(render(KUBERNETES / "autoscaling" / "keda"), "ScaledObject", "mailpoll-worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment("worker")["metadata"]["name"]
    redis = urlsplit(named(render(BASE), "ConfigMap", "mailpoll")["data"]["MAILPOLL_REDIS_URL"])
    lists = set()
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["type"] == "redis"
        metadata = trigger["metadata"]
        assert metadata["address"] == f"{redis.hostname}:{redis.port}"
        assert metadata["databaseIndex"] == redis.path.strip("/")
        lists.add(metadata["listName"])
    # Dramatiq's Redis broker keeps the jobs not yet taken in the list `dramatiq:<queue>`.
    assert lists == {f"dramatiq:{redis_keys.POLL_QUEUE}", f"dramatiq:{redis_keys.SEND_QUEUE}"}


def test_the_hpa_alternative_targets_the_workers() -> None:
    hpa = named(render(KUBERNETES / "autoscaling" / "hpa"), "HorizontalPodAutoscaler",
                "mailpoll-worker")  # fmt: skip
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "mailpoll-worker"
    }  # fmt: skip


def test_services_and_the_ingress_reach_named_ports() -> None:
    web = named(render(BASE), "Service", "mailpoll-web")
    assert web["spec"]["ports"][0]["targetPort"] in {p["name"] for p in container("web")["ports"]}
    ingress = named(render(KUBERNETES / "ingress"), "Ingress", "mailpoll-web")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "mailpoll-web", "port": {"name": "http"}}
    monitor = named(render(KUBERNETES / "monitoring"), "ServiceMonitor", "mailpoll")
    metrics = named(render(BASE), "Service", "mailpoll-metrics")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= metrics["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == metrics["spec"]["ports"][0]["name"]
