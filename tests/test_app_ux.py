"""AppTests of issue 12's rough edges, driven from the entry point: the Run page's picker and caption name the
same run and a finished message does not outlive its run, a reload during a run shows that run's settings,
the registry marks datasets that are not on the server, a local model goes from Compare to Run in a click, and
the Overview's accuracy curve draws the weight-magnitude ordering with a caption read from its numbers."""
from __future__ import annotations

import json
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

from lca.data.datasets import DATASETS  # noqa: E402
from lca.scale.jobs import JobQueue  # noqa: E402
from lca.runs.result import RunConfig  # noqa: E402
from lca.runs.store import RunStore  # noqa: E402

APP = str(ROOT / "app.py")
CUSTOM = "Hugging Face id or local folder"


def session(token: str | None = None) -> AppTest:
    """A browser tab on the app's start page (the Run page); with ``token``, a reload of that session."""
    at = AppTest.from_file(APP, default_timeout=60)
    if token:
        at.query_params["s"] = token
    return at.run()


def token_of(at: AppTest) -> str:
    s = at.query_params["s"]
    return s[0] if isinstance(s, list) else s


@pytest.fixture
def idle_queue(app_cache, monkeypatch) -> JobQueue:
    """A job queue that never starts its jobs: they stay queued (a run in progress, without the CPU)."""
    queue = JobQueue()
    monkeypatch.setattr(queue, "_dispatch", lambda: None)
    monkeypatch.setattr(jobs, "JOBS", queue)
    return queue


def successes(at: AppTest) -> list[str]:
    return [s.value for s in at.success]


def test_run_to_open_names_the_open_run_and_the_finished_message_does_not_outlive_it(tiny_run, app_cache,
                                                                                       idle_queue):
    token, rid, result = tiny_run
    store = RunStore(app_cache / "runs")
    other = "f" * 16
    store.save(other, result, store.load_test_corpus(rid), {"dataset": "other"})
    store.claim(token, other)
    finished = idle_queue.submit(token, rid, "run", None, ())  # the session's run, just finished
    finished.status, finished.started, finished.finished = "done", time.time() - 12, time.time()

    at = session(token)
    assert not at.exception and not at.error, [e.value for e in at.error]
    label = lca_app.run_label(store.meta(rid))
    assert at.query_params["run"] == rid  # the finished run was opened
    assert any(m.startswith(f"Run {label} finished in") for m in successes(at)), successes(at)
    assert at.selectbox(key="run_pick").value == rid
    assert f"Current run: **{label}**" in [c.value for c in at.caption]

    # another run opened from the picker: the picker, the caption and the sidebar name it; the message is gone
    at.selectbox(key="run_pick").set_value(other).run()
    other_label = lca_app.run_label(store.meta(other))
    assert at.query_params["run"] == other and at.selectbox(key="run_pick").value == other
    assert f"Current run: **{other_label}**" in [c.value for c in at.caption]
    assert at.selectbox(key=f"run_picker_{other}").value == other
    assert not any("finished in" in m for m in successes(at))

    # the finished run reopened from the sidebar: the picker follows, and the old message stays gone
    at.selectbox(key=f"run_picker_{other}").set_value(rid).run()
    assert not at.exception
    assert at.query_params["run"] == rid and at.selectbox(key="run_pick").value == rid
    assert f"Current run: **{label}**" in [c.value for c in at.caption]
    assert not any("finished in" in m for m in successes(at)), successes(at)


FORM = {"run_mode": "paper", "run_agg": "first", "run_seed": 7, "run_seeds": 2, "run_epochs": 3,
        "run_max_train": 50, "run_layers": "0,1"}


