import json

import numpy as np
import pytest

import tiny_models
from lca._validation import InputError
from lca.store.cache import ActivationCache
from lca.data.corpus import Corpus
from lca.models.extract import load_model
from lca.runs.pipeline import STAGES, run_lca
from lca.runs.result import LCAResult, RunConfig, load_result, save_result
from lca.runs.sections import Lambdas

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
    assert 1 <= result.minimal.n_neurons <= 48 and sum(result.layer_histogram) == result.minimal.n_neurons
    # Every figure of the typed sections is filled in (None only marks what old results lack).
    for section in (result.ablation, result.retrain, result.minimal, result.selectivity, result.probeless,
                    result.activation_keys):
        missing = [k for k, v in section.to_dict().items() if v is None and k != "columns"]
        assert not missing, f"{type(section).__name__} lacks {missing}"
    # Every random baseline is drawn random_draws times: the table holds their mean and spread.
    draws = result.ablation_random_draws
    assert len(draws) == CONFIG.random_draws == 5 and len(set(draws)) > 1
    assert result.ablation.random == pytest.approx(np.mean(draws))
    assert result.ablation.random_sd == pytest.approx(np.std(draws, ddof=1))
    assert len(result.retrain.random_draws) == 5
    assert result.retrain.random == pytest.approx(np.mean(result.retrain.random_draws))
    # The oracle's training curve: one point per epoch here, the loss falling.
    curve = result.training_curve
    assert [c["epoch"] for c in curve] == [1, 2, 3, 4] and curve[-1]["loss"] < curve[0]["loss"]
    assert all(0 <= c["dev_accuracy"] <= 1 and c["penalty"] >= 0 for c in curve)
    assert set(result.per_tag) == set(VOCAB.values())
    assert result.weights.shape == (48, len(result.tags))
    assert set(result.timings) == set(STAGES)
    assert result.activation_keys.reused == (False, False)
    # The result survives JSON, and a second run reuses the cached activations.
    path = save_result(result, tmp_path / "run")
    data = json.loads(path.read_text())
    assert all(0 <= data[k] <= 1 for k in ("oracle_accuracy", "noreg_accuracy"))
    again = load_result(tmp_path / "run")
    assert again.to_dict() == result.to_dict() and np.array_equal(again.weights, result.weights)
    second = run_lca(synthetic(120, 0), synthetic(40, 1), CONFIG, loaded=tiny, cache=cache)
    assert second.activation_keys.reused == (True, True)
    assert second.ranking == result.ranking  # seeded and deterministic


def test_seeds_repeat_the_run_and_report_mean_and_spread(tiny, tmp_path):
    config = RunConfig(**{**CONFIG.to_dict(), "grid": (0.0, 1e-3), "seeds": 2})
    result = run_lca(synthetic(120, 0), synthetic(40, 1), config, loaded=tiny, cache=ActivationCache(tmp_path))
    one = run_lca(synthetic(120, 0), synthetic(40, 1), RunConfig(**{**config.to_dict(), "seeds": 1, "seed": 1}),
                  loaded=tiny, cache=ActivationCache(tmp_path))
    assert result.seeds.seeds == (0, 1) and result.config["seeds"] == 2
    figure = result.seeds.figures["oracle_accuracy"]
    assert figure.values == (result.oracle_accuracy, one.oracle_accuracy)  # seed 0 is the result itself
    assert figure.mean == pytest.approx(np.mean(figure.values))
    assert figure.sd == pytest.approx(np.std(figure.values, ddof=1))
    gap = result.seeds.figures["gap"].values
    assert gap[1] == pytest.approx(one.ablation.top - one.ablation.random)
    assert LCAResult.from_dict(result.to_dict()).seeds == result.seeds


def test_fixed_lambdas_skip_the_search(tiny, tmp_path):
    config = RunConfig(**{**CONFIG.to_dict(), "lambdas": (1e-3, 0.0)})
    result = run_lca(synthetic(120, 0), synthetic(40, 1), config, loaded=tiny, cache=ActivationCache(tmp_path))
    assert result.lambdas == Lambdas(1e-3, 0.0) and len(result.grid) == 1
    assert {"gap", "zero_top", "zero_random"} <= set(result.grid[0])


