"""lca.report.viz: every figure builds from a run's plain data; activation colours are diverging around zero."""
from __future__ import annotations

import dataclasses

import numpy as np
import plotly.graph_objects as go
import pytest

from lca.report import layer_tables, viz
from lca.runs.sections import Ablation, Lambdas
from test_runs import fake_result


def test_activation_scale_is_red_blue_with_white_at_zero():
    stops = dict((round(p, 2), c) for p, c in viz.ACTIVATION_SCALE)
    assert stops[0.5] == "#ffffff"
    assert stops[0.0].startswith("#0") and stops[1.0] == "#67001f"


def test_token_heatmap_normalizes_and_keeps_exact_values():
    fig = viz.token_heatmap([["the", "walking", "cat"], ["a"]], [[0.5, 2.0, -4.0], [1.0]], scale=2.0, wrap=2)
    heat = fig.data[0]
    assert isinstance(fig, go.Figure) and heat.zmid == 0 and heat.zmin == -1 and heat.zmax == 1
    assert [list(r) for r in heat.text] == [["the", "walking"], ["cat", ""], ["", ""], ["a", ""]]  # wrapped, spaced
    assert heat.z[1][0] == -1.0 and heat.z[0][1] == 1.0 and heat.z[0][0] == 0.25  # clipped, normalized
    assert heat.customdata[1][0][0] == -4.0  # exact value for the hover
    assert "customdata[0]" in heat.hovertemplate
    assert list(fig.layout.yaxis.ticktext) == ["#1", "", "", "#2"]


def test_token_heatmap_hover_names_each_words_tag():
    fig = viz.token_heatmap([["the", "walking", "cat"]], [[0.5, 2.0, -4.0]], scale=2.0, wrap=2,
                            tags=[["DT", "VBG", "NN"]])
    heat = fig.data[0]
    assert [c[1] for c in heat.customdata[0]] == [" · tag DT", " · tag VBG"]
    assert heat.customdata[1][0][1] == " · tag NN" and heat.customdata[1][1][1] == ""  # padding has no tag
    assert "%{customdata[1]}" in heat.hovertemplate


def test_tag_layer_and_overlap_tables_are_what_the_figures_draw():
    per_tag = {"A": [0, 1, 5], "B": [4, 5], "C": [9]}  # layer_size 2, 5 layers
    table = layer_tables.tag_layer_table(per_tag, 2, 5)
    assert table["tags"] == ["A", "B", "C"] and table["layers"] == ["0", "1", "2", "3", "4"]
    assert table["counts"] == [[2, 0, 1, 0, 0], [0, 0, 2, 0, 0], [0, 0, 0, 0, 1]]
    fig = viz.tag_layer_heatmap(layer_tables.tag_layer_table(per_tag, 2, 5))
    assert [list(r) for r in fig.data[0].z] == table["counts"] and list(fig.data[0].y) == table["tags"]
    pair = layer_tables.tag_layer_table({"A": [0, 10]}, 2, 5, pair=True)  # flat 10 is the dependent's layer 0
    assert pair["layers"][5] == "dep 0" and pair["counts"] == [[1, 0, 0, 0, 0, 1, 0, 0, 0, 0]]
    overlap = layer_tables.tag_overlap_table(per_tag)
    assert overlap["shared"] == [[3, 1, 0], [1, 2, 0], [0, 0, 1]]
    assert overlap["jaccard"][0][1] == pytest.approx(1 / 4) and overlap["jaccard"][0][0] == 1.0
    fig = viz.tag_overlap(layer_tables.tag_overlap_table(per_tag))
    assert fig.data[0].z[0][1] == pytest.approx(1 / 4) and fig.data[0].customdata[0][1] == 1


