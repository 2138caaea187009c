"""The server-wide job queue: slots, order, attaching identical jobs, cancelling, memory admission."""
from __future__ import annotations

import time

import pytest

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
    from lca_app.jobs import _run_plan

    config, (train, test) = RunConfig(task="upos"), train_test("demo")
    shape = memory.shape_of_model(config)
    app = lambda: _run_plan(config, train, test)[0]  # noqa: E731
    sweep = lambda: _options(SweepSpec(), config, train.n_words, {"shape": shape}, 0, False)["memory"]  # noqa: E731
    before = app(), sweep()
    monkeypatch.setattr(memory, "PROCESS_BYTES", memory.PROCESS_BYTES + 2**30)
    assert (app() - before[0], sweep() - before[1]) == (2**30, 2**30)
    assert sweep() == memory.process_bytes(config, shape, train.n_words, 1)


def staged(messages, cancel, seconds: dict):
    """A job of stages: ``a`` reports its progress, ``b`` only its start and end (as some run stages do)."""
    for stage, duration in seconds.items():
        messages.put(("progress", stage, 0.0))
        end = time.time() + duration
        while stage == "a" and time.time() < end:
            messages.put(("progress", stage, 1 - (end - time.time()) / duration))
            time.sleep(0.05)
        time.sleep(max(0.0, end - time.time()))
        messages.put(("progress", stage, 1.0))
    messages.put(("done", None))


def test_stage_times_are_measured_and_estimate_the_next_job(tmp_path):
    from lca.scale.estimate import StageHistory, stage_times, total_left

    path = tmp_path / "history.json"
    jobs = JobQueue(max_running=1, free_memory=lambda: 10**12, history=StageHistory(path))
    profiles, sizes = {"a": "p", "b": "p"}, {"a": 10.0, "b": 100.0}
    first = wait(jobs.submit("s1", "k1", "run", staged, ({"a": 0.6, "b": 0.9},),
                             info={"sizes": sizes, "profiles": profiles}))
    assert first.status == "done" and 0.5 < first.stage_seconds["a"] < 5 and 0.85 < first.stage_seconds["b"] < 2
    assert len(jobs.history) == 1  # recorded before the job reads as done
    # a job twice the size is expected to take twice as long, and the history survives a restart
    again = StageHistory(path).expected({"a": 20.0, "b": 200.0}, profiles)
    assert again == pytest.approx({"a": 2 * first.stage_seconds["a"], "b": 2 * first.stage_seconds["b"]}, abs=0.01)
    assert StageHistory(path).expected({"a": 20.0}, {"a": "other"}) == {"a": None}  # another profile: no guess

    # while it runs, a stage that reports nothing between start and end moves with time, short of done
    job = jobs.submit("s2", "k2", "run", staged, ({"a": 0.2, "b": 2.0},),
                      info={"sizes": sizes, "profiles": profiles})
    while job.stage != "b" and job.active:
        time.sleep(0.05)
    time.sleep(0.6)
    rows = stage_times(["a", "b"], job.stages, job.stage, job.stage_clock(), jobs.history.expected(sizes, profiles))
    assert rows[0].state == "done" and rows[1].state == "running" and rows[1].by_time
    assert 0.2 < rows[1].fraction < 0.95 and total_left(rows) < first.stage_seconds["b"]
    wait(job)
