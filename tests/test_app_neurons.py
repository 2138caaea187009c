"""AppTests of the Single neurons page (issue 24): the summary, the search by tag, word, pattern and typed
word, rows that open the explorer, the map, the probe against single neurons, the teaching table and the
statistics kept beside the run.  Every test starts from the entry point (app.py) and switches page."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("streamlit")

from test_app_pages import open_app, texts  # noqa: E402

PAGE = "pages/neurons.py"


def test_page_without_run_says_what_to_do(app_cache):
    at = open_app(page=PAGE)
    assert not at.exception and at.info and "No run yet" in at.info[0].value


def test_page_shows_the_statistics_and_keeps_them_with_the_run(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, PAGE)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    from lca_app.cached import store

    folder = store().path(rid)
    assert (folder / "neuron_stats.npz").is_file() and (folder / "neuron_stats.json").is_file()
    shown = texts(at)
    assert "Benjamini–Hochberg" in shown and "Mann–Whitney" in shown
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Neurons × tags"] == f"{result.n_neurons:,} × {len(result.tags)}"
    rows = at.dataframe[0].value  # the search: the first tag's neurons, strongest first
    assert len(rows) == 15 and rows["AUROC"].between(0, 1).all()
    strength = np.maximum(rows["AUROC"], 1 - rows["AUROC"]).to_numpy()
    assert np.all(np.diff(strength) <= 1e-3)
    assert all(f"run={rid}" in u and "neuron=" in u for u in rows["open"])
    teach = at.dataframe[-1].value
    assert set(teach["tag"]) <= set(result.tags) and len(teach) >= len(result.tags) - 1
    assert len(at.get("plotly_chart")) == 3  # the map, the probe scatter, the Pareto front


def test_a_row_opens_the_explorer_on_its_neuron(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, PAGE)
    first = at.dataframe[0].value["neuron"].iloc[0]
    at.session_state["nr_rows"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    heading = next(m.value for m in at.markdown if m.value.startswith("### Neuron"))
    assert heading.startswith(f"### Neuron {first} ")


def test_search_by_word_pattern_and_typed_word(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, PAGE)
    at.segmented_control(key="nr_mode").set_value("word").run()
    at.text_input(key="nr_pattern").set_value("cat").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "words match (cat)" in texts(at)
    at.checkbox(key="nr_regex").check().run()
    at.text_input(key="nr_pattern").set_value("ing$").run()
    assert "words match" in texts(at) and "singing" in texts(at)
    at.text_input(key="nr_pattern").set_value("(").run()
    assert at.error and "not a valid regular expression" in at.error[0].value
    at.segmented_control(key="nr_mode").set_value("typed").run()
    at.text_input(key="nr_text").set_value("the cat sat on the mat .").run()
    at.selectbox(key="nr_word").set_value(1).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "z" in at.dataframe[0].value.columns


def test_map_coloured_by_a_tag_and_the_probe_view_follow_the_pickers(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, PAGE)
    tag = sorted(t for t in result.tags if t.isalpha())[0]
    at.selectbox(key="nr_map_tag").set_value(tag).run()
    at.selectbox(key="nr_pv_tag").set_value(tag).run()
    at.radio(key="nr_pv_by").set_value("weight").run()
    assert not at.exception and not at.error
    assert f"For **{tag}** the probe made" in texts(at)


@pytest.mark.parametrize("chart", ["nr_map", "nr_pv", "nr_pareto"])
def test_a_click_on_a_chart_opens_the_explorer(tiny_run, chart):
    token, rid, result = tiny_run
    at = open_app(token, rid, PAGE)
    flat = int(result.minimal.neurons[0])
    at.session_state[chart] = {"selection": {"points": [{"customdata": [flat, 1]}], "point_indices": [0], "box": [],
                                             "lasso": []}}
    at.run()
    assert not at.exception, at.exception
    heading = next(m.value for m in at.markdown if m.value.startswith("### Neuron"))
    assert heading.startswith(f"### Neuron {flat // result.layer_size}:{flat % result.layer_size} ")
