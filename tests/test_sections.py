"""The typed sections of a result: round trips, and result.json files written before they were typed."""
from __future__ import annotations

import dataclasses
import json

import pytest

from lca._validation import InputError
from lca.runs.result import SECTIONS, LCAResult, load_result, save_result
from lca.runs.sections import Ablation, ActivationKeys, Minimal, Screen, Section, Seeds, Spread

# A result.json as the first version wrote it: sections as plain dicts, without the keys added since
# (random_sd, random_draws, analysed_neurons, repaired, columns) nor the later fields (seeds, screen, ...).
OLD = {
    "model": "all-MiniLM-L6-v2", "task": "xpos", "n_layers": 2, "layer_size": 3, "n_neurons": 6, "pair": False,
    "tags": ["DT", "NN"], "n_train_words": 40, "n_test_words": 10, "lambdas": {"l1": 0.001, "l2": 0.0},
    "grid": [{"l1": 0.001, "l2": 0.0, "score": 0.5, "accuracy": 0.9}], "oracle_accuracy": 0.9,
    "noreg_accuracy": 0.88, "majority_accuracy": 0.5, "ranking": [4, 1, 0, 2, 3, 5],
    "per_tag": {"DT": [4], "NN": [1]},
    "ablation": {"top": 0.8, "random": 0.5, "bottom": 0.2, "weight_magnitude": 0.6},
    "retrain": {"top": 0.85, "random": 0.6, "bottom": 0.3},
    "minimal": {"n_neurons": 2, "fraction": 0.3333, "accuracy": 0.87, "dev_accuracy": 0.86,
                "oracle_dev_accuracy": 0.88, "tried": [[1, 0.7], [2, 0.86]], "neurons": [4, 1]},
    "selectivity": {"all": 0.3, "top": 0.4, "control_all": 0.6, "control_top": 0.45},
    "probeless": {"accuracy": 0.7, "n_neurons": 2, "ranking_head": [1, 4, 0]},
    "layer_histogram": [1, 1], "timings": {"extract": 0.5}, "config": {"task": "xpos", "seed": 0},
    "activation_keys": {"train": "a" * 64, "test": "b" * 64, "cache_dir": "/tmp/lca", "reused": [False, True],
                        "n_dev_examples": 4},
    "curve": [{"fraction": 0.2, "top": 0.8, "random": 0.5, "bottom": 0.2}],
}


def test_an_old_result_json_opens_with_typed_sections(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "result.json").write_text(json.dumps({**OLD, "seeds": {}, "screen": {}}))
    r = load_result(tmp_path / "old")
    assert r.lambdas.l1 == 0.001 and r.ablation.top == 0.8 and r.ablation.random_sd is None
    assert r.retrain.random_draws == () and r.minimal.neurons == (4, 1) and r.minimal.tried == ((1, 0.7), (2, 0.86))
    assert r.minimal.analysed_neurons is None and r.selectivity.control_top == 0.45
    assert r.activation_keys.reused == (False, True) and r.activation_keys.columns is None
    assert r.seeds is None and r.screen is None and r.probeless.ranking_head == (1, 4, 0)
    again = load_result(save_result(r, tmp_path / "new"))  # written back typed, read back the same
    assert again == r and json.loads((tmp_path / "new" / "activations.json").read_text())["train"] == "a" * 64


def test_sections_round_trip_through_result_json(tmp_path):
    seeds = Seeds((0, 1), {"gap": Spread((0.3, 0.2), 0.25, 0.07)})
    screen = Screen(per_layer=2, columns=(0, 4), seconds=1.5, n_screened=6)
    r = dataclasses.replace(LCAResult.from_dict(OLD), seeds=seeds, screen=screen,
                            activation_keys=ActivationKeys("a", "b", columns=(0, 4)))
    again = load_result(save_result(r, tmp_path))
    assert again == r and again.seeds.figures["gap"].sd == 0.07 and again.screen.columns == (0, 4)
    assert all(isinstance(getattr(again, name), (kind, type(None))) for name, kind in SECTIONS.items())
    assert all(issubclass(kind, Section) for kind in SECTIONS.values())


def test_a_section_is_read_by_its_fields_and_refused_when_incomplete():
    assert Ablation.from_dict(Ablation(0.8, 0.5, 0.2, 0.6, 0.01).to_dict()).random_sd == 0.01
    with pytest.raises(AttributeError):
        Minimal(1, 0.5, 0.9, (3,)).n_neurons = 2  # frozen: Streamlit hands every session the same result
    with pytest.raises(InputError, match="result section 'minimal' cannot be read"):
        LCAResult.from_dict({**OLD, "minimal": {"fraction": 0.5}})
