"""Plotly figures of a run: the paper's charts and the neuron views, and the tables they draw.

Every figure function returns a ``plotly.graph_objects.Figure`` and nothing else: no ``.show()``,
no streamlit.  The tag × layer and tag-overlap figures draw tables of :mod:`lca.report.layer_tables`, which a page's CSV and
captions read too.
Activations use one diverging scale, blue below zero, white at zero, red above
(:data:`ACTIVATION_SCALE`), normalized per neuron to [-1, 1]; the exact value is in the hover text.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..runs.sections import Ablation, Lambdas

__all__ = ["ACTIVATION_SCALE", "token_heatmap", "neurons_heatmap", "grid_heatmap", "accuracy_curve",
           "ablation_bars", "training_curve", "lambda_tradeoff", "layer_bars", "tag_counts", "tag_layer_heatmap",
           "tag_overlap", "tag_distribution_box", "tag_weight_bars", "figure_html"]

# ColorBrewer RdBu, reversed so that red is positive; white exactly at the middle (zero).
ACTIVATION_SCALE = [[0.0, "#053061"], [0.1, "#2166ac"], [0.2, "#4393c3"], [0.3, "#92c5de"], [0.4, "#d1e5f0"],
                    [0.5, "#ffffff"], [0.6, "#fddbc7"], [0.7, "#f4a582"], [0.8, "#d6604d"], [0.9, "#b2182b"],
                    [1.0, "#67001f"]]
_ORDER_COLORS = {"top": "#b2182b", "random": "#7f7f7f", "bottom": "#2166ac", "weight_magnitude": "#e6a117"}
_FONT = dict(family="Source Sans Pro, sans-serif", size=13)


def _layout(fig: go.Figure, title: str, height: int | None = None, **kw) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xanchor="left"), template="plotly_white", font=_FONT,
                      margin=dict(l=10, r=10, t=50 if title else 20, b=10), height=height, **kw)
    return fig


def token_heatmap(sentences: Sequence[Sequence[str]], values: Sequence[Sequence[float]], scale: float,
                  title: str = "", row_labels: Sequence[str] | None = None, wrap: int = 10,
                  tags: Sequence[Sequence[str]] | None = None) -> go.Figure:
    """Words coloured by one neuron's activation, one sentence per block of rows.

    ``values[i][j]`` is the raw activation on word ``j`` of sentence ``i``; colours are
    ``value / scale`` clipped to [-1, 1] (``scale``: the neuron's largest absolute value over
    the corpus).  Sentences longer than ``wrap`` words continue on the next row.  With ``tags``
    (one per word, like ``sentences``) the hover names each word's tag.
    """
    z, text, raw, ticks = [], [], [], []
    for i, (words, vals) in enumerate(zip(sentences, values)):
        if i:  # a thin empty row between sentences
            z.append([None] * wrap), raw.append([[None, ""]] * wrap), text.append([""] * wrap), ticks.append("")
        for start in range(0, max(len(words), 1), wrap):
            w, v = list(words[start:start + wrap]), [float(x) for x in vals[start:start + wrap]]
            t = list(tags[i][start:start + wrap]) if tags is not None else [""] * len(w)
            pad = wrap - len(w)
            z.append([float(np.clip(x / scale, -1, 1)) for x in v] + [None] * pad)
            raw.append([[x, f" · tag {g}" if g else ""] for x, g in zip(v, t)] + [[None, ""]] * pad)
            text.append(w + [""] * pad)
            ticks.append((row_labels[i] if row_labels else f"#{i + 1}") if start == 0 else "")
    rows = list(range(len(z)))
    fig = go.Figure(go.Heatmap(
        z=z, text=text, customdata=raw, x=list(range(wrap)), y=rows, zmin=-1, zmax=1, zmid=0,
        colorscale=ACTIVATION_SCALE, texttemplate="%{text}", textfont=dict(size=12), xgap=2, ygap=2,
        hovertemplate="<b>%{text}</b>%{customdata[1]}<br>activation %{customdata[0]:.4f}<br>normalized %{z:.3f}"
                      "<extra></extra>",
        colorbar=dict(title="norm.", thickness=10, tickvals=[-1, 0, 1])))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(tickvals=rows, ticktext=ticks, autorange="reversed", showgrid=False)
    return _layout(fig, title, height=90 + 30 * max(len(z), 1))


def neurons_heatmap(words: Sequence[str], values: np.ndarray, labels: Sequence[str], scales: Sequence[float],
                    title: str = "") -> go.Figure:
    """Several neurons (rows) over one sentence (columns), each normalized by its own ``scales[k]``.

    ``values`` has shape (n_words, n_neurons): raw activations.
    """
    values = np.asarray(values, dtype=np.float32)
    z = np.clip(values.T / np.asarray(scales, dtype=np.float32)[:, None], -1, 1)
    cols = list(range(len(words)))
    fig = go.Figure(go.Heatmap(
        z=z, customdata=values.T, x=cols, y=list(labels), zmin=-1, zmax=1, zmid=0, colorscale=ACTIVATION_SCALE,
        text=[list(words)] * len(labels), xgap=2, ygap=2,
        hovertemplate="neuron %{y}<br><b>%{text}</b><br>activation %{customdata:.4f}<br>normalized %{z:.3f}<extra></extra>",
        colorbar=dict(title="norm.", thickness=10, tickvals=[-1, 0, 1])))
    fig.update_xaxes(tickvals=cols, ticktext=list(words), tickangle=-45 if len(words) > 12 else 0, side="top")
    fig.update_yaxes(type="category", autorange="reversed", title="neuron")
    _layout(fig, title, height=160 + 28 * len(labels))
    fig.update_layout(margin=dict(t=110))
    return fig


def _fmt_lambda(v: float) -> str:
    return "0" if v == 0 else f"{v:g}"


def grid_heatmap(grid: Sequence[Mapping], lambdas: Lambdas,
                 title: str = "Grid search score (Algorithm 2)") -> go.Figure:
    """The λ1 × λ2 grid coloured by the selection score; the chosen pair (``lambdas``) is boxed."""
    l1s, l2s = sorted({r["l1"] for r in grid}), sorted({r["l2"] for r in grid})
    cell = {(r["l1"], r["l2"]): r for r in grid}
    z = [[cell.get((a, b), {}).get("score") for b in l2s] for a in l1s]
    hover = [[(f"accuracy {c['accuracy']:.3f}<br>top 20 % {c['accuracy_top']:.3f}<br>bottom 20 % "
               f"{c['accuracy_bottom']:.3f}" if (c := cell.get((a, b))) else "") for b in l2s] for a in l1s]
    x, y = [_fmt_lambda(v) for v in l2s], [_fmt_lambda(v) for v in l1s]
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, customdata=hover, colorscale="Viridis", texttemplate="%{z:.3f}",
                               hovertemplate="λ1 %{y}, λ2 %{x}<br>score %{z:.4f}<br>%{customdata}<extra></extra>",
                               colorbar=dict(title="score", thickness=10)))
    best = (_fmt_lambda(lambdas.l2), _fmt_lambda(lambdas.l1))
    fig.add_trace(go.Scatter(x=[best[0]], y=[best[1]], mode="markers", name="chosen",
                             marker=dict(symbol="square-open", size=38, color="#d62728", line=dict(width=3)),
                             hovertemplate="chosen λ1 %{y}, λ2 %{x}<extra></extra>"))
    fig.update_xaxes(title="λ2 (L2 penalty)", type="category")
    fig.update_yaxes(title="λ1 (L1 penalty)", type="category")
    return _layout(fig, title, height=120 + 45 * len(l1s), showlegend=False)


def accuracy_curve(curve: Sequence[Mapping], oracle_accuracy: float, n_neurons: int,
                   title: str = "Accuracy when keeping only the first N neurons of each ordering") -> go.Figure:
    """Test accuracy against N for the top, random and bottom orderings (others zeroed out), and the
    plain weight-magnitude ordering (dotted) where the rows carry it.

    Random is the mean of its draws, drawn with a ±1 sd band when the rows carry ``random_sd``
    (results saved before several draws were made have one draw and no band).
    """
    fig = go.Figure()
    x = [r["n_neurons"] for r in curve]
    if curve and all("random_sd" in r for r in curve):
        mean = np.array([100 * r["random"] for r in curve])
        sd = np.array([100 * r["random_sd"] for r in curve])
        draws = len(curve[0].get("random_draws") or ()) or "several"
        fig.add_trace(go.Scatter(x=x, y=mean + sd, mode="lines", line=dict(width=0), hoverinfo="skip",
                                 showlegend=False))
        fig.add_trace(go.Scatter(x=x, y=mean - sd, mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor="rgba(127,127,127,0.25)", name=f"random ± 1 sd ({draws} draws)",
                                 hoverinfo="skip"))
    names = {"weight_magnitude": "weight magnitude"}
    for key in ("top", "weight_magnitude", "random", "bottom"):
        if not curve or not all(key in r for r in curve):
            continue
        spread = [100 * r.get("random_sd", 0.0) for r in curve] if key == "random" else [0.0] * len(curve)
        fig.add_trace(go.Scatter(
            x=x, y=[100 * r[key] for r in curve], mode="lines+markers", name=names.get(key, key),
            line=dict(color=_ORDER_COLORS[key], dash="dot" if key == "weight_magnitude" else "solid"),
            customdata=[[100 * r["fraction"], s] for r, s in zip(curve, spread)],
            hovertemplate=names.get(key, key) + ": N = %{x} (%{customdata[0]:.1f} %)<br>accuracy %{y:.2f} %"
                          + (" ± %{customdata[1]:.2f}" if key == "random" else "") + "<extra></extra>"))
    fig.add_hline(y=100 * oracle_accuracy, line_dash="dash", line_color="#333",
                  annotation_text=f"all {n_neurons} neurons: {100 * oracle_accuracy:.1f} %", annotation_position="top left")
    fig.update_xaxes(title="number of neurons kept (log scale)", type="log")
    fig.update_yaxes(title="test accuracy (%)", rangemode="tozero")
    # a filled band would otherwise reverse the legend
    return _layout(fig, title, height=380, legend=dict(orientation="h", y=-0.25, traceorder="normal"))


def ablation_bars(oracle_accuracy: float, ablation: Ablation, fraction: float,
                  title: str | None = None, draws: int = 1) -> go.Figure:
    """Table 2 as bars: all neurons, and only the top / random / bottom / weight-magnitude ``fraction`` kept.

    Random is the mean of ``draws`` draws with its sd as an error bar (``ablation.random_sd``; None in
    results saved before several draws were made).
    """
    names = ["all", "top", "random", "bottom", "weight_magnitude"]
    values = [oracle_accuracy] + [getattr(ablation, k) for k in names[1:]]
    has_sd = ablation.random_sd is not None
    sd = float(ablation.random_sd or 0.0)
    errors = [100 * sd if k == "random" else 0.0 for k in names]
    colors = ["#333333"] + [_ORDER_COLORS[k] for k in names[1:]]
    labels = ["All", "Top", "Random", "Bottom", "Wt. mag."]
    text = [f"{100 * v:.1f}" + (f" ± {100 * sd:.1f}" if k == "random" and has_sd else "")
            for k, v in zip(names, values)]
    hover = [f"{t} %" + (f"<br>mean of {draws} draws ± sd" if k == "random" and draws > 1 else "")
             for k, t in zip(names, text)]
    fig = go.Figure(go.Bar(x=labels, y=[100 * v for v in values], marker_color=colors, text=text, textposition="outside",
                           error_y=dict(type="data", array=errors, visible=has_sd, color="#333"),
                           customdata=hover, hovertemplate="%{x}: %{customdata}<extra></extra>"))
    fig.update_yaxes(title="test accuracy (%)", range=[0, 110])
    return _layout(fig, title or f"Keep {100 * fraction:.0f} % of the neurons", height=340)


def training_curve(curve: Sequence[Mapping], title: str = "Training of the oracle probe") -> go.Figure:
    """The oracle probe's training against optimizer steps: mean cross-entropy, cross-entropy +
    penalty (the objective) on top, development accuracy below.

    ``curve``: ``LCAResult.training_curve`` rows ``{epoch, step, loss, penalty, dev_accuracy}``.
    A converged probe's cross-entropy is flat at the right end; one still falling was stopped early.
    (With a decaying learning rate the penalty keeps falling to the end by design.)
    """
    if not curve:
        raise ValueError("training_curve needs at least one row {epoch, step, loss, penalty, dev_accuracy}; got none")
    steps = [r["step"] for r in curve]
    epochs = [r["epoch"] for r in curve]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.6, 0.4])
    series = (("loss (cross-entropy)", [r["loss"] for r in curve], "#2166ac", "dot"),
              ("loss + penalty (objective)", [r["loss"] + r.get("penalty", 0.0) for r in curve], "#b2182b", "solid"))
    for name, y, color, dash in series:
        fig.add_trace(go.Scatter(x=steps, y=y, mode="lines+markers", name=name, customdata=epochs,
                                 line=dict(color=color, dash=dash), marker=dict(size=5),
                                 hovertemplate=f"{name}<br>step %{{x}} (epoch %{{customdata}})<br>%{{y:.4f}}<extra></extra>"),
                      row=1, col=1)
    fig.add_trace(go.Scatter(x=steps, y=[100 * r["dev_accuracy"] for r in curve], mode="lines+markers",
                             name="development accuracy", customdata=epochs, line=dict(color="#333"), marker=dict(size=5),
                             hovertemplate="dev accuracy %{y:.2f} %<br>step %{x} (epoch %{customdata})<extra></extra>"),
                  row=2, col=1)
    fig.update_yaxes(title="per example", row=1, col=1)
    fig.update_yaxes(title="dev accuracy (%)", row=2, col=1)
    fig.update_xaxes(title="optimizer steps", row=2, col=1)
    return _layout(fig, title, height=460, legend=dict(orientation="h", y=-0.18))


def lambda_tradeoff(grid: Sequence[Mapping], lambdas: Lambdas,
                    title: str = "What each λ pair costs and what it buys",
                    dominated: Mapping[int, int] | None = None) -> go.Figure:
    """Every grid row as a point: x = accuracy cost on the development split (the (0, 0) row's
    accuracy − the row's, in points), y = ranking sharpness (``gap``: zero-out top − mean random,
    in points, dev split); the pair ``lambdas`` is ringed.  Good pairs sit up and to the left.
    ``dominated`` (:func:`lca.report.verdict.dominated_points`: row -> the row that beats it) are drawn
    grey, each hover naming the pair that costs no more and ranks more sharply.
    """
    noreg = [r for r in grid if r["l1"] == 0 and r["l2"] == 0]
    if not noreg:
        raise ValueError("lambda_tradeoff needs the grid's (0, 0) row to measure the accuracy cost; got pairs "
                         f"{[(r['l1'], r['l2']) for r in grid]}")
    missing = [(r["l1"], r["l2"]) for r in grid if "gap" not in r]
    if missing:
        raise ValueError(f"lambda_tradeoff needs zero_top, zero_random and gap in every grid row; missing at {missing} "
                         "(a result saved before grid rows recorded them)")
    base = noreg[0]["accuracy"]
    cost = [100 * (base - r["accuracy"]) for r in grid]
    gap = [100 * r["gap"] for r in grid]
    hover = [f"λ1 {_fmt_lambda(r['l1'])}, λ2 {_fmt_lambda(r['l2'])}<br>dev accuracy {100 * r['accuracy']:.2f} % "
             f"(cost {c:.2f} points)<br>zero-out top {100 * r['zero_top']:.2f} %, random {100 * r['zero_random']:.2f} %"
             f"<br>gap {g:.2f} points · score {r['score']:.4f}" for r, c, g in zip(grid, cost, gap)]
    beaten = dict(dominated or {})
    for k, j in beaten.items():
        hover[k] += f"<br>dominated by λ1 {_fmt_lambda(grid[j]['l1'])}, λ2 {_fmt_lambda(grid[j]['l2'])}"
    front = [k for k in range(len(grid)) if k not in beaten]
    fig = go.Figure(go.Scatter(x=[cost[k] for k in front], y=[gap[k] for k in front], mode="markers",
                               name="grid points" if not beaten else "on the front (no pair beats it)",
                               customdata=[hover[k] for k in front], hovertemplate="%{customdata}<extra></extra>",
                               marker=dict(size=10, color="#4393c3", line=dict(width=1, color="#053061"))))
    chosen = [k for k, r in enumerate(grid) if (r["l1"], r["l2"]) == (lambdas.l1, lambdas.l2)]
    fig.add_trace(go.Scatter(x=[cost[k] for k in chosen], y=[gap[k] for k in chosen], mode="markers",
                             name=f"this run: λ1 {_fmt_lambda(lambdas.l1)}, λ2 {_fmt_lambda(lambdas.l2)}",
                             customdata=[hover[k] for k in chosen], hovertemplate="%{customdata}<extra>this run</extra>",
                             marker=dict(symbol="circle-open", size=22, color="#d62728", line=dict(width=3))))
    if beaten:
        fig.add_trace(go.Scatter(x=[cost[k] for k in beaten], y=[gap[k] for k in beaten], mode="markers",
                                 name="dominated: another pair costs no more and ranks more sharply",
                                 customdata=[hover[k] for k in beaten], hovertemplate="%{customdata}<extra></extra>",
                                 marker=dict(size=9, color="#cccccc", line=dict(width=1, color="#888888"))))
    fig.add_hline(y=0, line_color="#999", line_width=1)
    fig.add_vline(x=0, line_color="#999", line_width=1)
    fig.update_xaxes(title="accuracy cost on the dev split (points below the unregularized probe)")
    fig.update_yaxes(title="ranking sharpness: top − random kept (points, dev)")
    return _layout(fig, title, height=420, legend=dict(orientation="h", y=-0.22))


def layer_bars(layer_histogram: Sequence[int], n_layers: int, pair: bool = False,
               title: str = "Neurons of the minimal set in each layer (Fig. 6)") -> go.Figure:
    """Bars of neurons per layer (layer 0 = embeddings); pair tasks show head and dependent side by side."""
    counts = list(layer_histogram)
    layers = [str(i) for i in range(n_layers)]
    halves = (("head", counts[:n_layers]), ("dependent", counts[n_layers:])) if pair else (("minimal set", counts),)
    colors = ("#4393c3", "#d6604d")
    fig = go.Figure([go.Bar(x=layers, y=c, name=name, marker_color=colors[k], hovertemplate="layer %{x}: %{y} neurons<extra>" + name + "</extra>")
                     for k, (name, c) in enumerate(halves)])
    fig.update_xaxes(title="layer (0 = embeddings)", type="category")
    fig.update_yaxes(title="neurons")
    return _layout(fig, title, height=340, barmode="group", showlegend=pair)


def tag_counts(per_tag: Mapping[str, Sequence[int]],
               title: str = "Salient neurons per tag: localized (few) vs distributed (many) (Fig. 7)") -> go.Figure:
    """Neurons per tag, most first."""
    items = sorted(per_tag.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    fig = go.Figure(go.Bar(x=[k for k, _ in items], y=[len(v) for _, v in items], marker_color="#4393c3",
                           hovertemplate="%{x}: %{y} neurons<extra></extra>"))
    fig.update_xaxes(title="tag", type="category", tickangle=-90 if len(items) > 20 else 0, tickmode="array",
                     tickvals=[k for k, _ in items], tickfont=dict(size=10 if len(items) > 30 else 12))
    fig.update_yaxes(title="neurons")
    return _layout(fig, title, height=360)


def tag_layer_heatmap(table: Mapping, title: str = "Where each tag's neurons sit: tag × layer") -> go.Figure:
    """Count of each tag's salient neurons in each layer, from :func:`lca.report.layer_tables.tag_layer_table`."""
    tags = table["tags"]
    fig = go.Figure(go.Heatmap(z=table["counts"], x=table["layers"], y=tags, colorscale="Blues", texttemplate="%{z}",
                               hovertemplate="%{y}, layer %{x}: %{z} neurons<extra></extra>",
                               colorbar=dict(title="neurons", thickness=10)))
    fig.update_xaxes(title="layer (0 = embeddings)", type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    return _layout(fig, title, height=140 + 22 * len(tags))


def tag_overlap(table: Mapping, title: str = "Shared salient neurons between tags (Jaccard index)") -> go.Figure:
    """Tag × tag overlap of salient-neuron sets, from :func:`lca.report.layer_tables.tag_overlap_table`: colour =
    Jaccard index, hover = shared count."""
    tags, shared = table["tags"], table["shared"]
    # the diagonal (1 by definition) is left blank so that the scale shows the overlaps
    jac = [[None if i == j else v for j, v in enumerate(row)] for i, row in enumerate(table["jaccard"])]
    top = max([v for row in jac for v in row if v is not None], default=0.0) or 1.0
    fig = go.Figure(go.Heatmap(z=jac, x=tags, y=tags, customdata=shared, colorscale="Blues", zmin=0, zmax=top,
                               hovertemplate="%{y} & %{x}: %{customdata} shared, Jaccard %{z:.2f}<extra></extra>",
                               colorbar=dict(title="Jaccard", thickness=10)))
    fig.update_xaxes(type="category", tickangle=-45)
    fig.update_yaxes(type="category", autorange="reversed")
    return _layout(fig, title, height=160 + 22 * len(tags))


def tag_distribution_box(distribution: Mapping[str, np.ndarray], title: str = "Activation per tag") -> go.Figure:
    """One box per tag of the neuron's activations, tags sorted by median (highest first)."""
    items = sorted(distribution.items(), key=lambda kv: -float(np.median(kv[1])))
    fig = go.Figure([go.Box(y=np.asarray(v, dtype=float), name=str(k), boxpoints=False, marker_color="#4393c3",
                            line=dict(width=1), hoverinfo="y+name") for k, v in items])
    fig.add_hline(y=0, line_color="#999", line_width=1)
    fig.update_xaxes(type="category", tickangle=-90 if len(items) > 20 else 0, tickmode="array",
                     tickvals=[str(k) for k, _ in items], tickfont=dict(size=10 if len(items) > 30 else 12))
    fig.update_yaxes(title="activation")
    return _layout(fig, title, height=360, showlegend=False)


def tag_weight_bars(weights: Sequence[float], tags: Sequence[str], title: str = "Oracle probe weight per tag") -> go.Figure:
    """The neuron's weight in the probe for every tag: red positive, blue negative, largest at the top.
    Horizontal, one row per tag, so that 40+ tag labels stay readable in half a page's width."""
    order = np.argsort(np.asarray(weights, dtype=float), kind="stable")  # plotly draws the first bar at the bottom
    w = [float(weights[i]) for i in order]
    labels = [tags[i] for i in order]
    fig = go.Figure(go.Bar(y=labels, x=w, orientation="h", marker_color=["#b2182b" if v >= 0 else "#2166ac" for v in w],
                           hovertemplate="%{y}: weight %{x:.4f}<extra></extra>"))
    fig.update_yaxes(type="category", tickmode="array", tickvals=labels, tickfont=dict(size=11))
    fig.update_xaxes(title="weight", zeroline=True, zerolinecolor="#999")
    return _layout(fig, title, height=max(300, 110 + 17 * len(w)))


def figure_html(fig: go.Figure) -> str:
    """A standalone HTML file of the figure (plotly.js embedded: opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True)
