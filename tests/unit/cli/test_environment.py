"""Wrong MAILPOLL_* variables are refused at start with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailpoll.cli.main import main

URL_LIKE = {
    "REDIS_URL": "redis://localhost:6379/0",
    "BROKER_URL": "amqp://guest:guest@localhost:5672// or redis://localhost:6379/0",
    "EVENTS_URL": "amqp://guest:guest@localhost:5672// or redis://localhost:6379/1",
    "DATABASE_URL": (
        "postgresql://mailpoll@db.example.com:5432/mailpoll or sqlite:////srv/mailpoll.db"
    ),
}


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "BROKER_URL", "EVENTS_URL", "ACTOR"):
        monkeypatch.delenv(f"MAILPOLL_{name}", raising=False)
    monkeypatch.setenv("MAILPOLL_DATA_DIR", str(tmp_path / "data"))


def run(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["accounts", "list"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("REDIS_URL", "localhost:6379", "localhost:6379"),
        ("REDIS_URL", "http://localhost:6379", "http://localhost:6379"),
        ("REDIS_URL", "redis://localhost:port/0", "redis://localhost:port/0"),
        ("BROKER_URL", "amqp//guest:s3cret@rabbit:5672//", "amqp//guest:***@rabbit:5672//"),
        ("BROKER_URL", "sqs://queue", "sqs://queue"),
        ("BROKER_URL", "amqp://a//;nonsense", "amqp://a//;nonsense"),
        ("EVENTS_URL", "kafka://broker:9092", "kafka://broker:9092"),
        ("EVENTS_URL", "rabbit", "rabbit"),
        ("DATABASE_URL", "mysql://u:s3cret@db/mailpoll", "mysql://u:***@db/mailpoll"),
        ("DATABASE_URL", "nonsense", "nonsense"),
    ],
)
def test_a_url_that_cannot_work_is_refused_at_start(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    shown: str,
) -> None:
    monkeypatch.setenv(f"MAILPOLL_{name}", value)
    line = f"error: MAILPOLL_{name}: must be a URL like {URL_LIKE[name]} (got {shown!r})\n"
    assert run(capsys) == (2, "", line)
    assert "s3cret" not in line


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        ("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
        ("BROKER_URL", "redis://localhost:6379/0"),
        ("EVENTS_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        ("EVENTS_URL", "rediss://localhost:6380/1"),
        ("REDIS_URL", "unix:///run/redis.sock"),
    ],
)
def test_the_usual_urls_are_taken(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"MAILPOLL_{name}", value)
    assert run(capsys)[0] == 0


def test_an_unknown_log_level_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILPOLL_LOG_LEVEL", "loud")
    levels = "DEBUG, INFO, WARNING, ERROR, CRITICAL"
    line = f"error: MAILPOLL_LOG_LEVEL: must be one of {levels} (got 'loud')\n"
    assert run(capsys) == (2, "", line)


def test_an_actor_too_long_for_the_audit_history_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILPOLL_ACTOR", "a" * 201)
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err.startswith("error: MAILPOLL_ACTOR: String should have at most 200 characters")
