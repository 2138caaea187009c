"""Streamlit AppTests of the analysis pages, on a tiny real run (tiny random BERT, synthetic corpus)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

TIMEOUT = 60
APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["pages/overview.py", "pages/explorer.py", "pages/layers.py", "pages/playground.py"]


def open_app(token: str | None = None, run: str | None = None, page: str | None = None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if token:
        at.query_params["s"] = token
    if run:
        at.query_params["run"] = run
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    parts += [s.value for s in at.subheader] + [e.value for e in at.error] + [i.value for i in at.info]
    return "\n".join(map(str, parts))


@pytest.mark.parametrize("page", PAGES)
def test_page_without_run_says_what_to_do(app_cache, page):
    at = open_app(page=page)
    assert not at.exception
    assert at.info and "No run yet" in at.info[0].value
    assert len(at.title) == 1  # the intro is there before the stop


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_run(tiny_run, page):
    token, rid, result = tiny_run
    at = open_app(token, rid, page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert not at.info or "No run yet" not in at.info[0].value
    intro = at.markdown[0].value if at.markdown else ""
    assert "Section" in texts(at) or "Table" in texts(at) or "Figure" in texts(at)
    assert intro


def test_overview_tables_match_result(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, "pages/overview.py")
    frames = [d.value for d in at.dataframe]
    ablation = frames[0]
    assert ablation["accuracy %"].iloc[0] == pytest.approx(round(100 * result.oracle_accuracy, 2))
    assert ablation["accuracy %"].iloc[1] == pytest.approx(round(100 * result.ablation.top, 2))
    table3 = frames[1]
    assert table3["N"].iloc[0] == result.minimal.n_neurons
    assert table3["Probeless %"].iloc[0] == pytest.approx(round(100 * result.probeless.accuracy, 2))
    table5 = frames[2]
    assert table5["Acc_r %"].iloc[0] == pytest.approx(round(100 * result.retrain.random, 2))
    labels = [b.label for b in at.get("download_button")]
    assert "Download result.json" in labels and "Download chart (HTML)" in labels


def test_other_session_does_not_see_run(tiny_run):
    token, rid, _ = tiny_run
    first = open_app("f" * 32, rid)  # a shared ?run= link opened in another session says why it does not open
    assert any(f"Run `{rid}` in the address is not one of this session's runs" in i.value for i in first.info)
    at = open_app("f" * 32, rid, "pages/overview.py")
    assert any("No run yet" in i.value for i in at.info)
    assert at.query_params.get("s") == "f" * 32


def test_malformed_token_starts_new_session(tiny_run):
    at = open_app("../../etc", None)
    assert not at.exception
    assert at.warning and "malformed" in at.warning[0].value
    assert len(at.query_params["s"]) == 32


def test_the_server_does_not_watch_the_checkout():
    """A recursive watch over a checkout with .venv inside overflowed inotify ("Inotify queue overflowed")."""
    import tomllib

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"


def test_run_labels_tell_a_quick_and_a_paper_run_apart():
    import sys

    sys.path.insert(0, str(Path(APP).parent))
    import lca_app

    base = {"task": "xpos", "model": "/x/all-MiniLM-L6-v2", "dataset": "demo", "created": 1_796_000_000.0}
    quick = lca_app.run_label({**base, "run_id": "a1b2c3d4e5f60718", "config": {"mode": "quick", "seed": 0}})
    paper = lca_app.run_label({**base, "run_id": "0f1e2d3c4b5a6978", "config": {"mode": "paper", "seed": 2}})
    assert quick.startswith("xpos · all-MiniLM-L6-v2 · demo · quick · ") and quick.endswith(" · a1b2c3")
    assert " · paper · seed 2 · " in paper and quick != paper
    short = [lca_app.run_label({**base, "run_id": r, "config": c}, "short")
             for r, c in (("a1b2c3d4e5f60718", {"mode": "quick"}), ("0f1e2d3c4b5a6978", {"mode": "paper", "seed": 2}))]
    assert short == ["xpos · all-MiniLM-L6-v2 · quick · a1b2c3",
                     "xpos · all-MiniLM-L6-v2 · paper · seed 2 · 0f1e2d"]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_runs_inside_app_py_once(app_cache, page):
    """Until app.py's st.navigation runs, Streamlit runs a file of pages/ on its own (old-style pages; an
    AppTest after switch_page, a permalink on a fresh server): the page then runs app.py, which runs it once."""
    at = open_app(page=page)
    assert not at.exception and len(at.title) == 1
    assert any(m.value.startswith("**LCA Explorer**") for m in at.sidebar.markdown)  # app.py's sidebar
    assert len(at.query_params["s"]) == 32  # and its session token
    at.run()  # a rerun (a widget, a fragment) stays inside app.py too
    assert len(at.title) == 1 and any(m.value.startswith("**LCA Explorer**") for m in at.sidebar.markdown)


def test_sidebar_picker_names_runs_short_and_the_current_one_in_full(tiny_run):
    import lca_app

    token, rid, _ = tiny_run
    at = open_app(token, rid)
    meta = lca_app.store().meta(rid)
    picker = at.sidebar.selectbox[0]
    assert picker.value == rid and picker.format_func(rid) == lca_app.run_label(meta, "short")
    assert lca_app.run_label(meta) in [c.value for c in at.sidebar.caption]
