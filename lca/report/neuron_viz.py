"""Plotly figures of the single-neuron statistics (:mod:`.neuron_stats`): the neuron map, the probe against
single neurons, and the Pareto front of strength and selectivity.

Each function returns a ``plotly.graph_objects.Figure`` (no ``.show()``, no streamlit).  Every clickable
point carries its flat neuron id as ``customdata[0]`` (plain lists: numpy arrays would reach a click event
base64-encoded), for a page to open it in the explorer.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from .viz import ACTIVATION_SCALE, _layout

__all__ = ["map_grid", "neuron_map", "probe_scatter", "pareto_figure"]

_KIND_COLORS = {"distributed": "#2166ac", "redundant": "#e6a117", "agree": "#b2182b", "": "#bdbdbd"}
_KIND_NAMES = {"agree": "salient and strong alone", "distributed": "salient, weak alone (distributed)",
               "redundant": "strong alone, not salient (redundant)", "": "other neurons"}


def map_grid(neurons: np.ndarray, layer_size: int, n_layers: int, pair: bool = False, wrap: int | None = None):
    """Where each flat id sits on the map: ``(row, column, rows per layer, wrap)``.  A layer's units are wrapped
    into rows of ``wrap`` (default 96, 192 for layers wider than 1,536), layers top to bottom (heads, then
    dependents).

    >>> row, col, per, wrap = map_grid(np.array([0, 97, 200]), 100, 2, wrap=50)
    >>> row.tolist(), col.tolist(), per
    ([0, 1, 4], [0, 47, 0], 2)
    """
    wrap = wrap or (96 if layer_size <= 1536 else 192)
    wrap = min(wrap, layer_size)
    per = math.ceil(layer_size / wrap)
    flats = np.asarray(neurons, dtype=np.int64)
    block, unit = flats // layer_size, flats % layer_size  # block: layer, or n_layers + layer for a dependent
    return block * per + unit // wrap, unit % wrap, per, wrap


def neuron_map(neurons: np.ndarray, values: np.ndarray, hover: Sequence[str], layer_size: int, n_layers: int,
               pair: bool = False, site: str = "hidden", minimal: Sequence[int] = (), diverging: bool = False,
               title: str = "", colorbar: str = "AUROC", wrap: int | None = None) -> go.Figure:
    """Every neuron as one cell, coloured by ``values`` ((F,), NaN: grey): rows of a layer's units, layers top to
    bottom; the ``minimal`` subset circled.  ``diverging``: a tag's AUROC around 0.5 (red: fires more on the tag,
    blue: less); else a strength from 0.5 up."""
    neurons = np.asarray(neurons, dtype=np.int64)
    row, col, per, wrap = map_grid(neurons, layer_size, n_layers, pair, wrap)
    n_rows = n_layers * per * (2 if pair else 1)
    z = np.full((n_rows, wrap), np.nan)
    z[row, col] = np.asarray(values, dtype=float)
    scale = dict(colorscale=ACTIVATION_SCALE, zmin=0, zmax=1, zmid=0.5) if diverging else \
        dict(colorscale="YlOrRd", zmin=0.5, zmax=1.0)
    fig = go.Figure(go.Heatmap(z=z, hoverinfo="skip", colorbar=dict(title=colorbar, thickness=10), ygap=0, **scale))
    fig.add_trace(go.Scattergl(x=col, y=row, mode="markers", customdata=neurons[:, None].tolist(),
                               hovertext=list(hover),
                               hovertemplate="%{hovertext}<extra></extra>", showlegend=False,
                               marker=dict(size=9, color="rgba(0,0,0,0)", symbol="square")))
    members = np.flatnonzero(np.isin(neurons, np.asarray(minimal, dtype=np.int64)))
    if len(members):
        fig.add_trace(go.Scattergl(x=col[members], y=row[members], mode="markers", name="minimal subset",
                                   customdata=neurons[members][:, None].tolist(), hovertext=[hover[i] for i in members],
                                   hovertemplate="%{hovertext}<br>in the minimal subset<extra></extra>",
                                   marker=dict(size=8, color="#111", symbol="circle-open", line=dict(width=1.5))))
    prefix = "mlp " if site == "mlp" else ""
    names = [f"{prefix}{layer}" for layer in range(n_layers)]
    names = [f"head {n}" for n in names] + [f"dep {n}" for n in names] if pair else names
    fig.update_yaxes(tickvals=[k * per + (per - 1) / 2 for k in range(len(names))], ticktext=names,
                     autorange="reversed", showgrid=False, zeroline=False, title="layer")
    fig.update_xaxes(showgrid=False, zeroline=False, title=f"unit mod {wrap}" if per > 1 else "unit",
                     range=[-0.5, wrap - 0.5])
    for k in range(1, len(names)):  # a line between layers
        fig.add_hline(y=k * per - 0.5, line_color="#fff", line_width=2)
    return _layout(fig, title, height=min(1400, 140 + max(n_rows, 8) * (16 if n_rows <= 60 else 6)),
                   legend=dict(orientation="h", y=-0.12, x=1, xanchor="right"), clickmode="event+select",
                   dragmode="pan")


def probe_scatter(view: dict, by: str = "rank", title: str = "") -> go.Figure:
    """LCA rank (``by="rank"``, log axis) or |probe weight| (``by="weight"``) against single-neuron strength for
    one tag, from :func:`lca.report.neuron_probe.probe_vs_single`; colours: agree, distributed, redundant, other."""
    if by == "weight" and view["weight"] is None:
        by = "rank"
    x = np.abs(view["weight"]) if by == "weight" else view["lca_rank"].astype(float)
    fig = go.Figure()
    for kind in ("", "distributed", "redundant", "agree"):
        idx = np.flatnonzero(view["kind"] == kind)
        if not len(idx):
            continue
        fig.add_trace(go.Scattergl(
            x=x[idx], y=view["strength"][idx], mode="markers", name=f"{_KIND_NAMES[kind]} ({len(idx):,})",
            customdata=np.stack([view["neuron"][idx], view["lca_rank"][idx], view["selectivity"][idx]], 1).tolist(),
            hovertext=[view["label"][i] for i in idx],
            hovertemplate="neuron %{hovertext}<br>LCA rank %{customdata[1]}<br>AUROC %{y:.3f}<br>selectivity "
                          "%{customdata[2]:+.3f}<extra></extra>",
            marker=dict(size=5 if kind == "" else 8, color=_KIND_COLORS[kind], opacity=0.45 if kind == "" else 0.9)))
    fig.add_hline(y=0.5, line_color="#999", line_width=1, line_dash="dot")
    if by == "weight":
        fig.update_xaxes(title=f"|probe weight| for {view['tag']}")
    else:
        fig.update_xaxes(title="LCA rank (1 = most salient; log scale)", type="log")
    fig.update_yaxes(title=f"strength alone for {view['tag']} (AUROC, better direction)")
    return _layout(fig, title, height=440, clickmode="event+select", legend=dict(orientation="h", y=-0.2))


def pareto_figure(view: dict, title: str = "") -> go.Figure:
    """Strength against selectivity (strength − control strength) for one tag, the Pareto front joined: the
    neurons no other neuron beats on both."""
    s, sel, front = view["strength"], view["selectivity"], view["front"]
    custom = np.stack([view["neuron"], view["lca_rank"]], axis=1)  # as lists below: a click returns plain numbers
    fig = go.Figure(go.Scattergl(x=s, y=sel, mode="markers", name="neurons", customdata=custom.tolist(),
                                 hovertext=view["label"], marker=dict(size=5, color="#9e9e9e", opacity=0.5),
                                 hovertemplate="neuron %{hovertext}<br>AUROC %{x:.3f}<br>selectivity %{y:+.3f}<br>"
                                               "LCA rank %{customdata[1]}<extra></extra>"))
    salient = np.flatnonzero(view["salient"])
    if len(salient):
        fig.add_trace(go.Scattergl(x=s[salient], y=sel[salient], mode="markers", name="salient for the tag",
                                   customdata=custom[salient].tolist(), hovertext=[view["label"][i] for i in salient],
                                   hovertemplate="neuron %{hovertext} (salient)<br>AUROC %{x:.3f}<br>selectivity "
                                                 "%{y:+.3f}<extra></extra>",
                                   marker=dict(size=7, color="#b2182b", opacity=0.8)))
    if len(front):
        fig.add_trace(go.Scatter(x=s[front], y=sel[front], mode="lines+markers", name="Pareto front",
                                 customdata=custom[front].tolist(), hovertext=[view["label"][i] for i in front],
                                 hovertemplate="neuron %{hovertext} (front)<br>AUROC %{x:.3f}<br>selectivity "
                                               "%{y:+.3f}<extra></extra>",
                                 line=dict(color="#111", width=1.5), marker=dict(size=9, symbol="diamond")))
    fig.add_hline(y=0, line_color="#999", line_width=1)
    fig.update_xaxes(title=f"strength for {view['tag']} (AUROC, better direction)")
    fig.update_yaxes(title="selectivity (strength − control-task strength)")
    return _layout(fig, title, height=420, clickmode="event+select", legend=dict(orientation="h", y=-0.2))
