"""AppTests of the Run page: a real background run, reopening it, errors, cancel, sessions."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from conftest import app_corpus, app_corpus_conllu  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import lca_app  # noqa: E402
from lca_app import jobs  # noqa: E402

APP = str(ROOT / "app.py")
CUSTOM = "Hugging Face id or local folder"


def conllu(n: int, seed: int) -> bytes:
    return app_corpus_conllu(app_corpus(n, seed)).encode()


def new_session() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return at


def fill(at: AppTest, model: str, train: bytes = None, test: bytes = None) -> AppTest:
    at.radio(key="run_model_src").set_value(CUSTOM).run()
    at.text_input(key="run_model_id").set_value(model)
    at.radio(key="run_data_src").set_value("Upload files").run()
    at.selectbox(key="run_up_fmt").set_value("conllu").run()
    at.file_uploader(key="run_up_train").upload("train.conllu", train or conllu(40, 1))
    at.file_uploader(key="run_up_test").upload("test.conllu", test or conllu(12, 2))
    at.run()
    at.number_input(key="run_epochs").set_value(2)
    return at.run()


def wait_for_job(token: str, timeout: float = 90) -> lca_app.SessionJob:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = lca_app.job_for(token)
        if job is not None and not job.running:
            return job
        time.sleep(0.2)
    raise AssertionError("the run did not finish in time")


def test_run_reopen_and_sessions(app_cache, tiny_bert):
    at = fill(new_session(), tiny_bert)
    assert not at.error, [e.value for e in at.error]
    assert "xpos" in at.selectbox(key="run_task").options
    at.selectbox(key="run_task").set_value("xpos")
    # Paper mode at 2 epochs is a few optimizer steps; quick mode's 2000 per probe take minutes on a busy CPU.
    at.selectbox(key="run_mode").set_value("paper")
    at.button(key="run_go").click().run()
    token = at.query_params["s"]
    job = wait_for_job(token)
    assert job.status == "done", job.error
    assert lca_app.store().load_train_corpus(job.rid).sentences == app_corpus(40, 1).sentences  # kept for λ picks
    at.run()
    assert not at.exception and not at.error
    assert any("finished" in s.value for s in at.success)
    assert at.query_params["run"] == job.rid
    table = at.dataframe[0].value
    assert list(table["run"]) == [job.rid]

    # the same settings again: reopened from the store, no second job
    at.button(key="run_go").click().run()
    assert any("reopened from the cache" in s.value for s in at.success)
    assert lca_app.job_for(token) == job

    # a reload (same URL token) lists the run; another session does not
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params["s"] = token
    again.run()
    assert list(again.dataframe[0].value["run"]) == [job.rid]
    other = new_session()
    assert not other.dataframe
    assert other.query_params["s"] != token


def test_bad_upload_shows_error(app_cache, tiny_bert):
    bad = b"1\tThe\tthe\tDET\tDT\n\n"  # 5 columns instead of 10
    at = fill(new_session(), tiny_bert, train=bad)
    assert not at.exception
    assert at.error and "line 1" in at.error[0].value and "train.conllu" in at.error[0].value
    assert at.button(key="run_go").disabled


def test_unknown_model_shows_error(app_cache):
    """Refused when Run is pressed (the queue's memory estimate reads the model's config), not after a wait."""
    at = fill(new_session(), "no-such-org/no-such-model-lca-test")
    at.button(key="run_go").click().run()
    assert not at.exception and lca_app.job_for(at.query_params["s"]) is None
    assert at.error and "model 'no-such-org/no-such-model-lca-test' is not a local folder" in at.error[0].value
    assert not at.button(key="run_go").disabled  # the page still works


def test_cancel_and_one_run_at_a_time_per_session(app_cache, tiny_bert):
    from lca._validation import InputError
    from lca.runs.result import RunConfig

    slow, other = "c" * 32, "e" * 32
    train, test = app_corpus(200, 1), app_corpus(20, 2)
    job = jobs.start_job(slow, train, test, RunConfig(model=tiny_bert, epochs=50), {})
    try:
        with pytest.raises(InputError, match="already in progress"):
            jobs.start_job(slow, train, test, RunConfig(model=tiny_bert, epochs=51), {})
        quick = jobs.start_job(other, app_corpus(30, 1), app_corpus(8, 2), RunConfig(model=tiny_bert, epochs=1), {})
        assert wait_for_job(other).status == "done", quick.error  # another session runs alongside
    finally:
        job.cancel()
    assert wait_for_job(slow).status == "cancelled"
    assert not lca_app.store().exists(job.rid) and lca_app.store().exists(quick.rid)


def test_column_upload_without_test_file_holds_out_sentences(app_cache):
    corpus = app_corpus(20, 3)
    text = "\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(s, tags))
                       for s, tags in zip(corpus.sentences, corpus.columns["xpos"])) + "\n"
    at = new_session()
    at.radio(key="run_data_src").set_value("Upload files").run()
    at.selectbox(key="run_up_fmt").set_value("columns").run()
    at.file_uploader(key="run_up_train").upload("words.tsv", text.encode())
    at.text_input(key="run_up_labels").set_value("xpos=1")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    caption = next(c.value for c in at.caption if c.value.startswith("Training:"))
    assert "Training: 16 sentences" in caption and "test: 4 sentences" in caption
    assert at.selectbox(key="run_task").value == "xpos"


def test_neurox_upload_mismatch_is_reported(app_cache):
    at = new_session()
    at.radio(key="run_data_src").set_value("Upload files").run()
    at.selectbox(key="run_up_fmt").set_value("neurox").run()
    at.file_uploader(key="run_up_tr_text").upload("train.txt", b"the cat sat\na dog\n")
    at.file_uploader(key="run_up_tr_labels").upload("train.labels", b"DT NN VBD\nDT\n")
    at.run()
    assert not at.exception
    assert at.error and "train.labels, line 2: 1 tags for 2 words" in at.error[0].value


def test_registry_dataset_with_single_split(app_cache, shared_data, monkeypatch):
    monkeypatch.setenv("LCA_DATA_DIR", str(shared_data))
    at = new_session()
    at.radio(key="run_data_src").set_value("Dataset registry").run()
    at.selectbox(key="run_ds_name").set_value("ud-pud-en").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("only a 'test' split" in c.value for c in at.caption)
    assert "upos" in at.selectbox(key="run_task").options


def test_demo_is_the_default_data(app_cache):
    at = new_session()
    assert not at.exception
    assert at.radio(key="run_data_src").value == "Demo corpus"
    assert at.error or any(c.value.startswith("Training:") for c in at.caption)  # readable either way


def recording_start(started: list):
    """A stand-in for ``lca_app.jobs.start_job`` that records the config instead of running it."""
    from lca.scale.jobs import Job

    def fake_start(token, train, test, config, meta):
        started.append(config)
        job = Job("0" * 16, "run", None, (), info={"config": config, "meta": meta}, status="failed",
                  error="not run in this test")
        return lca_app.SessionJob(token, job)
    return fake_start


def test_seeds_reach_the_run_config_and_modes_are_explained(app_cache, tiny_bert, monkeypatch):
    started = []
    monkeypatch.setattr(jobs, "start_job", recording_start(started))
    at = fill(new_session(), tiny_bert)
    seeds = at.number_input(key="run_seeds")
    assert (seeds.value, seeds.min, seeds.max) == (1, 1, 5)
    modes = next(c.value for c in at.caption if c.value.startswith("Quicker search"))
    assert "lr 0.01 decayed linearly" in modes and "at least 8,000 optimizer steps" in modes and "lr 0.001" in modes
    seeds.set_value(3).run()
    at.button(key="run_go").click().run()
    assert not at.exception
    assert [c.seeds for c in started] == [3] and started[0].epochs == 2


def test_a_command_line_run_folder_opens_in_the_app(app_cache, tiny_bert, tmp_path):
    from lca.cli.main import main

    train, test = tmp_path / "train.conllu", tmp_path / "test.conllu"
    train.write_bytes(conllu(30, 1))
    test.write_bytes(conllu(10, 2))
    out = tmp_path / "cli-run"
    assert main(["run", "--train", str(train), "--test", str(test), "--model", tiny_bert, "--out", str(out),
                 "--lambdas", "0,0", "--min-steps", "0", "--epochs", "1", "--random-draws", "2", "--device", "cpu",
                 "--cache-dir", str(app_cache)]) == 0
    at = new_session()
    at.text_input(key="run_folder").set_value(str(tmp_path / "nowhere")).run()
    at.button(key="run_folder_open").click().run()
    assert "no result.json there" in at.error[0].value
    at.text_input(key="run_folder").set_value(str(out)).run()
    at.button(key="run_folder_open").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    rid = at.query_params["run"]
    rid = rid[0] if isinstance(rid, list) else rid
    store = lca_app.store()
    assert store.meta(rid)["dataset"] == "cli-run" and store.load_train_corpus(rid).n_words > 0
    assert rid in [m["run_id"] for m in store.list(at.query_params["s"][0] if isinstance(at.query_params["s"], list)
                                                   else at.query_params["s"])]


def test_identical_runs_from_two_sessions_are_computed_once_and_given_to_both(app_cache, tiny_bert):
    from lca.runs.result import RunConfig

    first, second = "1" * 32, "2" * 32
    train, test = app_corpus(30, 1), app_corpus(8, 2)
    config = RunConfig(model=tiny_bert, epochs=1)
    a = jobs.start_job(first, train, test, config, {"dataset": "tiny"})
    b = jobs.start_job(second, train, test, config, {"dataset": "tiny"})
    assert a.job is b.job and a.others == 1 and b.others == 1
    assert wait_for_job(first).status == "done" and wait_for_job(second).status == "done", a.error
    store = lca_app.store()
    assert [m["run_id"] for m in store.list(first)] == [m["run_id"] for m in store.list(second)] == [a.rid]


def test_a_run_waits_for_a_free_slot_with_its_place_and_a_cancel_leaves_the_queue(app_cache, tiny_bert, monkeypatch):
    from lca.scale.jobs import JobQueue
    from lca.runs.result import RunConfig

    monkeypatch.setattr(jobs, "JOBS", JobQueue(max_running=1))
    busy, waiting, third = "3" * 32, "4" * 32, "5" * 32
    slow = jobs.start_job(busy, app_corpus(200, 1), app_corpus(20, 2), RunConfig(model=tiny_bert, epochs=50), {})
    queued = jobs.start_job(waiting, app_corpus(30, 1), app_corpus(8, 2), RunConfig(model=tiny_bert, epochs=1), {})
    last = jobs.start_job(third, app_corpus(30, 3), app_corpus(8, 2), RunConfig(model=tiny_bert, epochs=1), {})
    assert (queued.status, queued.position, last.position) == ("queued", 1, 2)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["s"] = waiting
    at.run()
    assert any("number 1 in the server's queue" in m.value for m in at.markdown), [m.value for m in at.markdown]
    queued.cancel()  # leaves the queue: the third moves up
    assert queued.status == "cancelled" and last.position == 1
    slow.cancel()
    assert wait_for_job(busy).status == "cancelled" and wait_for_job(third).status == "done", last.error


def test_a_run_leaves_imported_modules_out_of_streamlits_collections(app_cache):
    """Streamlit runs ``gc.collect(2)`` after every script run, the progress panel's each second
    included; the app freezes what imports made (bench/load.py: it had starved a shared job)."""
    import gc

    at = new_session()
    assert not at.exception
    import numpy.polynomial  # noqa: F401 - a module imported after the first run, as pressing Run imports many
    at.run()
    assert gc.get_freeze_count() > 100_000  # torch, transformers, streamlit: out of the collector's view
    assert len(gc.get_objects()) < gc.get_freeze_count() / 10
    assert "numpy.polynomial" in sys.modules and lca_app.runtime._FREEZE["modules"] == len(sys.modules)
