"""The server-wide job queue: slots, order, attaching identical jobs, cancelling, memory admission."""
from __future__ import annotations

import time

from lca.scale.jobs import JobQueue, default_slots


def sleeper(messages, cancel, seconds: float, value):
    """A job: reports progress until ``seconds`` pass or it is cancelled."""
    end = time.time() + seconds
    while time.time() < end:
        if cancel.is_set():
            messages.put(("cancelled", None))
            return
        messages.put(("progress", "work", 1 - (end - time.time()) / seconds))
        time.sleep(0.05)
    messages.put(("done", value))


def wait(job, timeout: float = 60):
    deadline = time.time() + timeout
    while job.active and time.time() < deadline:
        time.sleep(0.05)
    assert not job.active, f"{job.key} still {job.status}"
    return job


def test_jobs_beyond_the_slots_wait_in_order_and_then_run():
    jobs = JobQueue(max_running=1, free_memory=lambda: 10**12)
    a = jobs.submit("s1", "a", "run", sleeper, (0.5, "A"))
    b = jobs.submit("s2", "b", "run", sleeper, (0.1, "B"))
    c = jobs.submit("s3", "c", "run", sleeper, (0.1, "C"))
    assert (a.status, b.status, c.status) == ("running", "queued", "queued")
    assert (jobs.position(b), jobs.position(c)) == (1, 2)
    assert jobs.wait_estimate(b) is None  # nothing finished yet: no honest estimate
    wait(a)
    assert a.value == "A" and a.stages["work"] > 0.5
    wait(b), wait(c)
    assert (b.value, c.value) == ("B", "C") and b.started < c.started
    jobs.submit("s4", "d", "run", sleeper, (2.0, "D"))
    e = jobs.submit("s5", "e", "run", sleeper, (0.1, "E"))
    longest = max(j.finished - j.started for j in (a, b, c))  # each includes starting an interpreter
    assert jobs.position(e) == 1 and 0 < jobs.wait_estimate(e) <= longest  # the median of a, b, c, less d's time
    jobs.detach("s4"), wait(e)


def test_an_identical_job_is_attached_to_not_computed_again():
    jobs = JobQueue(max_running=2, free_memory=lambda: 10**12)
    done = []
    first = jobs.submit("s1", "same", "run", sleeper, (0.3, 1), on_done=lambda job: done.append(list(job.watchers)))
    second = jobs.submit("s2", "same", "run", sleeper, (0.3, 1))
    assert first is second and jobs.counts()["running"] == 1
    wait(first)
    assert done == [["s1", "s2"]] and jobs.job_for("s2") is first


def test_cancelling_detaches_a_session_and_stops_a_job_nobody_follows():
    jobs = JobQueue(max_running=1, free_memory=lambda: 10**12)
    shared = jobs.submit("s1", "x", "run", sleeper, (30.0, 1))
    jobs.submit("s2", "x", "run", sleeper, (30.0, 1))
    queued = jobs.submit("s3", "y", "run", sleeper, (0.1, 2))
    jobs.detach("s1")
    assert shared.status == "running" and jobs.status_for("s1", shared) == "cancelled"
    jobs.detach("s3")
    assert queued.status == "cancelled" and jobs.position(queued) is None
    jobs.detach("s2")
    assert wait(shared).status == "cancelled"


def test_a_job_waits_for_memory_unless_it_would_run_alone():
    free = {"bytes": 100}
    jobs = JobQueue(max_running=2, free_memory=lambda: free["bytes"])
    small = jobs.submit("s1", "small", "run", sleeper, (0.5, 1), memory=50)
    big = jobs.submit("s2", "big", "run", sleeper, (0.1, 2), memory=500)
    assert small.status == "running" and big.status == "queued"  # a slot is free, memory is not
    wait(small)
    wait(big)  # alone, it starts (its own preflight refuses what cannot fit at all)
    assert big.value == 2 and big.started >= small.finished - 0.5


def test_default_slots_follow_cores_and_memory(monkeypatch):
    monkeypatch.delenv("LCA_MAX_JOBS", raising=False)
    assert default_slots(2, 24 * 2**30) == 1 and default_slots(16, 64 * 2**30) == 8
    monkeypatch.setenv("LCA_MAX_JOBS", "3")
    assert default_slots(2, 2**30) == 3


def test_the_app_queue_and_sweeps_ask_for_one_process_memory_figure(monkeypatch):
    # Both add lca.runs.memory.PROCESS_BYTES to the run's plan (they once had 0.7 GB and 0.6 GB of their own).
    from lca.data.datasets import train_test
    from lca.runs import memory
    from lca.runs.result import RunConfig
    from lca.scale.sweep import _options
    from lca.scale.sweep_spec import SweepSpec
    from lca_app.jobs import _run_memory

    config, (train, test) = RunConfig(task="upos"), train_test("demo")
    shape = memory.shape_of_model(config)
    app = lambda: _run_memory(config, train, test)  # noqa: E731
    sweep = lambda: _options(SweepSpec(), config, train.n_words, {"shape": shape}, 0, False)["memory"]  # noqa: E731
    before = app(), sweep()
    monkeypatch.setattr(memory, "PROCESS_BYTES", memory.PROCESS_BYTES + 2**30)
    assert (app() - before[0], sweep() - before[1]) == (2**30, 2**30)
    assert sweep() == memory.process_bytes(config, shape, train.n_words, 1)