def test_a_reload_during_a_run_shows_the_settings_of_that_run(idle_queue):
    at = session()
    assert at.selectbox(key="run_mode").value == "quick" and at.number_input(key="run_epochs").value == 10
    at.selectbox(key="run_mode").set_value(FORM["run_mode"])
    at.selectbox(key="run_agg").set_value(FORM["run_agg"])
    for key in ("run_seed", "run_seeds", "run_epochs", "run_max_train"):
        at.number_input(key=key).set_value(FORM[key])
    at.text_input(key="run_layers").set_value(FORM["run_layers"])
    at.run()
    at.button(key="run_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    token = token_of(at)
    job = lca_app.job_for(token)
    assert job is not None and job.status == "queued" and job.config.mode == "paper"

    again = session(token)  # the reload: a new session on the same token
    assert not again.exception and not again.error and not again.warning, [w.value for w in again.warning]
    shown = {"run_mode": again.selectbox(key="run_mode").value, "run_agg": again.selectbox(key="run_agg").value,
             "run_layers": again.text_input(key="run_layers").value,
             **{k: again.number_input(key=k).value for k in ("run_seed", "run_seeds", "run_epochs", "run_max_train")}}
    assert shown == FORM
    assert again.radio(key="run_data_src").value == "Demo corpus" and again.selectbox(key="run_task").value == "xpos"
    assert any("form was filled in with its settings" in i.value for i in again.info)
    assert again.button(key="run_go").disabled  # one run at a time per session

    # once restored, the session's own edits stand
    again.number_input(key="run_epochs").set_value(5).run()
    assert again.number_input(key="run_epochs").value == 5


def test_a_reload_during_a_run_started_elsewhere_reads_its_config(idle_queue, tiny_bert):
    """A run started outside the form (a λ pick on the Overview) has only its RunConfig and meta."""
    token = "9" * 32
    config = RunConfig(task="upos", model=tiny_bert, mode="paper", seed=5, epochs=4, layers=(1, 2), top_fraction=0.3)
    idle_queue.submit(token, "a" * 16, "run", None, (),
                      info={"config": config, "meta": {"dataset": "demo", "config": config.to_dict()}})
    at = session(token)
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert at.radio(key="run_model_src").value == CUSTOM and at.text_input(key="run_model_id").value == tiny_bert
    assert at.selectbox(key="run_mode").value == "paper" and at.number_input(key="run_seed").value == 5
    assert at.number_input(key="run_epochs").value == 4 and at.text_input(key="run_layers").value == "1,2"
    assert at.slider(key="run_top").value == pytest.approx(0.3)


def test_the_registry_marks_datasets_that_are_not_on_the_server(app_cache, shared_data, monkeypatch):
    monkeypatch.delenv("LCA_DATA_DIR", raising=False)
    monkeypatch.setattr("lca.data.datasets._folders", lambda data_dir: [Path(app_cache) / "no-data"])
    at = session()
    at.radio(key="run_data_src").set_value("Dataset registry").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    options = at.selectbox(key="run_ds_name").options
    assert options and all(" (not downloaded) — " in o for o in options), options
    assert at.selectbox(key="run_ds_name").value == "ud-english-ewt"  # its train split has no public download
    (info,) = [i.value for i in at.info if "not on this server" in i.value]
    assert "no public download" in info and "\n" not in info and len(info) < 200
    assert at.button(key="run_go").disabled
    at.selectbox(key="run_ds_name").set_value("ud-pud-en").run()
    (info,) = [i.value for i in at.info if "not downloaded" in i.value]
    assert "press Download" in info and "\n" not in info and len(info) < 200
    assert at.button(key="run_ds_fetch_ud-pud-en") and not at.error

    monkeypatch.setattr("lca.data.datasets._folders", lambda data_dir: [shared_data])  # the corpora are here
    at = session()
    at.radio(key="run_data_src").set_value("Dataset registry").run()
    options = at.selectbox(key="run_ds_name").options
    assert "ud-pud-en — " + DATASETS["ud-pud-en"].description in options, options
    at.selectbox(key="run_ds_name").set_value("ud-pud-en").run()
    assert not at.exception and not at.error and not [i for i in at.info if "not downloaded" in i.value]
    assert "upos" in at.selectbox(key="run_task").options


def test_analyse_this_model_hands_the_model_to_the_run_page(app_cache, idle_queue):
    from lca.models.finetune import MODEL_INFO, models_dir

    folder = models_dir() / "tiny-random"
    folder.mkdir(parents=True)
    (folder / MODEL_INFO).write_text(json.dumps({"kind": "random", "base_model": "tiny"}))
    (folder / "config.json").write_text("{}")  # listed as a model folder; not loaded here

    at = session()
    at.switch_page("pages/compare.py").run()
    assert at.selectbox(key="cmp_an_model").value == str(folder)
    at.button(key="cmp_an_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Run an analysis"
    assert at.radio(key="run_model_src").value == CUSTOM and at.text_input(key="run_model_id").value == str(folder)
    assert any("from the Compare page" in i.value for i in at.info)

    # a fine-tune that just finished offers its model the same way
    token = token_of(at)
    done = idle_queue.submit(token, "finetune:" + "0" * 16, "finetune", None, ())
    done.status, done.value = "done", {"path": str(folder), "dev_accuracy": 0.8, "n_dev": 10, "dev_majority": 0.5,
                                       "losses": [1.0, 0.5], "seconds": 3.0}
    at.switch_page("pages/compare.py").run()
    assert any("dev accuracy 80.0 %" in s.value for s in at.success)
    at.button(key="cmp_ft_analyse").click().run()
    assert at.title[0].value == "Run an analysis"
    assert at.text_input(key="run_model_id").value == str(folder)


def test_the_accuracy_curve_draws_weight_magnitude_and_its_caption_reads_the_numbers(tiny_run, app_cache):
    import dataclasses

    token, rid, result = tiny_run
    # weight magnitude reaches 90 % of the oracle (81 %) at 10 neurons, the LCA ranking only at 48
    curve = tuple({"fraction": f, "n_neurons": n, "top": t, "weight_magnitude": w, "random": r, "random_sd": 0.01,
                   "random_draws": [r - 0.01, r, r + 0.01], "bottom": 0.1}
                  for f, n, t, w, r in [(0.05, 2, 0.3, 0.5, 0.2), (0.2, 10, 0.6, 0.85, 0.3), (1.0, 48, 0.9, 0.9, 0.9)])
    store = RunStore(app_cache / "runs")
    flipped = "e" * 16
    store.save(flipped, dataclasses.replace(result, curve=curve), store.load_test_corpus(rid), {"dataset": "tiny"})
    store.claim(token, flipped)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["s"], at.query_params["run"] = token, flipped
    at.run()
    at.switch_page("pages/overview.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    caption = next(c.value for c in at.caption if c.value.startswith("To reach 90 % of the oracle accuracy"))
    assert "plain weight magnitude needs 10 neurons, the LCA ranking 48" in caption
    assert "plain weight magnitude gets there with the fewest neurons, ahead of the LCA ranking" in caption
    assert not any("should climb fastest" in m.value for m in at.markdown)
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    curve_fig = next(f for f in figures if "number of neurons kept" in json.dumps(f["layout"].get("xaxis", {})))
    names = [t.get("name") for t in curve_fig["data"]]
    assert "weight magnitude" in names and "top" in names
