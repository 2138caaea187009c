"""Figures of an intervention (``intervention.json``'s dicts): plotly figures, never shown here."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from ..report.viz import ACTIVATION_SCALE

__all__ = ["flow_bars", "flow_tag_bars", "silencing_heatmap", "lm_tag_bars"]


def flow_bars(flow: Mapping, title: str | None = None) -> go.Figure:
    """Accuracy at the read layer in %: clean, and for each set top / random (mean ± sd) / bottom.  A set is
    labelled by its name and the neurons of it silenced (those below the read layer)."""
    sets = flow["sets"]
    fig = go.Figure()
    names = [f"{s['name']}: {s['n_neurons']} silenced" for s in sets]
    fig.add_bar(name="silenced set", x=names, y=[100 * s["top"]["accuracy"] for s in sets], marker_color="#b2182b",
                hovertemplate="%{y:.2f} %<extra>silenced set</extra>")
    fig.add_bar(name="random, as many per layer", x=names, y=[100 * s["random"]["accuracy"] for s in sets],
                error_y=dict(type="data", array=[100 * s["random"]["sd"] for s in sets]), marker_color="#999999",
                hovertemplate="mean %{y:.2f} %<extra>random</extra>")
    fig.add_bar(name="least salient, as many per layer", x=names, y=[100 * s["bottom"]["accuracy"] for s in sets],
                marker_color="#2166ac", hovertemplate="%{y:.2f} %<extra>bottom</extra>")
    fig.add_hline(y=100 * flow["clean"]["accuracy"], line_dash="dash",
                  annotation_text=f"clean {100 * flow['clean']['accuracy']:.1f} %", annotation_position="top left")
    fig.update_layout(barmode="group", yaxis=dict(title=f"words decoded at layer {flow['read_layer']} (%)",
                                                  range=[0, 100]),
                      title=title or f"Decoding the task at layer {flow['read_layer']} with neurons below it silenced "
                                     f"({flow['mode']})", legend=dict(orientation="h", y=-0.2), margin=dict(t=60))
    return fig


def flow_tag_bars(flow: Mapping, set_index: int = 0, n_tags: int = 20) -> go.Figure:
    """Per-tag accuracy at the read layer in %, for one set: clean, silenced, random mean (the most frequent tags)."""
    s = flow["sets"][set_index]
    tags = sorted(flow["counts"], key=lambda t: -flow["counts"][t])[:n_tags]
    fig = go.Figure()
    for label, per_tag, color in (("clean", flow["clean"]["per_tag"], "#444444"),
                                  ("silenced set", s["top"]["per_tag"], "#b2182b"),
                                  ("random (mean)", s["random"]["per_tag"], "#999999")):
        fig.add_bar(name=label, x=tags, y=[None if per_tag.get(t) is None else 100 * per_tag[t] for t in tags],
                    marker_color=color, hovertemplate="%{x}: %{y:.1f} %<extra>" + label + "</extra>")
    fig.update_layout(barmode="group", yaxis=dict(title="words decoded (%)", range=[0, 100]),
                      legend=dict(orientation="h", y=-0.25),
                      title=f"Per tag, {s['name']} silenced", margin=dict(t=50))
    return fig


def silencing_heatmap(heatmap: Mapping, key: str = "own", title: str | None = None, unit: str = "accuracy drop",
                      scale: float = 1.0) -> go.Figure:
    """Rows: the tag whose neurons are silenced; columns: the tag measured; cells: ``heatmap[key]``
    minus ``heatmap["random"]`` (the effect beyond as many random neurons), times ``scale`` (100: points).
    Red: hurts more than random."""
    tags = list(heatmap["tags"])
    own = scale * np.asarray(heatmap[key], dtype=float)
    rand = scale * np.asarray(heatmap["random"], dtype=float)
    z = own - rand
    top = float(np.nanmax(np.abs(z))) or 1.0
    hover = np.dstack([own, rand])
    fig = go.Figure(go.Heatmap(z=z, x=tags, y=tags, zmin=-top, zmax=top, zmid=0, colorscale=ACTIVATION_SCALE,
                               customdata=hover, texttemplate="%{z:.2f}",
                               hovertemplate="silence %{y}, measure %{x}<br>own: %{customdata[0]:.4f}<br>"
                                             "random: %{customdata[1]:.4f}<br>difference: %{z:.4f}<extra></extra>"))
    fig.update_layout(title=title or f"Per-tag silencing: {unit}, own neurons minus as many random",
                      xaxis=dict(title="measured tag"), yaxis=dict(title="silenced tag's neurons", autorange="reversed"),
                      margin=dict(t=60))
    return fig


def lm_tag_bars(lm: Mapping, set_index: int = 0, tags: Sequence[str] | None = None, n_tags: int = 20) -> go.Figure:
    """Change of the model's own loss per tag of the predicted word: silenced set and random mean, minus clean."""
    s, clean = lm["sets"][set_index], lm["clean"]["per_tag"]
    tags = list(tags or sorted(clean, key=lambda t: -clean[t]["n"])[:n_tags])
    fig = go.Figure()
    for label, per_tag, color in (("silenced set", s["top"]["per_tag"], "#b2182b"),
                                  ("random (mean)", s["random"]["per_tag"], "#999999")):
        fig.add_bar(name=label, x=tags, y=[per_tag[t]["loss"] - clean[t]["loss"] if t in per_tag else None for t in tags],
                    marker_color=color, hovertemplate="%{x}: %{y:+.3f}<extra>" + label + "</extra>")
    word = "masked word" if lm["kind"] == "masked" else "next word"
    fig.update_layout(barmode="group", yaxis=dict(title=f"{word} loss change (nats)"), legend=dict(orientation="h", y=-0.25),
                      title=f"The model's own {word} predictions, {s['name']} silenced", margin=dict(t=50))
    return fig
