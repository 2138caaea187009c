import json

import numpy as np
import pytest

import tiny_models
from lca._validation import InputError
from lca.cache import ActivationCache
from lca.data import Corpus
from lca.extract import load_model
from lca.pipeline import STAGES, run_lca
from lca.result import LCAResult, RunConfig, load_result, save_result

VOCAB = {"the": "DT", "a": "DT", "cat": "NN", "dog": "NN", "mat": "NN", "sat": "VBD", "ran": "VBD",
         "on": "IN", "in": "IN", "quickly": "RB", ".": "."}


def synthetic(n, seed):
    rng = np.random.default_rng(seed)
    words = list(VOCAB)
    sentences = [tuple(rng.choice(words, size=rng.integers(4, 9))) for _ in range(n)]
    return Corpus(tuple(sentences), {"xpos": tuple(tuple(VOCAB[w] for w in s) for s in sentences)}, name=f"syn{seed}")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_model(str(tiny_models.build("bert", tmp_path_factory.mktemp("m"), hidden=16)), device="cpu")


CONFIG = RunConfig(task="xpos", grid=(0.0, 1e-3), epochs=4, batch_size=32, lr=0.02, device="cpu")


def test_whole_pipeline_on_a_tiny_model(tiny, tmp_path):
    stages = []
    cache = ActivationCache(tmp_path / "cache")
    result = run_lca(synthetic(120, 0), synthetic(40, 1), CONFIG, loaded=tiny, cache=cache,
                     progress=lambda stage, f: stages.append(stage))
    assert list(dict.fromkeys(stages)) == list(STAGES)
    assert result.n_neurons == 3 * 16 and sorted(result.ranking) == list(range(48))
    assert len(result.grid) == 4 and {"l1", "l2", "score", "accuracy", "accuracy_top", "accuracy_bottom"} <= set(result.grid[0])
    assert result.oracle_accuracy > result.majority_accuracy + 0.2
    assert 1 <= result.minimal["n_neurons"] <= 48 and sum(result.layer_histogram) == result.minimal["n_neurons"]
    assert set(result.ablation) == {"top", "random", "bottom", "weight_magnitude"}
    assert set(result.retrain) == {"top", "random", "bottom"} and set(result.selectivity) >= {"all", "top"}
    assert set(result.per_tag) == set(VOCAB.values())
    assert result.weights.shape == (48, len(result.tags))
    assert set(result.timings) == set(STAGES)
    assert result.activation_keys["reused"] == [False, False]
    # The result survives JSON, and a second run reuses the cached activations.
    path = save_result(result, tmp_path / "run")
    data = json.loads(path.read_text())
    assert all(0 <= data[k] <= 1 for k in ("oracle_accuracy", "noreg_accuracy"))
    again = load_result(tmp_path / "run")
    assert again.to_dict() == result.to_dict() and np.array_equal(again.weights, result.weights)
    second = run_lca(synthetic(120, 0), synthetic(40, 1), CONFIG, loaded=tiny, cache=cache)
    assert second.activation_keys["reused"] == [True, True]
    assert second.ranking == result.ranking  # seeded and deterministic


def test_quick_mode_picks_among_the_same_grid(tiny, tmp_path):
    config = RunConfig(**{**CONFIG.to_dict(), "mode": "quick", "grid": (0.0, 1e-4, 1e-1)})
    result = run_lca(synthetic(120, 0), synthetic(40, 1), config, loaded=tiny, cache=ActivationCache(tmp_path))
    assert len(result.grid) == 5  # every λ1 with λ2 = 0, then the two other λ2 of the best λ1
    assert (result.lambdas["l1"], result.lambdas["l2"]) in {(r["l1"], r["l2"]) for r in result.grid}


def test_pair_task_doubles_the_neurons(tiny, tmp_path):
    train, test = synthetic(60, 0), synthetic(20, 1)
    def with_heads(c):
        heads = tuple(tuple(0 if i == 0 else 1 for i in range(len(s))) for s in c.sentences)
        rels = tuple(tuple("root" if i == 0 else ("det" if w in ("the", "a") else "dep") for i, w in enumerate(s))
                     for s in c.sentences)
        return Corpus(c.sentences, {**c.columns, "deprel": rels}, heads, c.name)
    config = RunConfig(**{**CONFIG.to_dict(), "task": "dep-pair", "grid": (0.0,)})
    result = run_lca(with_heads(train), with_heads(test), config, loaded=tiny, cache=ActivationCache(tmp_path))
    assert result.pair and result.n_neurons == 2 * 48 and len(result.layer_histogram) == 6


def test_unseen_test_tag_is_an_error_unless_dropped(tiny, tmp_path):
    train, test = synthetic(30, 0), synthetic(10, 1)
    odd = Corpus(test.sentences, {"xpos": tuple(tuple("ZZ" if w == "cat" else t for w, t in zip(s, tags))
                                               for s, tags in zip(test.sentences, test.columns["xpos"]))})
    with pytest.raises(InputError, match="test tags never seen in training: 'ZZ'"):
        run_lca(train, odd, CONFIG, loaded=tiny, cache=ActivationCache(tmp_path))
    config = RunConfig(**{**CONFIG.to_dict(), "drop_unseen": True, "grid": (0.0,)})
    result = run_lca(train, odd, config, loaded=tiny, cache=ActivationCache(tmp_path))
    assert result.n_test_words < test.n_words


@pytest.mark.parametrize("changes, match", [
    ({"task": "nope"}, "task must be one of"),
    ({"mode": "fast"}, "mode must be one of"),
    ({"delta": 2.0}, "delta must be a fraction"),
    ({"grid": (-1.0,)}, "grid must be"),
])
def test_config_validation(changes, match):
    with pytest.raises(InputError, match=match):
        RunConfig(**changes)


def test_config_round_trip():
    config = RunConfig(task="upos", grid=(0.0, 0.1), mode="quick")
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(InputError, match="unknown run settings"):
        RunConfig.from_dict({"tsak": "upos"})


def test_some_layers_only(tiny, tmp_path):
    config = RunConfig(**{**CONFIG.to_dict(), "layers": (2,), "grid": (0.0,)})
    result = run_lca(synthetic(60, 0), synthetic(20, 1), config, loaded=tiny, cache=ActivationCache(tmp_path))
    assert result.n_neurons == 48 and sorted(result.ranking) == list(range(48))
    analysed = set(range(32, 48))
    assert set(result.ranking[:16]) == analysed and set(result.minimal["neurons"]) <= analysed
    assert result.layer_histogram[:2] == (0, 0) and result.minimal["analysed_neurons"] == 16
    assert not result.weights[:32].any()
    with pytest.raises(InputError, match=r"layers \[5\] do not exist"):
        run_lca(synthetic(60, 0), synthetic(20, 1), RunConfig(**{**config.to_dict(), "layers": (5,)}), loaded=tiny,
                cache=ActivationCache(tmp_path))
