"""AppTests of the neuron explorer, the layers page and the playground: pickers, permalink, typed text."""
from __future__ import annotations

import json

import plotly.io
import pytest

pytest.importorskip("streamlit")

from test_app_pages import open_app, texts  # noqa: E402


def heading(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("### Neuron"))


def test_explorer_permalink_and_stepping(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, "pages/explorer.py", neuron="1:3", view="random")
    assert not at.exception and not at.error
    assert heading(at).startswith("### Neuron 1:3 ")
    assert at.query_params["neuron"] == "1:3" and at.query_params["view"] == "random"
    rank = result.ranking.index(1 * result.layer_size + 3) + 1
    assert at.number_input(key="nx_rank").value == rank
    at.button(key="nx_next").click().run()
    nxt = result.ranking[rank % result.n_neurons]
    expected = f"{nxt // result.layer_size}:{nxt % result.layer_size}"
    assert heading(at).startswith(f"### Neuron {expected} ") and at.query_params["neuron"] == expected
    at.number_input(key="nx_rank").set_value(1).run()
    first = result.ranking[0]
    assert heading(at).startswith(f"### Neuron {first // result.layer_size}:{first % result.layer_size} ")
    code = at.code[0].value
    assert f"run={rid}" in code and f"s={token}" in code and "neuron=" in code


def test_explorer_top_words_and_heatmap(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, "pages/explorer.py")
    frame = at.dataframe[0].value
    assert list(frame.columns) == ["word", "tag", "activation"] and len(frame) >= 5
    share = at.metric[0].value
    assert "%" in share and share.split("% ")[1] in result.tags
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    heat = spec["data"][0]
    assert heat["type"] == "heatmap" and heat["zmid"] == 0
    words = {w for row in heat["text"] for w in row if w}
    assert words and words <= {"the", "a", "cat", "mat", "dog", "garden", "offer", "sat", "walked", "ran", "walking",
                               "running", "singing", "on", "in", "through", "1990", "three", "7", "."}


def test_explorer_bad_typed_neuron_and_typed_text(tiny_run):
    token, rid, _ = tiny_run
    at = open_app(token, rid, "pages/explorer.py")
    at.text_input(key="nx_typed").set_value("99:1").run()
    assert not at.exception
    assert at.error and "layer must be in" in at.error[0].value
    at.text_input(key="nx_typed").set_value("0:2").run()
    assert not at.error and heading(at).startswith("### Neuron 0:2 ")
    at.get("button_group")[0].set_value("text").run()
    at.text_area(key="nx_text").set_value("the cat walked through a garden").run()
    assert not at.exception and not at.error
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [w for w in spec["data"][0]["text"][0] if w] == ["the", "cat", "walked", "through", "a", "garden"]


def test_layers_page_tables(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, "pages/layers.py")
    assert not at.exception and not at.error
    hist = at.dataframe[0].value
    assert hist["neurons"].tolist() == list(result.layer_histogram)
    assert len(at.get("plotly_chart")) == 4
    at.selectbox(key="ly_tag").set_value(result.tags[0]).run()
    assert len(at.dataframe[1].value) == len(result.per_tag[result.tags[0]])


def test_playground_predicts_every_word(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, "pages/playground.py")
    at.text_area(key="pg_text").set_value("the dog ran , singing").run()
    assert not at.exception and not at.error
    frame = at.dataframe[0].value
    assert frame["word"].tolist() == ["the", "dog", "ran", ",", "singing"]
    assert set(frame["predicted tag"]) <= set(result.tags)
    fig = plotly.io.from_json(at.get("plotly_chart")[0].proto.spec)
    assert fig.data[0].type == "heatmap" and list(fig.layout.xaxis.ticktext) == ["the", "dog", "ran", ",", "singing"]


def test_playground_empty_text_asks_for_input(tiny_run):
    token, rid, _ = tiny_run
    at = open_app(token, rid, "pages/playground.py")
    at.text_area(key="pg_text").set_value("   ").run()
    assert at.info and "Type a sentence" in at.info[0].value


def test_counts_of_one_are_singular_and_the_playground_says_when_a_tag_has_fewer_neurons(tiny_run, app_cache):
    """Issue 26, item 16: '1 shared neuron' on the Layers page; the Playground's slider asking for more neurons
    than the tag has is answered in words."""
    import dataclasses
    import hashlib

    from lca.runs.store import RunStore

    token, rid, result = tiny_run
    tags = list(result.tags)
    per_tag = {t: [3 * i, 3 * i + 1] for i, t in enumerate(tags)}  # each tag two neurons of its own ...
    per_tag[tags[1]] = [1, 4]  # ... but the second shares one with the first and one with the third
    store, one = RunStore(app_cache / "runs"), hashlib.sha256(b"one-shared").hexdigest()[:16]
    store.save(one, dataclasses.replace(result, per_tag=per_tag), store.load_test_corpus(rid), {"dataset": "one"})
    store.claim(token, one)
    layers = open_app(token, one, "pages/layers.py")
    assert not layers.exception
    assert "1 shared neuron (Jaccard 0.33)" in texts(layers) and "1 shared neurons" not in texts(layers)

    at = open_app(token, one, "pages/playground.py")
    tag = next(t for t in tags if t.isalpha())
    at.selectbox(key="pg_tag").set_value(tag).run()
    assert at.slider(key="pg_k").value == 10
    assert any(c.value == f"{tag} has 2 salient neurons in this run, fewer than the 10 asked for: all of them are "
                          "shown." for c in at.caption), [c.value for c in at.caption]
    fig = plotly.io.from_json(at.get("plotly_chart")[0].proto.spec)
    assert fig.layout.title.text == f"Top 2 neurons of {tag}"


@pytest.fixture
def pair_run(app_cache, tiny_bert, tmp_path):
    """A dependency-pair run (head and dependent halves) over the tiny BERT."""
    from conftest import app_corpus, app_corpus_conllu, fake_run_result
    from lca.store.cache import ActivationCache
    from lca.data.corpus import read_conllu
    from lca.models.extract import load_model
    from lca.runs.result import RunConfig
    from lca.runs.store import RunStore, new_token, run_id

    path = tmp_path / "pairs.conllu"
    path.write_text(app_corpus_conllu(app_corpus(12, 5)))
    test = read_conllu(path)
    result = fake_run_result(load_model(tiny_bert, "cpu"), test, test, ActivationCache(app_cache), task="dep-pair")
    store, token = RunStore(app_cache / "runs"), new_token()
    rid = run_id(RunConfig.from_dict(result.config), test, test)
    store.save(rid, result, test, {"dataset": "pairs"})
    store.claim(token, rid)
    return token, rid, result


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/explorer.py", "pages/layers.py", "pages/playground.py"])
def test_pair_task_pages(pair_run, page):
    token, rid, result = pair_run
    assert result.pair and result.n_neurons == 2 * result.n_layers * result.layer_size
    dep_neuron = "dep 1:2"
    at = open_app(token, rid, page, neuron=dep_neuron)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    if page == "pages/explorer.py":
        assert heading(at).startswith(f"### Neuron {dep_neuron} ")
        assert set(at.dataframe[0].value["tag"]) <= {"root", "dep"}
    if page == "pages/layers.py":
        assert at.dataframe[0].value["layer"].tolist()[result.n_layers] == "dep 0"
    if page == "pages/playground.py":
        assert any("cannot tag single words" in i.value for i in at.info)