@pytest.mark.parametrize("counts, share, expected", [
    ([10, 0, 0, 0], 0.5, (0, 0, 1.0)),
    ([1, 2, 3, 4, 5, 6, 7], 0.5, (4, 6, 0.6429)),  # 18 of 28: the top three layers
    ([5, 5, 5, 5], 0.5, (0, 1, 0.5)),  # even: half the layers hold half, the first such window wins
    ([0, 0, 0], 0.5, (0, 2, 0.0)),
])
def test_densest_layers_reads_the_histogram(counts, share, expected):
    assert layer_tables.densest_layers(counts, share) == expected


def test_neurons_heatmap_rows_per_neuron():
    fig = viz.neurons_heatmap(["a", "b"], np.array([[1.0, -2.0], [0.5, 4.0]]), ["0:1", "1:3"], [2.0, 4.0])
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (2, 2) and z[0].tolist() == [0.5, 0.25] and z[1].tolist() == [-0.5, 1.0]


@pytest.mark.parametrize("pair", [False, True])
def test_run_figures_build(pair):
    r = fake_result()
    hist = list(r.layer_histogram) * (2 if pair else 1)
    figs = [
        viz.grid_heatmap(r.grid, r.lambdas),
        viz.accuracy_curve([{"fraction": 0.1, "n_neurons": 1, "top": 0.5, "random": 0.3, "bottom": 0.1}], 0.9, 8),
        viz.ablation_bars(r.oracle_accuracy, r.ablation, 0.2),
        viz.layer_bars(hist, r.n_layers, pair),
        viz.tag_counts(r.per_tag),
        viz.tag_layer_heatmap(layer_tables.tag_layer_table(r.per_tag, r.layer_size, r.n_layers, pair)),
        viz.tag_overlap(layer_tables.tag_overlap_table(r.per_tag)),
        viz.tag_distribution_box({"A": np.array([1.0, 2.0]), "B": np.array([-1.0])}),
        viz.tag_weight_bars([0.5, -0.2], ["A", "B"]),
    ]
    assert all(isinstance(f, go.Figure) for f in figs)
    assert len(figs[3].data) == (2 if pair else 1)
    assert np.asarray(figs[5].data[0].z).shape == (2, 2 * r.n_layers if pair else r.n_layers)
    overlap = figs[6].data[0]
    assert overlap.customdata[0][1] == 1 and overlap.z[0][1] == pytest.approx(1 / 3) and overlap.z[0][0] is None
    assert list(figs[4].data[0].x) == ["DT", "NN"]


def test_figure_html_is_standalone():
    html = viz.figure_html(viz.tag_counts({"A": [1]}))
    assert "<html>" in html[:50] and len(html) > 1_000_000 and "<script src=\"https://cdn" not in html


GRID = [{"l1": a, "l2": b, "score": 0.1, "accuracy": 0.9 - 10 * a - 5 * b, "accuracy_top": 0.7,
         "accuracy_bottom": 0.2, "zero_top": 0.6, "zero_random": 0.5, "gap": 0.1 + 50 * a}
        for a in (0.0, 1e-3, 1e-2) for b in (0.0, 1e-3)]


def test_lambda_tradeoff_plots_every_row_and_rings_the_chosen_one():
    fig = viz.lambda_tradeoff(GRID, Lambdas(1e-2, 1e-3))
    points, chosen = fig.data[0], fig.data[1]
    assert len(points.x) == len(GRID) == 6
    # cost in points against the (0, 0) row's dev accuracy; sharpness = gap in points
    assert list(points.x) == pytest.approx([100 * (0.9 - r["accuracy"]) for r in GRID])
    assert list(points.y) == pytest.approx([100 * r["gap"] for r in GRID])
    assert list(chosen.x) == pytest.approx([100 * (0.1 + 0.005)]) and list(chosen.y) == pytest.approx([60.0])
    assert "λ1 0.01, λ2 0.001" in chosen.customdata[0] and "zero-out top 60.00 %" in chosen.customdata[0]
    assert all("λ1" in h and "gap" in h for h in points.customdata)


