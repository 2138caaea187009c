"""The run store: deterministic ids, save/load round trip, per-session ownership."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import app_corpus
from lca._validation import InputError
from lca.runs.result import LCAResult, RunConfig
from lca.runs.store import RunStore, check_token, corpus_fingerprint, corpus_from_dict, corpus_to_dict, new_token, run_id


def fake_result(n_layers=2, size=4, tags=("DT", "NN")) -> LCAResult:
    D = n_layers * size
    return LCAResult(
        model="m", task="xpos", n_layers=n_layers, layer_size=size, n_neurons=D, pair=False, tags=tags,
        n_train_words=10, n_test_words=5, lambdas={"l1": 0.0, "l2": 0.0},
        grid=({"l1": 0.0, "l2": 0.0, "score": 0.1, "accuracy": 0.9, "accuracy_top": 0.8, "accuracy_bottom": 0.2},),
        oracle_accuracy=0.9, noreg_accuracy=0.9, majority_accuracy=0.5, ranking=tuple(range(D)),
        per_tag={"DT": [0, 1], "NN": [1, 2]}, ablation={"top": 0.8, "random": 0.5, "bottom": 0.2, "weight_magnitude": 0.5},
        retrain={"top": 0.85, "random": 0.6, "bottom": 0.3}, minimal={"n_neurons": 3, "fraction": 3 / D, "accuracy": 0.88,
                                                                        "neurons": [0, 1, 2]},
        selectivity={"all": 0.3, "top": 0.4, "control_all": 0.6, "control_top": 0.45}, probeless={"accuracy": 0.7},
        layer_histogram=(3, 0), timings={}, config=RunConfig().to_dict(), activation_keys={"train": "a", "test": "b"},
        weights=np.arange(D * len(tags), dtype=np.float32).reshape(D, len(tags)))


def test_run_id_is_deterministic_and_sensitive():
    a, b = app_corpus(5, 1), app_corpus(5, 2)
    assert run_id(RunConfig(), a, b) == run_id(RunConfig(), app_corpus(5, 1), app_corpus(5, 2))
    assert run_id(RunConfig(), a, b) == run_id(RunConfig(device="cpu"), a, b)  # where it runs does not count
    assert run_id(RunConfig(), a, b) != run_id(RunConfig(), b, a)
    assert run_id(RunConfig(), a, b) != run_id(RunConfig(task="suffix"), a, b)
    relabelled = type(a)(a.sentences, {"xpos": tuple(tuple("X" for _ in s) for s in a.sentences)})
    assert corpus_fingerprint(a) != corpus_fingerprint(relabelled)  # labels count, not only words
    assert len(run_id(RunConfig(), a, b)) == 16


def test_corpus_json_round_trip():
    c = app_corpus(3, 0)
    assert corpus_from_dict(json.loads(json.dumps(corpus_to_dict(c)))) == c


def test_store_round_trip_and_sessions(tmp_path):
    store, result, test = RunStore(tmp_path), fake_result(), app_corpus(3, 0)
    rid = "0123456789abcdef"
    store.save(rid, result, test, {"dataset": "tiny"})
    loaded = store.load(rid)
    assert loaded == result and np.array_equal(loaded.weights, result.weights)
    assert store.load_test_corpus(rid) == test
    assert store.meta(rid)["dataset"] == "tiny"
    alice, bob = new_token(), new_token()
    store.claim(alice, rid)
    assert store.session_runs(alice) == [rid] and store.session_runs(bob) == []
    store.claim(alice, "fedcba9876543210")  # not on disk: not listed
    assert store.session_runs(alice) == [rid]
    assert [m["run_id"] for m in store.list(alice)] == [rid] and store.list(bob) == []


def test_second_save_of_same_run_keeps_first(tmp_path):
    store = RunStore(tmp_path)
    rid = "00000000000000aa"
    store.save(rid, fake_result(), app_corpus(3, 0))
    first = store.meta(rid)["created"]
    store.save(rid, fake_result(), app_corpus(3, 0))
    assert store.meta(rid)["created"] == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("token", ["", "../x", "A" * 32, "0" * 31, None, 5])
def test_bad_tokens_are_refused(tmp_path, token):
    with pytest.raises(InputError, match="session token"):
        check_token(token)


@pytest.mark.parametrize("rid", ["../../etc", "0" * 15, "G" * 16])
def test_bad_run_ids_are_refused(tmp_path, rid):
    with pytest.raises(InputError, match="run id"):
        RunStore(tmp_path).path(rid)


def test_run_config_fills_the_defaults_an_old_result_lacks():
    import dataclasses

    old = dataclasses.replace(fake_result(), config={"task": "xpos", "seed": 3, "a_setting_since_removed": 1})
    assert old.run_config == RunConfig(task="xpos", seed=3)
    assert fake_result().run_config == RunConfig.from_dict(fake_result().config)


def test_a_store_run_is_labelled_from_its_meta(tmp_path):
    from lca.runs.store import folder_label, run_label

    store, rid = RunStore(tmp_path), "0123456789abcdef"
    store.save(rid, fake_result(), app_corpus(3, 0), {"dataset": "tiny", "model_label": "/m/bert"})
    assert folder_label(store.path(rid)) == run_label(store.meta(rid), "data") == "xpos · bert · tiny"
    assert run_label(store.meta(rid)).startswith("xpos · bert · tiny · ") and rid[:6] in run_label(store.meta(rid))
    (tmp_path / "elsewhere").mkdir()  # a run folder of the command line: its name
    assert folder_label(tmp_path / "elsewhere") == "elsewhere"
