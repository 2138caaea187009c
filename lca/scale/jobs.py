"""A server-wide queue of background jobs (analyses, fine-tunes), each in its own process.

A teacher's server has one queue for every session: at most ``max_running`` jobs run at once
(default :func:`default_slots`, from cores and memory), the others wait in order and know their
place. A job is named by a key that covers everything it computes (a run id); a session that
submits a key already queued or running *attaches* to that job instead of computing it again, so
twenty students pressing Run on the demo make one computation. A job waits, even with a slot free,
while its memory estimate exceeds what the machine has available (unless nothing else runs: then
waiting would never end, and the run's own preflight refuses what cannot fit at all). Cancelling
detaches a session; a job nobody watches any more is cancelled (dropped from the queue, or told to
stop at its next progress report, then terminated after a grace period).

Each job runs ``target(messages, cancel, *args)`` in a spawned process (a fresh interpreter: a long
probe never holds the server's GIL and a crash cannot take the server down); ``messages`` carries
``("progress", stage, fraction)`` then one of ``("done", value)``, ``("failed", text)``,
``("cancelled", None)`` (see :mod:`lca.scale.job_targets`).  The time between two progress messages
is the stage's that sent the first; a finished job whose ``info`` has ``sizes`` and ``profiles``
goes into the queue's :class:`~lca.scale.estimate.StageHistory`, which estimates later jobs.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .estimate import StageHistory

__all__ = ["Job", "JobQueue", "default_slots"]

_MP = multiprocessing.get_context("spawn")
CANCEL_GRACE_S = 20.0  # a process that ignores a cancel this long is terminated


def default_slots(cores: int | None = None, memory: int | None = None) -> int:
    """Concurrent jobs: one per two cores (a probe trains on two threads), at most one per 2 GB, at least one.

    ``$LCA_MAX_JOBS`` overrides it.

    >>> default_slots(2, 24 * 2**30), default_slots(16, 8 * 2**30), default_slots(1, 2**30)
    (1, 4, 1)
    """
    if os.environ.get("LCA_MAX_JOBS"):
        return max(1, int(os.environ["LCA_MAX_JOBS"]))
    from ..runs.memory import available_memory

    cores = cores or os.cpu_count() or 1
    memory = memory if memory is not None else available_memory()
    return max(1, min(cores // 2, memory // (2 * 2 ** 30)))


@dataclass(eq=False)
class Job:
    """One queued or running computation and the sessions watching it."""

    key: str
    kind: str  # "run" | "finetune"
    target: Callable
    args: tuple
    memory: int = 0  # estimated resident bytes while it runs
    info: dict = field(default_factory=dict)  # what the pages show (settings, labels)
    watchers: list = field(default_factory=list)  # session tokens, first submitter first
    left: list = field(default_factory=list)  # sessions that cancelled (detached) while it was active
    status: str = "queued"  # queued | running | done | failed | cancelled
    stages: dict = field(default_factory=dict)
    stage: str | None = None
    value: object = None  # what ("done", value) carried
    error: str | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel: object = field(default_factory=_MP.Event)
    on_done: Callable[["Job"], None] | None = None  # called in the watcher thread once, on success
    stage_seconds: dict = field(default_factory=dict)  # seconds spent in each stage, up to the last message
    reported: float | None = None  # when the last progress message came

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def stage_clock(self, now: float | None = None) -> dict[str, float]:
        """Seconds spent in each stage so far, the current one up to ``now`` (default: this moment)."""
        clock = dict(self.stage_seconds)
        if self.stage is not None and self.status == "running" and self.reported is not None:
            clock[self.stage] = clock.get(self.stage, 0.0) + max(0.0, (now or time.time()) - self.reported)
        return clock


class JobQueue:
    """Jobs of every session on this server; thread-safe."""

    def __init__(self, max_running: int | None = None, free_memory: Callable[[], int] | None = None,
                 history: StageHistory | None = None):
        from ..runs.memory import available_memory

        self.max_running = max_running or default_slots()
        self.free_memory = free_memory or available_memory
        self.history = history if history is not None else StageHistory()  # stage times of finished jobs
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}  # key -> the latest job of that key
        self._order: list[Job] = []  # queued jobs, first in first out
        self._by_session: dict[tuple[str, str], Job] = {}  # (token, kind) -> its latest job
        self._durations: list[float] = []  # seconds of recent finished jobs, for wait estimates

    # -- sessions ------------------------------------------------------------------------------------------
    def submit(self, token: str, key: str, kind: str, target: Callable, args: tuple, memory: int = 0,
               info: dict | None = None, on_done: Callable[[Job], None] | None = None) -> Job:
        """Queue ``target(messages, cancel, *args)`` as ``key``, or attach ``token`` to the active job of ``key``."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or not job.active or job.cancel.is_set():  # a job being cancelled is not joined
                job = Job(key, kind, target, args, memory, dict(info or {}), on_done=on_done)
                self._jobs[key] = job
                self._order.append(job)
            if token not in job.watchers:
                job.watchers.append(token)
            if token in job.left:
                job.left.remove(token)
            self._by_session[token, kind] = job
        self._dispatch()
        return job

    def job_for(self, token: str, kind: str = "run") -> Job | None:
        """The job of ``kind`` this session submitted or attached to last (active or finished)."""
        with self._lock:
            return self._by_session.get((token, kind))

    def status_for(self, token: str, job: Job) -> str:
        """``job``'s status as ``token`` sees it: "cancelled" once that session detached."""
        return "cancelled" if token in job.left else job.status

    def position(self, job: Job) -> int | None:
        """1 for the next job to start, 2 after it, ...; None when not queued."""
        with self._lock:
            return self._order.index(job) + 1 if job in self._order else None

    def wait_estimate(self, job: Job) -> float | None:
        """Seconds until ``job`` is likely to start, from the median duration of recent jobs; None before any
        finished.  The jobs ahead start ``max_running`` at a time; the first slot frees when the oldest running
        job reaches that median."""
        with self._lock:
            place = self.position(job)
            if place is None or not self._durations:
                return None
            typical = sorted(self._durations)[len(self._durations) // 2]
            elapsed = [time.time() - j.started for j in self._jobs.values() if j.status == "running"]
            first_slot = max(0.0, typical - max(elapsed)) if len(elapsed) >= self.max_running else 0.0
            return first_slot + typical * ((place - 1) // self.max_running)

    def detach(self, token: str, kind: str = "run") -> None:
        """The session stops watching its job of ``kind``; a job nobody watches is cancelled."""
        with self._lock:
            job = self._by_session.get((token, kind))
            if job is None or not job.active:
                return
            if token in job.watchers:
                job.watchers.remove(token)
                job.left.append(token)
            if job.watchers:
                return
            job.cancel.set()
            if job.status == "queued":
                self._order.remove(job)
                job.status, job.finished = "cancelled", time.time()
        self._dispatch()

    def counts(self) -> dict:
        with self._lock:
            jobs = list(self._jobs.values())
            return {s: sum(j.status == s for j in jobs) for s in ("queued", "running", "done", "failed", "cancelled")}

    # -- scheduling ----------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        with self._lock:
            while self._order:
                running = [j for j in self._jobs.values() if j.status == "running"]
                head = self._order[0]
                if len(running) >= self.max_running:
                    return
                if running and head.memory > self.free_memory():
                    return  # waits for memory; starts alone if it must
                self._order.pop(0)
                self._start(head)

    def _start(self, job: Job) -> None:
        messages = _MP.Queue()
        process = _MP.Process(target=job.target, args=(messages, job.cancel, *job.args), daemon=True,
                              name=f"lca-{job.kind}-{job.key[:12]}")
        job.status, job.started = "running", time.time()
        process.start()
        threading.Thread(target=self._watch, args=(job, process, messages), daemon=True,
                         name=f"lca-watch-{job.key[:12]}").start()

    def _apply(self, job: Job, message: tuple) -> None:
        kind = message[0]
        if kind == "progress":
            _, stage, fraction = message
            now = time.time()  # the time since the last message was the stage's that sent it
            spent = job.stage or stage
            job.stage_seconds[spent] = job.stage_seconds.get(spent, 0.0) + now - (job.reported or job.started or now)
            job.reported = now
            job.stage, job.stages[stage] = stage, max(job.stages.get(stage, 0.0), min(1.0, float(fraction)))
        elif kind == "done":
            job.value = message[1]
            if job.on_done is not None:
                job.on_done(job)
            if job.info.get("sizes") and job.info.get("profiles"):  # before "done": a page may estimate at once
                self.history.add(job.info["profiles"], job.info["sizes"], job.stage_seconds)
            job.status = "done"
        elif kind == "cancelled":
            job.status = "cancelled"
        elif kind == "failed":
            job.status, job.error = "failed", message[1]

    def _watch(self, job: Job, process, messages) -> None:
        cancelled_at = None
        try:
            while job.status == "running":
                try:
                    self._apply(job, messages.get(timeout=0.3))
                    continue
                except queue.Empty:
                    pass
                if job.cancel.is_set():
                    cancelled_at = cancelled_at or time.time()
                    if time.time() - cancelled_at > CANCEL_GRACE_S:
                        process.terminate()
                        job.status = "cancelled"
                if not process.is_alive():
                    try:  # the last messages may still be in the pipe
                        while job.status == "running":
                            self._apply(job, messages.get(timeout=1.0))
                    except queue.Empty:
                        job.status = "failed"
                        job.error = f"the job's process ended without a result (exit code {process.exitcode})"
        except Exception as err:  # noqa: BLE001 - e.g. on_done failed: the job fails, the server goes on
            job.status, job.error = "failed", f"{type(err).__name__}: {err}"
        finally:
            job.finished = time.time()
            process.join(timeout=5)
            with self._lock:
                if job.status == "done":
                    self._durations = (self._durations + [job.finished - job.started])[-20:]
            self._dispatch()