def test_lambda_tradeoff_greys_the_dominated_points_and_names_what_beats_them():
    from lca.report.verdict import dominated_points

    beaten = dominated_points(GRID)  # λ2 = 0.001 costs accuracy for the same gap: beaten by λ2 = 0 at each λ1
    assert beaten == {1: 0, 3: 2, 5: 4}
    fig = viz.lambda_tradeoff(GRID, Lambdas(1e-2, 1e-3), dominated=beaten)
    front, chosen, grey = fig.data
    assert len(front.x) == 3 and len(grey.x) == 3 and "dominated" in grey.name and len(chosen.x) == 1
    assert all("dominated by λ1" in h for h in grey.customdata)


@pytest.mark.parametrize("grid, match", [
    ([r for r in GRID if (r["l1"], r["l2"]) != (0.0, 0.0)], r"\(0, 0\) row"),
    ([{k: v for k, v in r.items() if k != "gap"} for r in GRID], "missing at"),
])
def test_lambda_tradeoff_refuses_grids_it_cannot_place(grid, match):
    with pytest.raises(ValueError, match=match):
        viz.lambda_tradeoff(grid, Lambdas(0.0, 0.0))


def test_training_curve_plots_loss_objective_and_dev_accuracy_against_steps():
    curve = [{"epoch": e, "step": 7 * e, "loss": 1.0 / e, "penalty": 0.25, "dev_accuracy": 0.5 + e / 10}
             for e in range(1, 5)]
    fig = viz.training_curve(curve)
    assert [t.name for t in fig.data] == ["loss (cross-entropy)", "loss + penalty (objective)", "development accuracy"]
    assert all(list(t.x) == [7, 14, 21, 28] for t in fig.data)
    assert list(fig.data[0].y) == pytest.approx([1.0, 0.5, 1 / 3, 0.25])
    assert list(fig.data[1].y) == pytest.approx([1.25, 0.75, 1 / 3 + 0.25, 0.5])
    assert list(fig.data[2].y) == pytest.approx([60.0, 70.0, 80.0, 90.0])
    assert fig.data[2].yaxis != fig.data[0].yaxis  # accuracy on its own panel
    with pytest.raises(ValueError, match="at least one row"):
        viz.training_curve([])


def test_ablation_bars_show_the_random_spread_only_when_known():
    ablation = Ablation(top=0.8, random=0.5, random_sd=0.03, bottom=0.2, weight_magnitude=0.6)
    bars = viz.ablation_bars(0.9, ablation, 0.2, draws=5).data[0]
    assert bars.error_y.visible and list(bars.error_y.array) == pytest.approx([0, 0, 3.0, 0, 0])
    assert bars.text[2] == "50.0 ± 3.0" and "mean of 5 draws" in bars.customdata[2]
    old = viz.ablation_bars(0.9, dataclasses.replace(ablation, random_sd=None), 0.2).data[0]  # an old result
    assert not old.error_y.visible and old.text[2] == "50.0"


def test_accuracy_curve_draws_a_band_around_the_random_mean():
    rows = [{"fraction": f, "n_neurons": n, "top": 0.6, "random": 0.4, "random_sd": 0.05, "random_draws": [0.35, 0.45],
             "bottom": 0.2} for f, n in ((0.1, 2), (0.5, 10))]
    fig = viz.accuracy_curve(rows, 0.9, 20)
    upper, lower = fig.data[0], fig.data[1]
    assert list(upper.y) == pytest.approx([45.0, 45.0]) and list(lower.y) == pytest.approx([35.0, 35.0])
    assert lower.fill == "tonexty" and "2 draws" in lower.name
    assert [t.name for t in fig.data[2:]] == ["top", "random", "bottom"]
    old = viz.accuracy_curve([{k: v for k, v in r.items() if not k.startswith("random_")} for r in rows], 0.9, 20)
    assert [t.name for t in old.data] == ["top", "random", "bottom"]
