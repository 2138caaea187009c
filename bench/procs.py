"""Processes on Linux, read from /proc: a process's descendants and their resident memory.
Used by the benchmarks (bench/load.py, bench/sweep.py) and the Ray tests."""
from __future__ import annotations

from pathlib import Path


def stats() -> dict[int, list[str]]:
    """``{pid: fields of /proc/PID/stat after the command name}`` (state, ppid, pgrp, session, ...)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            out[int(stat.parent.name)] = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError, ValueError):
            continue
    return out


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for child, fields in stats().items():
        children.setdefault(int(fields[1]), []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def rss(pid: int) -> int:
    """Resident bytes of one process (0 once it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    return sum(rss(p) for p in descendants(pid) | {pid})


_TICK = __import__("os").sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> dict[int, float]:
    """User + system CPU seconds of each of ``pids`` still running (``utime``/``stime`` of /proc/PID/stat)."""
    now = stats()
    return {pid: (int(now[pid][11]) + int(now[pid][12])) / _TICK for pid in pids if pid in now}


def idle_priority(pids) -> None:
    """Put every thread of ``pids`` in Linux's ``SCHED_IDLE`` class: they run only on a core nothing else
    wants. Per thread, since Linux schedules threads; and again on each call, since Chromium (run as root)
    sets its own processes' priorities and starts new threads."""
    import os

    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                os.sched_setscheduler(int(task.name), os.SCHED_IDLE, os.sched_param(0))
            except (OSError, ValueError):
                continue
