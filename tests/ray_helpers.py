"""A local Ray for tests (num_cpus=2, no dashboard; num_gpus declares GPUs a CPU machine pretends to have) that
must leave no process behind, and /proc helpers."""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from procs import descendants, stats  # noqa: E402


def session(sid: int) -> set[int]:
    """The processes of session ``sid`` (a process started with ``start_new_session`` and its own)."""
    return {pid for pid, fields in stats().items() if int(fields[3]) == sid}  # state ppid pgrp session ...


def alive(pids) -> set[int]:
    """Those of ``pids`` still running (a zombie has exited)."""
    now = stats()
    return {pid for pid in pids if pid in now and now[pid][0] != "Z"}


def wait_gone(pids, seconds: float = 20.0) -> set[int]:
    deadline = time.time() + seconds
    while alive(pids) and time.time() < deadline:
        time.sleep(0.2)
    return alive(pids)


@contextmanager
def local_ray(num_cpus: int = 2, num_gpus: int = 0):
    """``ray`` initialised locally; yields a function to call while tasks run (it notes Ray's processes,
    this process's descendants), and after ``ray.shutdown()`` fails if any of them is still running.
    Descendants from before ``ray.init`` (multiprocessing's resource tracker, started by an earlier
    test's spawned job and alive until pytest exits) are not Ray's and are left out."""
    import ray

    before = descendants(os.getpid())
    ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    started = set()

    def note(*_):
        started.update(descendants(os.getpid()) - before)

    try:
        yield note
    finally:
        note()
        ray.shutdown()
    left = wait_gone(started)
    assert not left, f"Ray processes left behind after ray.shutdown(): {sorted(left)}"
