"""Comparing finished runs: known answers on hand-made results, the figures, and the `compare` command."""
from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest

from lca.report import compare_viz
from lca._validation import InputError
from lca.cli.main import main
from lca.report.compare import compare_results, jaccard, mean_layer, tag_overlap_matrix
from lca.scale.parallel import parallel_corpora
from lca.runs.result import LCAResult, save_result
from lca.runs.sections import Ablation, ActivationKeys, Lambdas, Minimal, Probeless, Retrain, Selectivity


def fake_result(minimal, per_tag, n_layers=3, layer_size=4, model="m", task="xpos", pair=False, acc=0.9) -> LCAResult:
    """A finished run with a chosen minimal set and per-tag sets (flat ids = layer * layer_size + unit)."""
    D = n_layers * layer_size * (2 if pair else 1)
    hist = np.bincount(np.asarray(minimal, dtype=int) // layer_size, minlength=D // layer_size).tolist()
    tags = tuple(sorted(per_tag))
    return LCAResult(
        model=model, task=task, n_layers=n_layers, layer_size=layer_size, n_neurons=n_layers * layer_size, pair=pair,
        tags=tags, n_train_words=100, n_test_words=50, lambdas=Lambdas(1e-5, 1e-5), grid=(), oracle_accuracy=acc,
        noreg_accuracy=acc, majority_accuracy=0.3, ranking=tuple(range(D)), per_tag={t: list(v) for t, v in per_tag.items()},
        ablation=Ablation(top=0.8, random=0.5, bottom=0.2, weight_magnitude=0.7),
        retrain=Retrain(top=0.85, random=0.6, bottom=0.3),
        minimal=Minimal(n_neurons=len(minimal), fraction=len(minimal) / D, accuracy=acc - 0.01, neurons=tuple(minimal)),
        selectivity=Selectivity(all=0.2, top=0.25), probeless=Probeless(accuracy=0.7), layer_histogram=tuple(hist),
        timings={}, config={}, activation_keys=ActivationKeys("", ""), weights=np.zeros((D, len(tags)), dtype=np.float32))


@pytest.fixture
def pair_of_runs():
    base = fake_result([8, 9, 10, 4], {"NN": [8, 9], "DT": [10], "VB": [4]})  # layers 2, 2, 2, 1: mean 1.75
    tuned = fake_result([0, 1, 4, 8], {"NN": [0, 8], "DT": [1]})  # layers 0, 0, 1, 2: mean 0.75
    return base, tuned


def test_mean_layer_and_jaccard_known_answers(pair_of_runs):
    base, tuned = pair_of_runs
    assert mean_layer(base) == pytest.approx(1.75) and mean_layer(tuned) == pytest.approx(0.75)
    assert jaccard([], []) == 0.0 and jaccard([1], [1]) == 1.0


def test_comparison_of_base_and_finetuned(pair_of_runs):
    c = compare_results(pair_of_runs, ["base", "tuned"])
    assert c.shifts[0]["delta_layer"] == pytest.approx(-1.0)
    assert c.shifts[0]["delta_depth"] == pytest.approx(-0.5)  # 3 layers: depth = layer / 2
    assert c.layers[0]["counts"] == [0, 1, 3] and sum(c.layers[1]["shares"]) == pytest.approx(1)
    assert c.shared_tags == ("NN", "DT") and c.tag_counts["NN"] == [2, 2]  # VB is not in the second run
    (o,) = c.overlaps
    assert o["shared"] == 2 and o["jaccard"] == pytest.approx(2 / 6, abs=1e-4)  # {4, 8} of {0, 1, 4, 8, 9, 10}
    assert o["per_tag"]["NN"] == pytest.approx(1 / 3, abs=1e-4)
    assert c.rows[0]["oracle"] == 90.0 and c.rows[0]["minimal_n"] == 4
    assert json.loads(json.dumps(c.to_dict()))["labels"] == ["base", "tuned"]


def test_different_models_have_no_overlap_and_relative_depth():
    small = fake_result([0, 4], {"NN": [0, 4]}, n_layers=3, model="small")
    deep = fake_result([0, 4, 20], {"NN": [20]}, n_layers=6, model="deep")
    c = compare_results([small, deep])
    assert c.overlaps == () and c.labels == ("xpos · small", "xpos · deep")
    assert c.layers[1]["depth"][-1] == 1.0 and c.mean_depth[0] == pytest.approx(0.25)
    fig = compare_viz.layer_distribution(c)
    assert isinstance(fig.data[0], go.Scatter)  # different depths: lines over relative depth
    assert "shift_1" not in compare_viz.all_figures(c)


def test_pair_task_folds_heads_and_dependents():
    r = fake_result([0, 13], {"x": [0]}, n_layers=3, pair=True)  # 13 = dependent half, layer 0 (unit 1)
    assert mean_layer(r) == 0.0 and compare_results([r, r]).labels[1].endswith("(2)")


def test_tag_overlap_matrix_pos_against_sem():
    pos = fake_result([0, 1, 2], {"NN": [0, 1], "DT": [2]})
    sem = fake_result([1, 2], {"CON": [1], "DEF": [2]}, task="sem")
    tags_a, tags_b, m = tag_overlap_matrix(pos, sem)
    assert tags_a == ["NN", "DT"] and m[tags_a.index("DT"), tags_b.index("DEF")] == 1.0
    with pytest.raises(InputError, match="same model"):
        tag_overlap_matrix(pos, fake_result([0], {"NN": [0]}, model="other"))


def test_every_figure_is_a_plotly_figure(pair_of_runs):
    figs = compare_viz.all_figures(compare_results(pair_of_runs, ["base", "tuned"]))
    assert {"layers", "layers_panels", "accuracy", "shift_1", "tags", "overlap"} <= set(figs)
    assert all(isinstance(f, go.Figure) for f in figs.values())
    assert "1.75 → 0.75" in figs["shift_1"].layout.title.text


@pytest.mark.parametrize("results, labels, match", [
    (lambda b, t: [b], None, "at least 2 runs"),
    (lambda b, t: [b, t], ["one"], "one label per run"),
])
def test_bad_comparisons(pair_of_runs, results, labels, match):
    with pytest.raises(InputError, match=match):
        compare_results(results(*pair_of_runs), labels)


def test_compare_command_prints_and_writes(tmp_path, pair_of_runs, capsys):
    for name, r in zip(("base", "tuned"), pair_of_runs):
        save_result(r, tmp_path / name)
    code = main(["compare", str(tmp_path / "base"), str(tmp_path / "tuned"), "--out", str(tmp_path / "cmp")])
    out = capsys.readouterr().out
    assert code == 0 and "1.75 -> 0.75" in out and "Jaccard 0.333" in out and "oracle %" in out
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert data["labels"] == ["base", "tuned"] and 'id="shift_1"' in (tmp_path / "cmp" / "compare.html").read_text()
    assert not math.isnan(data["mean_layer"][0])


def test_compare_command_errors_are_one_line(tmp_path, capsys):
    code = main(["compare", str(tmp_path), str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "no result.json" in err


def test_parallel_pud_splits_are_aligned(shared_data, monkeypatch):
    monkeypatch.setenv("LCA_DATA_DIR", str(shared_data))
    out = parallel_corpora(["ud-pud-en", "ud-pud-de"])
    (en_train, en_test), (_, de_test) = out["ud-pud-en"], out["ud-pud-de"]
    assert len(en_test.sentences) == len(de_test.sentences) == 200 and len(en_train.sentences) == 800
    assert "upos" in en_test.columns and "upos" in de_test.columns
    with pytest.raises(InputError, match="at least 2"):
        parallel_corpora(["ud-pud-en"])
    with pytest.raises(InputError, match="single-split"):
        parallel_corpora(["ud-pud-en", "ud-english-ewt"])


def test_compare_command_parallel_runs_then_compares(tmp_path, pair_of_runs, monkeypatch, capsys):
    import lca.scale.parallel

    def fake_run_parallel(names, config, out, cache=None, progress_for=None):
        assert names == ["ud-pud-en", "ud-pud-de"] and config.task == "upos" and config.drop_unseen
        folders = [out / n for n in names]
        for folder, r in zip(folders, pair_of_runs):
            save_result(r, folder)
        return folders

    monkeypatch.setattr(lca.scale.parallel, "run_parallel", fake_run_parallel)
    assert main(["compare", "--parallel", "ud-pud-en,ud-pud-de", "--out", str(tmp_path)]) == 0
    assert "ud-pud-en vs ud-pud-de: minimal sets Jaccard" in capsys.readouterr().out
    assert main(["compare", "--parallel", "ud-pud-en,ud-pud-de"]) == 2
    assert "--parallel needs --out" in capsys.readouterr().err
