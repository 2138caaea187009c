"""lca.viz: every figure builds from a run's plain data; activation colours are diverging around zero."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from lca import viz
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
    assert heat.customdata[1][0] == -4.0  # exact value for the hover
    assert "customdata" in heat.hovertemplate
    assert list(fig.layout.yaxis.ticktext) == ["#1", "", "", "#2"]


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
        viz.tag_layer_heatmap(r.per_tag, r.layer_size, r.n_layers, pair),
        viz.tag_overlap(r.per_tag),
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
