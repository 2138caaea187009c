"""AppTests of the Compare page: the side-by-side view, the fine-tune form and the random-weights control."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from conftest import app_corpus  # noqa: E402
from test_compare import fake_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the pages import lca_app
import lca_app  # noqa: E402
APP, PAGE = ROOT / "app.py", "pages/compare.py"


def open_page(token: str | None = None) -> AppTest:
    """The app from its entry point, switched to the Compare page."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    if token:
        at.query_params["s"] = token
    at.run()
    return at.switch_page(PAGE).run()


@pytest.fixture
def two_runs(app_cache):
    """A session owning a base run and a 'fine-tuned' run whose minimal set sits lower."""
    from lca.runs.store import RunStore, new_token

    store, token = RunStore(app_cache / "runs"), new_token()
    base = fake_result([8, 9, 10, 4], {"NN": [8, 9], "DT": [10], "VB": [4]}, model="bert")
    tuned = fake_result([0, 1, 4, 8], {"NN": [0, 8], "DT": [1]}, model="bert-tuned")
    for rid, result, dataset in (("a" * 16, base, "base"), ("b" * 16, tuned, "tuned")):
        store.save(rid, result, app_corpus(3), {"dataset": dataset})
        store.claim(token, rid)  # claimed last = listed first
    return token


def all_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]
    parts += [i.value for i in at.info] + [s.value for s in at.success] + [s.value for s in at.subheader]
    return "\n".join(map(str, parts))


def test_without_runs_says_what_to_do(app_cache):
    at = open_page()
    assert not at.exception, at.exception
    assert at.info and "two finished runs" in at.info[0].value
    assert "Section 5" in at.markdown[0].value


def test_two_runs_side_by_side(two_runs):
    at = open_page(two_runs)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert list(table["run"]) == ["xpos · bert · base", "xpos · bert-tuned · tuned"]  # oldest first: the reference
    assert list(table["min. N"]) == [4, 4] and list(table["mean layer"]) == [1.75, 0.75]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"xpos · bert · base": "1.75", "xpos · bert-tuned · tuned": "0.75"}
    text = all_text(at)
    assert "Shift of the minimal set" in text and "Neurons per tag" in text
    assert "Overlap needs two runs on the same model" in text  # different models: no Jaccard


def test_fewer_than_two_picked(two_runs):
    at = open_page(two_runs)
    at.multiselect(key="cmp_runs").set_value(["a" * 16]).run()
    assert not at.exception and any("Pick two or more" in i.value for i in at.info)


def test_finetune_form_trains_in_background(app_cache, tiny_bert):
    at = open_page()
    assert "No local model yet." in all_text(at)
    at.selectbox(key="cmp_ft_model").set_value("other").run()
    at.text_input(key="cmp_ft_model_id").set_value(tiny_bert)
    at.radio(key="cmp_ft_src").set_value("Upload label<TAB>sentence file").run()
    lines = "".join(f"{'pos' if i % 2 else 'neg'}\tthe cat sat {i}\n" for i in range(20))
    at.file_uploader(key="cmp_ft_file").upload("s.tsv", lines.encode())
    at.run()
    at.number_input(key="cmp_ft_steps").set_value(3)
    at.number_input(key="cmp_ft_batch").set_value(4)
    at.text_input(key="cmp_ft_name").set_value("tiny-ft")
    at.button(key="cmp_ft_go").click().run()
    assert not at.error, [e.value for e in at.error]
    token = at.query_params["s"][0] if isinstance(at.query_params["s"], list) else at.query_params["s"]
    deadline = time.time() + 90  # the server's job queue runs it in its own process
    while lca_app.job_for(token, "finetune").running and time.time() < deadline:
        time.sleep(0.2)
    job = lca_app.job_for(token, "finetune")
    assert job.status == "done", job.error
    assert lca_app.job_for(token) is None  # a fine-tune is not the session's analysis run
    at.run()
    assert any("dev accuracy" in s.value for s in at.success)
    info = json.loads((app_cache / "models" / "tiny-ft" / "lca_model.json").read_text())
    assert info["kind"] == "finetuned" and info["config"]["steps"] == 3
    assert "tiny-ft" in list(at.dataframe[0].value["model"])  # offered as a model


def test_finetune_form_errors_are_readable(app_cache):
    at = open_page()
    at.radio(key="cmp_ft_src").set_value("Upload label<TAB>sentence file").run()
    at.button(key="cmp_ft_go").click().run()
    assert not at.exception and at.error and "upload a file" in at.error[0].value


def test_random_control(app_cache, tiny_bert):
    at = open_page()
    at.selectbox(key="cmp_rand_model").set_value("other").run()
    at.text_input(key="cmp_rand_model_id").set_value(tiny_bert)
    at.button(key="cmp_rand_go").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any("Saved" in s.value for s in at.success)
    assert (app_cache / "models" / "bert-random-seed0" / "config.json").is_file()
