"""The served OpenAPI document, fuzzed with schemathesis against the real server: no answer is
a server error, and every answer (status, content type, headers, body) is the one documented.

Bounded for CI: the examples and fuzzing phases, 20 cases per operation, a fixed seed, NUL
bytes allowed in strings, as an admin (so the routes' logic is reached, not only the 401).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.web.conftest import Api

pytestmark = pytest.mark.integration
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)


@pytest.mark.timeout(115)
def test_the_openapi_document_holds_for_every_answer(api: Api, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            str(SCHEMATHESIS), "run", f"{api.url}/api/openapi.json",
            "--header", f"Authorization: Bearer {api.admin_token}",
            "--checks", ",".join(CHECKS),
            "--phases", "examples,fuzzing",
            "--max-examples", "20",
            "--seed", "1",
            "--workers", "1",
            "--generation-with-security-parameters", "false",
            "--generation-allow-x00", "true",  # NUL reaches PostgreSQL only if let through
            "--generation-database", "none",
            "--request-timeout", "20",
            "--no-color",
        ],
        capture_output=True, text=True, cwd=tmp_path, timeout=105, check=False,
    )  # fmt: skip

    summary = [line for line in run.stdout.splitlines() if "generated" in line]
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert summary, run.stdout[-2000:]
    print(summary[-1].strip())  # the number of cases, for the record
