"""AppTests of a run in progress as every page shows it (issue 26, items 1–5): where it shows at once after
Run, its stages with time left from the runs that finished on this server, the pages that wait for it,
and when it started and how long it took."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import lca_app  # noqa: E402
from lca_app import jobs  # noqa: E402

from lca.data.datasets import train_test  # noqa: E402
from lca.runs.result import RunConfig  # noqa: E402
from lca.runs.store import RunStore  # noqa: E402
from lca.scale.jobs import JobQueue  # noqa: E402

APP = str(ROOT / "app.py")


def session(token: str | None = None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if token:
        at.query_params["s"] = token
    at.run()
    return at.switch_page(page).run() if page else at


@pytest.fixture
def idle_queue(app_cache, monkeypatch) -> JobQueue:
    """A job queue that never starts its jobs (a test moves them along by hand)."""
    queue = JobQueue()
    monkeypatch.setattr(queue, "_dispatch", lambda: None)
    monkeypatch.setattr(jobs, "JOBS", queue)
    return queue


def sidebar_text(at: AppTest) -> str:
    return " ".join(e.value for e in at.sidebar.caption)


def running(job, stage: str, fractions: dict, seconds: dict) -> None:
    """Move a queued job of the idle queue to ``stage``, as its process's messages would."""
    now = time.time()
    job.status, job.started, job.stage, job.stages = "running", now - sum(seconds.values()), stage, dict(fractions)
    job.stage_seconds, job.reported = dict(seconds), now


def test_pressing_run_shows_the_run_in_the_sidebar_at_once_with_a_toast(idle_queue):
    """Item 2: the sidebar of the tab follows the run from the click on (not 'No run yet')."""
    at = session()
    assert "No run yet in this session." in sidebar_text(at)
    at.button(key="run_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    token = at.query_params["s"]
    job = lca_app.job_for(token)
    assert job is not None and job.status == "queued"
    assert "No run yet" not in sidebar_text(at)
    assert "A run is queued: number 1 in the server's queue" in sidebar_text(at)
    assert [t.value for t in at.toast] == [f"Run {job.rid[:6]} started: its progress is below the Run button and in "
                                           "the sidebar."]
    assert [p.value for p in at.sidebar.get("page_link")] == []  # the Run page has the panel itself

    running(job.job, "grid", {"load": 1.0, "extract": 1.0, "grid": 0.5}, {"load": 2.0, "extract": 8.0, "grid": 30.0})
    at.run()
    assert "A run is in progress: Quick search over λ1, λ2 (stage 3 of 8)" in sidebar_text(at)
    bars = [b.proto.text for b in at.get("progress")]
    assert "Load the model ✓ 2 s" in bars and "Extract activations ✓ 8 s" in bars
    assert any(b.startswith("Quick search over λ1, λ2 … 50 % · 30 s so far · about 30 s left") for b in bars), bars


def test_every_stage_estimates_its_time_from_the_runs_that_finished_here(idle_queue):
    """Items 1 and 3: before the click, the run's expected time; while it runs, a stage that reports nothing
    between its ends moves with the time earlier runs took."""
    at = session()
    assert any("No run of this kind has finished on this server yet" in c.value for c in at.caption)
    train, test = train_test("demo")
    _, sizes, profiles = jobs._run_plan(RunConfig(mode="quick"), train, test)  # the form's defaults
    idle_queue.history.add(profiles, sizes, {stage: 60.0 for stage in sizes})  # one finished run: 8 minutes
    at = session(at.query_params["s"])
    assert any(c.value.startswith("Expected time on this server: about 8 min") for c in at.caption)

    at.button(key="run_go").click().run()
    job = lca_app.job_for(at.query_params["s"])
    done = {s: 1.0 for s in ("load", "extract", "grid", "minimal", "ablation", "probeless")}
    running(job.job, "retrain", {**done, "retrain": 0.0}, {**{s: 60.0 for s in done}, "retrain": 30.0})
    at.run()
    bars = {b.proto.text: b.proto.value for b in at.get("progress")}
    (retrain,) = [t for t in bars if t.startswith("Retrain on subsets")]
    assert "30 s so far · about 30 s left (estimated from earlier runs" in retrain and bars[retrain] == 50
    assert any("about 90 s left" in m.value for m in at.markdown)  # 30 s of retrain, 60 s of selectivity


def test_other_pages_say_a_run_is_in_progress_and_link_to_it(idle_queue):
    """Item 4: a page that needs a run says one is coming, with its progress, and links to the Run page."""
    at = session()
    at.button(key="run_go").click().run()
    token = at.query_params["s"]
    job = lca_app.job_for(token)
    running(job.job, "extract", {"load": 1.0, "extract": 0.5}, {"load": 3.0, "extract": 20.0})
    for page in ("pages/overview.py", "pages/explorer.py", "pages/intervene.py"):
        at = session(token, page)
        assert not at.exception
        (info,) = [i.value for i in at.info]
        assert info.startswith("A run is in progress: Extract activations (stage 2 of 8), 2")  # 23 s so far, or 24
        assert "This page shows its result when it ends." in info and "No run yet" not in info
        assert "Follow it on the Run page" in [p.value for p in at.get("page_link")]
        assert "A run is in progress: Extract activations" in sidebar_text(at)


def test_runs_are_listed_by_the_time_they_started_and_long_ones_in_minutes(tiny_run, app_cache, idle_queue):
    """Item 5: the 'started' column and the run label give the start, the message the time in minutes."""
    token, rid, result = tiny_run
    store = RunStore(app_cache / "runs")
    meta_file = store.path(rid) / "meta.json"
    import json

    meta = json.loads(meta_file.read_text())
    meta["started"] = meta["created"] - 5829
    meta_file.write_text(json.dumps(meta))
    finished = idle_queue.submit(token, rid, "run", None, ())
    finished.status, finished.started, finished.finished = "done", time.time() - 5829, time.time()

    at = session(token)
    assert not at.exception
    assert any(s.value.startswith("Run ") and s.value.endswith("finished in 97 min: see Overview, Neuron explorer, "
                                                               "Layers.") for s in at.success)
    table = at.dataframe[0].value
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(meta["started"]))
    assert table["started"].iloc[0] == started and table["took"].iloc[0] == "97 min"
    assert time.strftime("%d %b %H:%M", time.localtime(meta["started"])) in lca_app.run_label(store.meta(rid))
