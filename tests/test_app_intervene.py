"""AppTests of the causal-check page: typed text before and after silencing, the corpus measurement."""
from __future__ import annotations

import plotly.io
import pytest

pytest.importorskip("streamlit")

from test_app_pages import open_app, texts  # noqa: E402

PAGE = "pages/intervene.py"


def test_page_without_run_says_what_to_do(app_cache):
    at = open_app(page=PAGE)
    assert not at.exception
    assert at.info and "No run yet" in at.info[0].value


def test_typed_text_clean_and_silenced_tags(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, PAGE)
    assert not at.exception and not at.error
    at.text_area(key="iv_text").set_value("the dog ran in the garden").run()
    frame = at.dataframe[0].value
    assert frame["word"].tolist() == ["the", "dog", "ran", "in", "the", "garden"]
    columns = [c for c in frame.columns if c.startswith("tag at layer")]
    assert len(columns) == 2 and all(set(frame[c]) <= set(result.tags) for c in columns)
    assert "words** change tag" in texts(at) and "without a pretrained language-model head" in texts(at)


def test_silence_a_tag_and_measure_the_corpus(tiny_run, monkeypatch):
    import lca.causal.effects as effects
    import lca.runs.pipeline as pipeline

    calls = {"probes": 0, "activations": 0}

    def counted(name, fn):
        def call(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return call

    monkeypatch.setattr(effects, "train_probes", counted("probes", effects.train_probes))
    monkeypatch.setattr(pipeline, "corpus_activations", counted("activations", pipeline.corpus_activations))
    token, rid, result = tiny_run
    at = open_app(token, rid, PAGE)
    at.radio(key="iv_what").set_value("a tag's neurons").run()
    tag = at.selectbox(key="iv_tag").value
    assert tag in result.per_tag
    at.number_input(key="iv_draws").set_value(2).run()
    at.number_input(key="iv_heat").set_value(2).run()
    at.button(key="iv_run").click().run()
    assert not at.exception and not at.error
    body = texts(at)
    assert f"Silencing **tag {tag}**" in body and "± " in body and "(2 draws)" in body
    figs = [plotly.io.from_json(c.proto.spec) for c in at.get("plotly_chart")]
    assert figs[0].data[0].type == "bar" and any(f.data[0].type == "heatmap" for f in figs)
    at.radio(key="iv_mode").set_value("mean").run()  # other settings: the last result stays, marked as such
    assert "made with other settings" in texts(at) and not at.exception
    # One probe and one read of the training activations serve the typed text and the corpus measurement.
    assert calls == {"probes": 1, "activations": 1}


def test_bad_neuron_is_a_readable_error(tiny_run):
    token, rid, _ = tiny_run
    at = open_app(token, rid, PAGE)
    at.radio(key="iv_what").set_value("the current neuron").run()
    at.text_input(key="iv_neuron").set_value("9:99").run()
    assert at.error and "layer must be in" in at.error[0].value and not at.exception


def test_the_measurement_says_how_long_and_what_each_number_is(tiny_run):
    """Issue 26, item 14: an estimate before the click once a rate is known, %, and what 'clean' is."""
    token, rid, result = tiny_run
    at = open_app(token, rid, PAGE)
    at.number_input(key="iv_draws").set_value(2).run()
    at.number_input(key="iv_heat").set_value(0).run()
    assert "once per condition, up to 5" in texts(at) and "no time estimate yet" in texts(at)
    at.button(key="iv_run").click().run()
    assert not at.exception and not at.error
    body = texts(at)
    assert "trained on this page, on the clean activations of layer 2 alone" in body
    assert f"not the Overview's oracle accuracy ({result.oracle_accuracy:.2%})" in body
    flow = plotly.io.from_json(at.get("plotly_chart")[0].proto.spec)
    assert list(flow.layout.yaxis.range) == [0, 100] and flow.data[0].x[0].endswith(" silenced")
    at.number_input(key="iv_draws").set_value(3).run()  # the last measurement times the next one
    assert "on this server (from the last measurement here)" in texts(at)
