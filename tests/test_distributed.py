"""Distributed extraction: two workers write one cache entry bit for bit equal to one worker's."""
from __future__ import annotations

import numpy as np
import pytest
import ray_helpers

from lca._validation import InputError
from lca.store.cache import ActivationCache
from lca.scale.distributed import extract_distributed, extract_shard, shard_bounds, verify_shards
from lca.models.extract import plan_extraction
from lca.models.sites import site_layout
from lca.runs.inputs import ModelKey


def _model(loaded):
    """What a coordinator that loaded no model knows of it: its cache key and its hidden site's layout."""
    return ModelKey.of(loaded), site_layout(loaded, "hidden")


@pytest.fixture(scope="module")
def model_and_corpus():
    from lca.data.datasets import sample_sentences, train_test
    from lca.models.extract import load_model

    train, _ = train_test("demo")
    return load_model(device="cpu"), sample_sentences(train, 150)


@pytest.mark.parametrize("costs, n, expected", [
    ([1, 1, 1, 1], 2, [(0, 2), (2, 4)]),
    ([10, 1, 1, 1, 1], 2, [(0, 1), (1, 5)]),
    ([1, 1], 3, [(0, 1), (1, 2), (2, 2)]),
])
def test_shards_are_consecutive_and_cover_every_batch(costs, n, expected):
    bounds = shard_bounds(costs, n)
    assert bounds == expected
    assert bounds[0][0] == 0 and bounds[-1][1] == len(costs)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))


def test_two_ray_workers_write_the_single_worker_array_bit_for_bit(model_and_corpus, tmp_path):
    ray = pytest.importorskip("ray")
    from lca.runs.pipeline import corpus_activations

    loaded, corpus = model_and_corpus
    assert len(list(plan_extraction(loaded, corpus.sentences)[0])) >= 2  # both workers get batches
    single, key, hit = corpus_activations(loaded, corpus, "last", ActivationCache(tmp_path / "one"))
    assert not hit

    with ray_helpers.local_ray(num_cpus=2) as note:  # shut down after, and checked: no Ray process left
        # Each worker loads its own model, as on a cluster.
        shard = ray.remote(lambda *job: extract_shard(__import__("lca").load_model(device="cpu"), *job))
        shares = []

        def map_shards(jobs):
            done = ray.get([shard.remote(*job) for job in jobs])
            note()
            shares.extend(len(d["rows"]) for d in done)
            return done

        cache = ActivationCache(tmp_path / "two")
        split, split_key, split_hit = extract_distributed(*_model(loaded), corpus, "last", cache, 2, map_shards)
    assert split_key == key and not split_hit
    assert len(shares) == 2 and all(n > 0 for n in shares) and sum(shares) == corpus.n_words
    assert split.dtype == np.float16 and split.shape == single.shape
    assert np.array_equal(np.asarray(split).view(np.uint16), np.asarray(single).view(np.uint16))
    again, _, hit = extract_distributed(*_model(loaded), corpus, "last", cache, 2, None)  # registered: served, digest checked
    assert hit and np.array_equal(np.asarray(again), np.asarray(split))
    assert sorted(p.name for p in cache.directory.glob("*.npy")) == [f"{key}.npy"]  # no partial file left


def test_a_shard_that_does_not_read_back_is_refused_and_nothing_is_registered(model_and_corpus, tmp_path):
    loaded, corpus = model_and_corpus
    cache = ActivationCache(tmp_path)

    def tampering(jobs):  # a lost write: one row changed after its worker digested it
        done = [extract_shard(loaded, *job) for job in jobs]
        out = np.load(jobs[0][2], mmap_mode="r+")
        out[done[1]["rows"][0], 0] += 1
        out.flush()
        return done

    with pytest.raises(InputError, match=r"shards \[1\] do not read back as written"):
        extract_distributed(*_model(loaded), corpus, "last", cache, 2, tampering)
    assert not list(cache.directory.glob("*.npy"))

    def dropping(jobs):  # a shard that lost its rows
        done = [extract_shard(loaded, *job) for job in jobs]
        done[0]["rows"] = done[0]["rows"][1:]
        return done

    with pytest.raises(InputError, match=r"wrote \d+ distinct rows of \d+"):
        extract_distributed(*_model(loaded), corpus, "last", cache, 2, dropping)
    assert not list(cache.directory.glob("*.npy"))


def test_shards_of_some_layers_write_what_a_layers_run_reads(model_and_corpus, tmp_path):
    from lca.runs.inputs import held_columns
    from lca.runs.pipeline import corpus_activations
    from lca.runs.result import RunConfig

    loaded, corpus = model_and_corpus
    model, layout = _model(loaded)
    columns = held_columns(RunConfig(layers=(5, 6)), layout)
    single, key, _ = corpus_activations(loaded, corpus, "average", ActivationCache(tmp_path / "one"), columns=columns)
    split, split_key, _ = extract_distributed(model, layout, corpus, "average", ActivationCache(tmp_path / "two"), 2,
                                              lambda jobs: [extract_shard(loaded, *job) for job in jobs], columns)
    assert split_key == key and split.shape == (corpus.n_words, 2 * loaded.layer_size)
    assert np.array_equal(np.asarray(split).view(np.uint16), np.asarray(single).view(np.uint16))

    def elsewhere(jobs):  # a worker whose model ran in another precision than the key says
        return [{**extract_shard(loaded, *job), "compute": "bfloat16"} for job in jobs]

    cache = ActivationCache(tmp_path / "three")
    with pytest.raises(InputError, match=r"shards ran .* in \['bfloat16'\], the entry is keyed float32"):
        extract_distributed(model, layout, corpus, "average", cache, 2, elsewhere, columns)
    assert not list(cache.directory.glob("*.npy"))


def test_verify_shards_refuses_rows_written_twice(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.zeros((3, 2), dtype=np.float16))
    shards = [{"shard": 0, "rows": np.array([0, 1]), "digest": ""},
              {"shard": 1, "rows": np.array([1, 2]), "digest": ""}]
    with pytest.raises(InputError, match=r"3 distinct rows of 3 \(1 twice\)"):
        verify_shards(str(path), shards, 3)
