"""Values beyond float16's range (decoders' massive activations) survive the activation cache: the matrix is
stored in float32 instead, by the single-worker and the distributed extraction alike; an entry written before
the check that lost values to overflow is recomputed, not served."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from lca.data.corpus import Corpus
from lca.store.cache import FLOAT16_MAX, ActivationCache, Float16Overflow, as_stored

CORPUS = Corpus((("the", "cat", "sat"), ("dogs", "were", "running", "."), ("in", "1990", ",", "paris")),
                {"xpos": (("DT", "NN", "VBD"), ("NNS", "VBD", "VBG", "."), ("IN", "CD", ",", "NNP"))}, name="c")


@pytest.fixture(scope="module")
def massive(tmp_path_factory):
    """A tiny random Llama whose embeddings reach ~1e6: every layer holds values float16 cannot."""
    import tiny_decoders

    from lca.models.loading import load_model

    loaded = load_model(str(tiny_decoders.build("llama", tmp_path_factory.mktemp("massive"))), "cpu")
    model = dataclasses.replace(loaded, model=copy.deepcopy(loaded.model))
    with torch.no_grad():
        model.model.get_input_embeddings().weight.mul_(5e6)
    return model


def test_as_stored_refuses_only_finite_values_float16_cannot_hold():
    assert as_stored(np.array([FLOAT16_MAX, -1.0], np.float32), np.float16).tolist() == [FLOAT16_MAX, -1.0]
    assert np.isinf(as_stored(np.array([np.inf, 1.0], np.float32), np.float16)[0])  # the model's own inf: kept
    with pytest.raises(Float16Overflow, match="1 activations beyond float16's range"):
        as_stored(np.array([[1.0, 70_000.0]], np.float32), np.float16)
    assert as_stored(np.array([70_000.0], np.float32), np.float32)[0] == 70_000.0


def test_cache_stores_an_overflowing_matrix_in_float32(tmp_path):
    cache = ActivationCache(tmp_path)
    big = np.array([[1.5, -3e5], [2.5e4, 7e4]], np.float32)
    calls = []

    def fill(out):
        calls.append(out.dtype)
        out[:] = as_stored(big, out.dtype)

    array, hit = cache.get_or_compute("k", big.shape, fill)
    assert calls == [np.float16, np.float32] and not hit
    assert array.dtype == np.float32 and np.array_equal(array, big)
    again, hit = ActivationCache(tmp_path).get_or_compute("k", big.shape, fill)
    assert hit and again.dtype == np.float32 and np.array_equal(again, big) and len(calls) == 2
    entry = next(e for e in cache.entries() if e["key"] == "k")
    assert entry["dtype"] == "float32" and "beyond float16's range" in entry["overflow"]


def test_massive_activations_survive_extraction_and_the_cache(massive, tmp_path):
    from lca.models.extract import extract_activations
    from lca.runs.pipeline import corpus_activations

    exact = np.empty((CORPUS.n_words, massive.n_neurons), np.float32)
    extract_activations(massive, CORPUS.sentences, out=exact)
    assert np.abs(exact).max() > 10 * FLOAT16_MAX and np.isfinite(exact).all()
    cached, _, hit = corpus_activations(massive, CORPUS, cache=ActivationCache(tmp_path))
    assert not hit and cached.dtype == np.float32 and np.array_equal(cached, exact)
    own = extract_activations(massive, CORPUS.sentences)  # no `out`: allocated float16, widened on overflow
    assert own.dtype == np.float32 and np.array_equal(own, exact)


def test_distributed_extraction_widens_too(massive, tmp_path):
    from lca.models.sites import site_layout
    from lca.runs.inputs import ModelKey
    from lca.runs.pipeline import corpus_activations
    from lca.scale.distributed import extract_distributed, extract_shard

    single, key, _ = corpus_activations(massive, CORPUS, cache=ActivationCache(tmp_path / "one"))
    split, split_key, hit = extract_distributed(
        ModelKey.of(massive), site_layout(massive, "hidden"), CORPUS, "last", ActivationCache(tmp_path / "two"), 2,
        lambda jobs: [extract_shard(massive, *job) for job in jobs])
    assert split_key == key and not hit and split.dtype == np.float32 and np.array_equal(split, single)


def test_an_old_entry_that_lost_values_to_overflow_is_recomputed(tmp_path):
    cache = ActivationCache(tmp_path)
    cache.put("k", (2, 2), lambda out: out.fill(1))
    cache.put("inf", (2, 2), lambda out: out.fill(np.inf))  # what a float16 cast of 7e4 used to leave
    for key in ("k", "inf"):  # as written before overflow was checked: no "dtype" in the index
        cache._index.set(key, {k: v for k, v in cache._index.get(key).items() if k != "dtype"})
    assert cache.get("k") is not None and cache._index.get("k")["dtype"] == "float16"  # checked once, then marked
    assert cache.get("inf") is None and "inf" not in [e["key"] for e in cache.entries()]
