"""Plotly figures of a :class:`lca.report.compare.Comparison`: the paper's side-by-side charts.

Every function returns a ``plotly.graph_objects.Figure`` and nothing else (no ``.show()``,
no streamlit), except :func:`write_report`, which writes them all with the comparison's data.
Runs keep one colour each across all figures.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..store.atomic import write_json_atomic, write_text_atomic
from .compare import Comparison

__all__ = ["RUN_COLORS", "layer_distribution", "layer_small_multiples", "layer_shift", "accuracy_bars",
           "shared_tag_counts", "overlap_heatmap", "tag_overlap_heatmap", "all_figures", "write_report"]

RUN_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
_FONT = dict(family="Source Sans Pro, sans-serif", size=13)


def _color(i: int) -> str:
    return RUN_COLORS[i % len(RUN_COLORS)]


def _layout(fig: go.Figure, title: str, height: int | None = None, **kw) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xanchor="left"), template="plotly_white", font=_FONT,
                      margin=dict(l=10, r=10, t=60 if title else 20, b=10), height=height, **kw)
    return fig


def _same_depth(c: Comparison) -> bool:
    return len({len(lay["counts"]) for lay in c.layers}) == 1


def layer_distribution(c: Comparison, relative: bool | None = None,
                       title: str = "Where each run's minimal set sits (share of the set per layer; Figs. 6, 8, 10)"
                       ) -> go.Figure:
    """Share of each run's minimal set per layer: grouped bars when every model has the same depth,
    else lines over relative depth (0 = embeddings, 1 = last layer).  ``relative`` forces either."""
    relative = (not _same_depth(c)) if relative is None else relative
    fig = go.Figure()
    for i, (label, lay) in enumerate(zip(c.labels, c.layers)):
        share = [100 * s for s in lay["shares"]]
        counts = lay["counts"]
        if relative:
            fig.add_trace(go.Scatter(x=lay["depth"], y=share, mode="lines+markers", name=label,
                                     line=dict(color=_color(i)), customdata=np.c_[np.arange(len(counts)), counts],
                                     hovertemplate="layer %{customdata[0]} (depth %{x:.2f}): %{y:.1f} % "
                                                   "(%{customdata[1]} neurons)<extra>" + label + "</extra>"))
        else:
            fig.add_trace(go.Bar(x=[str(k) for k in range(len(counts))], y=share, name=label, marker_color=_color(i),
                                 customdata=counts,
                                 hovertemplate="layer %{x}: %{y:.1f} % (%{customdata} neurons)<extra>" + label + "</extra>"))
    if relative:
        fig.update_xaxes(title="relative depth (0 = embeddings, 1 = last layer)", range=[-0.03, 1.03])
    else:
        fig.update_xaxes(title="layer (0 = embeddings)", type="category")
    fig.update_yaxes(title="% of the minimal set", rangemode="tozero")
    return _layout(fig, title, height=380, barmode="group", legend=dict(orientation="h", y=-0.22))


def layer_small_multiples(c: Comparison, title: str = "Neurons of the minimal set per layer, one panel per run"
                          ) -> go.Figure:
    """One panel per run of minimal-set neuron counts per layer (own y scale; x = layer)."""
    n = len(c.labels)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{lab} (N = {sum(lay['counts'])})"
                                                              for lab, lay in zip(c.labels, c.layers)])
    for i, (label, lay) in enumerate(zip(c.labels, c.layers)):
        fig.add_trace(go.Bar(x=[str(k) for k in range(len(lay["counts"]))], y=lay["counts"], marker_color=_color(i),
                             name=label, hovertemplate="layer %{x}: %{y} neurons<extra>" + label + "</extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(type="category", title="layer")
    fig.update_annotations(font_size=12)
    return _layout(fig, title, height=260 * rows + 40, showlegend=False)


def layer_shift(c: Comparison, after: int = 1, title: str | None = None) -> go.Figure:
    """The reference run (first) against run ``after``: shares per layer, and each mean layer as a dashed line.

    The title carries the one number: the mean layer before and after (Section 5.4, Fig. 9).
    """
    if not 0 < after < len(c.labels):
        raise ValueError(f"after must index a run other than the first (1..{len(c.labels) - 1}); got {after}")
    s = c.shifts[after - 1]
    fig = go.Figure()
    for k, i in enumerate((0, after)):
        lay = c.layers[i]
        fig.add_trace(go.Bar(x=list(range(len(lay["counts"]))), y=[100 * v for v in lay["shares"]], name=c.labels[i],
                             marker_color=_color(i), customdata=lay["counts"], opacity=0.85,
                             hovertemplate="layer %{x}: %{y:.1f} % (%{customdata} neurons)<extra>"
                                           + c.labels[i] + "</extra>"))
        fig.add_vline(x=c.mean_layer[i], line_dash="dash", line_color=_color(i), line_width=2,
                      annotation_text=f"mean {c.mean_layer[i]:.2f}", annotation_position="top left" if k == 0 else "top right")
    fig.update_xaxes(title="layer (0 = embeddings)", dtick=1)
    fig.update_yaxes(title="% of the minimal set", rangemode="tozero")
    title = title or (f"Mean layer of the minimal set: {s['mean_layer_before']:.2f} → {s['mean_layer_after']:.2f} "
                      f"({s['delta_layer']:+.2f} layers)")
    return _layout(fig, title, height=400, barmode="group", legend=dict(orientation="h", y=-0.22))


def accuracy_bars(c: Comparison, title: str = "Accuracies side by side (Tables 6 and 7)") -> go.Figure:
    """Grouped bars per run: all neurons, the minimal set, and the zero-out ablations (top / random / bottom)."""
    keys = [("oracle", "all neurons"), ("minimal_acc", "minimal set"), ("zero_top", "0-out: top kept"),
            ("zero_random", "0-out: random kept"), ("zero_bottom", "0-out: bottom kept"), ("majority", "majority")]
    fig = go.Figure()
    for i, row in enumerate(c.rows):
        fig.add_trace(go.Bar(x=[name for _, name in keys], y=[row[k] for k, _ in keys], name=row["label"],
                             marker_color=_color(i), hovertemplate="%{x}: %{y:.2f} %<extra>" + row["label"] + "</extra>"))
    fig.update_yaxes(title="test accuracy (%)", range=[0, 105])
    return _layout(fig, title, height=380, barmode="group", legend=dict(orientation="h", y=-0.22))


def shared_tag_counts(c: Comparison, top: int = 30,
                      title: str = "Salient neurons per tag, for the tags every run has (Fig. 7, 10)") -> go.Figure:
    """Grouped bars: for each of the ``top`` shared tags, each run's number of salient neurons."""
    tags = list(c.shared_tags[:top])
    fig = go.Figure([go.Bar(x=tags, y=[c.tag_counts[t][i] for t in tags], name=label, marker_color=_color(i),
                            hovertemplate="%{x}: %{y} neurons<extra>" + label + "</extra>")
                     for i, label in enumerate(c.labels)])
    fig.update_xaxes(title="tag", type="category", tickangle=-45 if len(tags) > 15 else 0)
    fig.update_yaxes(title="neurons")
    return _layout(fig, title, height=380, barmode="group", legend=dict(orientation="h", y=-0.3))


