"""When a session tries again: backoff with jitter after drops, longer after refusals."""

from __future__ import annotations

from shared.errors import AuthenticationError, ConnectError
from watcher.session import Timing, _delay


def test_drops_back_off_exponentially_with_jitter_up_to_a_ceiling() -> None:
    timing = Timing(backoff_first=1.0, backoff_max=300.0)
    drop = ConnectError("gone")

    first = [_delay(drop, 1, timing) for _ in range(50)]
    fourth = [_delay(drop, 4, timing) for _ in range(50)]
    late = [_delay(drop, 30, timing) for _ in range(50)]

    assert all(0.5 <= d <= 1.0 for d in first)
    assert all(4.0 <= d <= 8.0 for d in fourth)
    assert all(150.0 <= d <= 300.0 for d in late)
    assert len(set(first)) > 1  # jittered: a server restart is not answered in lockstep


def test_a_refused_login_waits_as_long_as_a_poll_would() -> None:
    assert _delay(AuthenticationError("no"), 1, Timing()) == 15 * 60