def test_quick_mode_picks_among_the_same_grid(tiny, tmp_path):
    config = RunConfig(**{**CONFIG.to_dict(), "mode": "quick", "grid": (0.0, 1e-4, 1e-1), "min_steps": 200})
    result = run_lca(synthetic(120, 0), synthetic(40, 1), config, loaded=tiny, cache=ActivationCache(tmp_path))
    assert len(result.grid) == 5  # every λ1 with λ2 = 0, then the two other λ2 of the best λ1
    assert (result.lambdas.l1, result.lambdas.l2) in {(r["l1"], r["l2"]) for r in result.grid}


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
                                               for s, tags in zip(test.sentences, test.columns["xpos"]))},
                 name="odd.conllu")
    n_cat = sum(w == "cat" for s in test.sentences for w in s)
    with pytest.raises(InputError, match=rf"{n_cat} words of the test data \(odd.conllu\) have tags never seen in the "
                                         rf"training data \({train.name}\): 'ZZ' \({n_cat} words\)"):
        run_lca(train, odd, CONFIG, loaded=tiny, cache=ActivationCache(tmp_path))
    config = RunConfig(**{**CONFIG.to_dict(), "drop_unseen": True, "grid": (0.0,)})
    result = run_lca(train, odd, config, loaded=tiny, cache=ActivationCache(tmp_path))
    assert result.n_test_words == test.n_words - n_cat and result.dropped_unseen == {"ZZ": n_cat}


def test_the_unseen_tag_message_counts_the_tags_it_does_not_list():
    from lca.data.corpus import Examples
    from lca.runs.pipeline import _encode_labels

    train = Examples("xpos", ("A",) * 3, np.arange(3), ("a",) * 3)
    test = Examples("xpos", tuple(f"T{i}" for i in range(13)) + ("T0",), np.arange(14), ("b",) * 14)
    with pytest.raises(InputError, match=r"14 words of the test data \(test.txt\).*'T0' \(2 words\).* and 3 more tags"):
        _encode_labels(train, test, False, ("train.txt", "test.txt"))


@pytest.mark.parametrize("changes, match", [
    ({"task": "nope"}, "task must be one of"),
    ({"mode": "fast"}, "mode must be one of"),
    ({"delta": 2.0}, "delta must be a fraction"),
    ({"grid": (-1.0,)}, "grid must be"),
    ({"schedule": "cosine"}, "schedule must be one of"),
    ({"lambdas": (0.1,)}, "lambdas must be two penalties"),
    ({"seeds": 0}, "seeds must be"),
])
def test_config_validation(changes, match):
    with pytest.raises(InputError, match=match):
        RunConfig(**changes)


def test_config_round_trip():
    config = RunConfig(task="upos", grid=(0.0, 0.1), mode="quick", lambdas=(0.1, 0.0), seeds=3)
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_modes_train_differently_unless_told():
    assert RunConfig(mode="paper").training() == {"epochs": 10, "batch_size": 512, "lr": 1e-3, "min_steps": 0,
                                                  "schedule": "constant"}
    assert RunConfig(mode="quick").training()["min_steps"] == 8000
    assert RunConfig(mode="quick", lr=1e-3, schedule="constant").training()["lr"] == 1e-3
    with pytest.raises(InputError, match="unknown run settings"):
        RunConfig.from_dict({"tsak": "upos"})


def test_some_layers_only(tiny, tmp_path):
    config = RunConfig(**{**CONFIG.to_dict(), "layers": (2,), "grid": (0.0,)})
    result = run_lca(synthetic(60, 0), synthetic(20, 1), config, loaded=tiny, cache=ActivationCache(tmp_path))
    assert result.n_neurons == 48 and sorted(result.ranking) == list(range(48))
    analysed = set(range(32, 48))
    assert set(result.ranking[:16]) == analysed and set(result.minimal.neurons) <= analysed
    assert result.layer_histogram[:2] == (0, 0) and result.minimal.analysed_neurons == 16
    assert not result.weights[:32].any()
    with pytest.raises(InputError, match=r"layers \[5\] do not exist"):
        run_lca(synthetic(60, 0), synthetic(20, 1), RunConfig(**{**config.to_dict(), "layers": (5,)}), loaded=tiny,
                cache=ActivationCache(tmp_path))