def overlap_heatmap(c: Comparison, title: str = "Overlap of the minimal sets (Jaccard; runs on the same model)"
                    ) -> go.Figure:
    """Run × run Jaccard of the minimal sets; blank where two runs are on different models."""
    n = len(c.labels)
    z = [[1.0 if i == j else None for j in range(n)] for i in range(n)]
    shared = [[None] * n for _ in range(n)]
    index = {lab: k for k, lab in enumerate(c.labels)}
    for o in c.overlaps:
        i, j = index[o["a"]], index[o["b"]]
        z[i][j] = z[j][i] = o["jaccard"]
        shared[i][j] = shared[j][i] = o["shared"]
    fig = go.Figure(go.Heatmap(z=z, x=list(c.labels), y=list(c.labels), customdata=shared, zmin=0, zmax=1,
                               colorscale="Blues", texttemplate="%{z:.2f}",
                               hovertemplate="%{y} & %{x}: Jaccard %{z:.3f}, %{customdata} shared<extra></extra>",
                               colorbar=dict(title="Jaccard", thickness=10)))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return _layout(fig, title, height=160 + 50 * n)


def tag_overlap_heatmap(tags_a: Sequence[str], tags_b: Sequence[str], matrix, label_a: str = "run A",
                        label_b: str = "run B", title: str | None = None) -> go.Figure:
    """Jaccard of each tag of one run against each tag of another (e.g. POS rows, SEM columns)."""
    fig = go.Figure(go.Heatmap(z=np.asarray(matrix, dtype=float), x=list(tags_b), y=list(tags_a), zmin=0,
                               colorscale="Blues", texttemplate="%{z:.2f}",
                               hovertemplate=label_a + " %{y} & " + label_b + " %{x}: Jaccard %{z:.3f}<extra></extra>",
                               colorbar=dict(title="Jaccard", thickness=10)))
    fig.update_xaxes(type="category", title=label_b, tickangle=-45)
    fig.update_yaxes(type="category", title=label_a, autorange="reversed")
    return _layout(fig, title or f"Shared salient neurons per tag: {label_a} × {label_b}",
                   height=180 + 22 * len(tags_a))


def all_figures(c: Comparison) -> dict[str, go.Figure]:
    """Every figure of a comparison by file name (what ``lca compare --out`` writes)."""
    figs = {"layers": layer_distribution(c), "layers_panels": layer_small_multiples(c), "accuracy": accuracy_bars(c)}
    if not _same_depth(c):
        figs["layers_by_layer"] = layer_distribution(c, relative=False)
    for i in range(1, len(c.labels)):
        if len(c.layers[i]["counts"]) == len(c.layers[0]["counts"]):
            figs[f"shift_{i}"] = layer_shift(c, i)
    if c.shared_tags:
        figs["tags"] = shared_tag_counts(c)
    if c.overlaps:
        figs["overlap"] = overlap_heatmap(c)
    return figs


def write_report(comparison: Comparison, out) -> Path:
    """Write ``compare.json`` and ``compare.html`` (every figure; plotly.js embedded once, opens offline)
    into ``out``; returns the JSON path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figs = all_figures(comparison)
    body = "\n".join(f'<section id="{name}">' + fig.to_html(full_html=False, include_plotlyjs=(k == 0)) + "</section>"
                     for k, (name, fig) in enumerate(figs.items()))
    html = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>LCA comparison: {' / '.join(comparison.labels)}"
            f"</title></head><body>{body}</body></html>")
    write_text_atomic(out / "compare.html", html)
    return write_json_atomic(out / "compare.json", comparison.to_dict())
