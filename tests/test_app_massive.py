"""AppTest of the neuron explorer on a run with a massive-activation neuron (planted in its cached test activations):
flagged in a list of its own and on its page, and its heatmap coloured without its peak words."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("streamlit")

from test_app_pages import open_app  # noqa: E402


def test_a_massive_neuron_is_flagged_and_does_not_swamp_its_heatmap(tiny_run, app_cache):
    from lca.runs.store import RunStore
    from lca.store.cache import ActivationCache

    token, rid, result = tiny_run
    cache = ActivationCache(app_cache)
    key = result.activation_keys.test
    acts = np.array(cache.get(key), dtype=np.float32)
    column = 1 * result.layer_size + 3  # neuron 1:3
    corpus = RunStore(app_cache / "runs").load_test_corpus(rid)
    first = corpus.sentence_offsets()[:-1]
    acts[first, column] = 30_000.0  # the attention sink of a decoder, on every sentence's first word
    rest = float(np.abs(np.delete(acts[:, column], first)).max())
    cache.delete(key)
    cache.put(key, acts.shape, lambda out: out.__setitem__(slice(None), acts))

    at = open_app(token, rid, "pages/explorer.py", neuron="1:3", view="top")
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table["neuron"].tolist() == ["1:3"] and "first in their sentence" in table["on"][0]
    assert any("Massive activation: up to 30,000" in w.value for w in at.warning)
    assert any(f"activation ÷ {rest:.4g}" in c.value and f"leaving out its {len(first)} massive words" in c.value
               for c in at.caption)
    heat = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert max(abs(v) for row in heat["z"] for v in row if v is not None) == 1.0  # the sink words: clipped
    at.text_input(key="nx_typed").set_value("0:2").run()  # an ordinary neuron: no warning, the usual scale
    assert not at.warning and not any("massive words" in c.value for c in at.caption)
