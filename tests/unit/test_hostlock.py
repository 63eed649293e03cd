"""Lock files between processes on one data dir: exclusive, named holder, gone with the holder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.errors import LockBusyError
from shared.hostlock import HostLock


def test_one_holder_at_a_time_and_the_busy_one_learns_its_pid(tmp_path: Path) -> None:
    first, second = HostLock(tmp_path, "run"), HostLock(tmp_path, "run")
    assert first.acquire()
    assert not second.acquire()
    assert second.holder() == os.getpid()
    first.release()
    assert second.acquire()
    second.release()


def test_the_context_manager_refuses_a_held_lock(tmp_path: Path) -> None:
    with HostLock(tmp_path, "account-1"), pytest.raises(LockBusyError, match="pid"):
        HostLock(tmp_path, "account-1").__enter__()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from shared.hostlock import HostLock; "
         f"assert HostLock(Path({str(tmp_path)!r}), 'run').acquire(); print('held', flush=True); "
         "time.sleep(60)"],
        stdout=subprocess.PIPE, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"held"
        lock = HostLock(tmp_path, "run")
        assert not lock.acquire()
        assert lock.holder() == holder.pid
    finally:
        holder.kill()
        holder.communicate()
    assert lock.acquire()
    lock.release()
