"""Finished runs side by side: accuracies, where the salient neurons sit, shared tags and overlap.

The paper compares runs in three ways (Sections 5.1, 5.4, 5.5): architectures side by side
(neurons per layer, Figures 6 and 8; Tables 6 and 7), a model before and after fine-tuning
(the salient neurons move to lower layers, Figure 9), and one property in several languages
(Figure 10).  :func:`compare_results` makes one :class:`Comparison` for any two or more runs:

* ``rows``: one row of the accuracy tables per run;
* ``layers``: each run's minimal set per layer, as counts and shares, with the layers'
  relative depth ``layer / (n_layers - 1)`` (0 = embeddings, 1 = last block) so that models
  of different depths line up;
* ``mean_layer`` of each minimal set, and ``shifts``: how far it moved from the first run
  (the reference, e.g. the base model before fine-tuning);
* ``tag_counts``: salient neurons per tag, for the tags every run has;
* ``overlaps``: Jaccard index of the minimal sets (and of the per-tag sets of shared tags) for
  each pair of runs on the same model, where a flat neuron id means the same neuron.

The figures and the report with them are in :mod:`lca.report.compare_viz`; the runs on sentence-parallel
corpora (Figure 10) are made by :mod:`lca.scale.parallel`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .._validation import InputError
from ..runs.result import LCAResult, load_result
from ..runs.store import folder_label

__all__ = ["Comparison", "compare_results", "compare_runs", "result_row", "sweep_runs", "mean_layer", "jaccard",
           "tag_overlap_matrix", "format_report", "TABLE_COLUMNS"]

# (key, header) of the accuracy table, in print order; accuracies are percentages.
TABLE_COLUMNS = (("model", "model"), ("task", "task"), ("n_layers", "layers"), ("oracle", "oracle %"),
                 ("majority", "majority %"), ("minimal_n", "min. N"), ("minimal_pct", "min. %"),
                 ("minimal_acc", "min. acc %"), ("selectivity_all", "sel. all"), ("selectivity_top", "sel. top"),
                 ("zero_top", "0-out top %"), ("zero_random", "0-out rand %"), ("zero_bottom", "0-out bot %"),
                 ("retrain_top", "retr. top %"), ("retrain_random", "retr. rand %"), ("retrain_bottom", "retr. bot %"),
                 ("probeless", "probeless %"), ("mean_layer", "mean layer"), ("mean_depth", "mean depth"))


@dataclass(frozen=True)
class Comparison:
    """Two or more runs compared.

    Attributes
    ----------
    labels : tuple of str, length R
        One unique name per run, in the order given.
    rows : tuple of dict, length R
        The accuracy table (keys of :data:`TABLE_COLUMNS` plus ``label``).
    layers : tuple of dict, length R
        ``{"counts": [n_layers ints], "shares": [n_layers floats summing to 1], "depth": [n_layers floats in [0, 1]]}``.
        Pair tasks fold the head and dependent halves together.
    mean_layer : tuple of float, length R
        Mean layer of each minimal set (0 = embeddings); ``mean_depth`` the same on the relative scale.
    mean_depth : tuple of float, length R
    shifts : tuple of dict, length R - 1
        ``{"from", "to", "mean_layer_before", "mean_layer_after", "delta_layer", "delta_depth"}`` of each run
        against the first.
    shared_tags : tuple of str
        Tags that every run has, most neurons first (summed over runs).
    tag_counts : dict of str to list of int
        Salient neurons of each shared tag in each run (length R).
    overlaps : tuple of dict
        Per pair of runs on the same model: ``{"a", "b", "jaccard", "shared", "per_tag": {tag: jaccard}}``.
    """

    labels: tuple[str, ...]
    rows: tuple[dict, ...]
    layers: tuple[dict, ...]
    mean_layer: tuple[float, ...]
    mean_depth: tuple[float, ...]
    shifts: tuple[dict, ...]
    shared_tags: tuple[str, ...]
    tag_counts: dict
    overlaps: tuple[dict, ...]

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


def _halves_folded(result: LCAResult) -> np.ndarray:
    """``(n_layers,)`` minimal-set neurons per layer, head and dependent halves of a pair task added."""
    hist = np.asarray(result.layer_histogram, dtype=np.int64)
    return hist.reshape(-1, result.n_layers).sum(0) if result.pair else hist


def _depth(result: LCAResult, layer):
    """Relative depth of a layer: 0 = embeddings, 1 = last block.  Block k's MLP neurons sit inside hidden
    layer k + 1, so MLP-site runs and hidden-site runs share the scale."""
    if getattr(result, "site", "hidden") == "mlp":
        return (np.asarray(layer) + 1) / max(result.n_layers, 1)
    return np.asarray(layer) / max(result.n_layers - 1, 1)


def mean_layer(result: LCAResult) -> float:
    """Mean layer (0 = embeddings) of the run's minimal set; NaN when the set is empty."""
    counts = _halves_folded(result)
    return float(np.dot(counts, np.arange(result.n_layers)) / counts.sum()) if counts.sum() else float("nan")


def jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """Shared ÷ either; 0 for two empty sets.

    >>> jaccard([1, 2, 3], [2, 3, 4])
    0.5
    """
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 0.0


def tag_overlap_matrix(a: LCAResult, b: LCAResult, top: int = 20) -> tuple[list[str], list[str], np.ndarray]:
    """Jaccard of every tag's salient neurons in ``a`` against every tag's in ``b`` (e.g. POS against SEM).

    Returns ``(tags_a, tags_b, matrix (len(tags_a), len(tags_b)))`` for the ``top`` tags with most
    neurons in each run.  Both runs must be on the same model (same flat ids).
    """
    if (a.model, a.n_neurons) != (b.model, b.n_neurons):
        raise InputError(f"tag overlap needs two runs on the same model; got {a.model!r} and {b.model!r}")
    tags_a = sorted(a.per_tag, key=lambda t: (-len(a.per_tag[t]), t))[:top]
    tags_b = sorted(b.per_tag, key=lambda t: (-len(b.per_tag[t]), t))[:top]
    return tags_a, tags_b, np.array([[jaccard(a.per_tag[x], b.per_tag[y]) for y in tags_b] for x in tags_a])


def _pct(v) -> float | None:
    return None if v is None else round(100 * float(v), 2)


def _row(label: str, r: LCAResult, mean: float, depth: float) -> dict:
    return {"label": label, "model": Path(str(r.model)).name, "task": r.task, "n_layers": r.n_layers,
            "oracle": _pct(r.oracle_accuracy), "majority": _pct(r.majority_accuracy),
            "minimal_n": int(r.minimal.n_neurons), "minimal_pct": round(100 * r.minimal.fraction, 2),
            "minimal_acc": _pct(r.minimal.accuracy),
            "selectivity_all": _pct(r.selectivity.all), "selectivity_top": _pct(r.selectivity.top),
            "zero_top": _pct(r.ablation.top), "zero_random": _pct(r.ablation.random),
            "zero_bottom": _pct(r.ablation.bottom), "retrain_top": _pct(r.retrain.top),
            "retrain_random": _pct(r.retrain.random), "retrain_bottom": _pct(r.retrain.bottom),
            "probeless": _pct(r.probeless.accuracy), "mean_layer": round(mean, 3), "mean_depth": round(depth, 3)}


def result_row(result: LCAResult, label: str = "") -> dict:
    """One row of the accuracy table (:data:`TABLE_COLUMNS` keys plus ``label``) for one run."""
    mean = mean_layer(result)
    return _row(label, result, mean, float(_depth(result, mean)))


def sweep_runs(sweep_dir) -> tuple[list[Path], list[str]]:
    """``(run folders, labels)`` of the finished runs of a sweep folder (``python -m lca sweep --out``)."""
    sweep_dir = Path(sweep_dir)
    try:
        rows = json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))["runs"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{sweep_dir}: not a sweep folder with a readable sweep.json ({err})") from None
    done = [r for r in rows if r.get("status") in ("done", "skipped") and (sweep_dir / r["dir"] / "result.json").is_file()]
    return [sweep_dir / r["dir"] for r in done], [r["label"] for r in done]


def _unique(labels: Sequence[str]) -> tuple[str, ...]:
    out, seen = [], {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return tuple(out)


def compare_results(results: Sequence[LCAResult], labels: Sequence[str] | None = None) -> Comparison:
    """Compare two or more finished runs; the first is the reference for :attr:`Comparison.shifts`."""
    results = list(results)
    if len(results) < 2:
        raise InputError(f"a comparison needs at least 2 runs; got {len(results)}")
    if labels is not None and len(labels) != len(results):
        raise InputError(f"give one label per run: {len(labels)} labels for {len(results)} runs")
    labels = _unique(labels or [f"{r.task} · {Path(str(r.model)).name}{' · mlp' if r.site == 'mlp' else ''}"
                                for r in results])
    layers, means, depths = [], [], []
    for r in results:
        counts = _halves_folded(r)
        total = max(int(counts.sum()), 1)
        depth_axis = _depth(r, np.arange(r.n_layers))
        layers.append({"counts": counts.tolist(), "shares": (counts / total).tolist(), "depth": depth_axis.tolist()})
        means.append(mean_layer(r))
        depths.append(float(_depth(r, means[-1])))
    rows = tuple(_row(lab, r, m, d) for lab, r, m, d in zip(labels, results, means, depths))
    shifts = tuple({"from": labels[0], "to": labels[i], "mean_layer_before": round(means[0], 3),
                    "mean_layer_after": round(means[i], 3), "delta_layer": round(means[i] - means[0], 3),
                    "delta_depth": round(depths[i] - depths[0], 3)} for i in range(1, len(results)))
    shared = set.intersection(*(set(r.per_tag) for r in results))
    total = {t: sum(len(r.per_tag[t]) for r in results) for t in shared}
    shared_tags = tuple(sorted(shared, key=lambda t: (-total[t], t)))
    tag_counts = {t: [len(r.per_tag[t]) for r in results] for t in shared_tags}
    overlaps = []
    for i in range(len(results)):
        for j in range(i + 1, len(results)):
            a, b = results[i], results[j]
            if (a.model, a.n_neurons) != (b.model, b.n_neurons):
                continue
            ma, mb = a.minimal.neurons, b.minimal.neurons
            per_tag = {t: round(jaccard(a.per_tag[t], b.per_tag[t]), 4) for t in shared_tags}
            overlaps.append({"a": labels[i], "b": labels[j], "jaccard": round(jaccard(ma, mb), 4),
                             "shared": len(set(ma) & set(mb)), "per_tag": per_tag})
    return Comparison(labels, rows, tuple(layers), tuple(means), tuple(depths), shifts, shared_tags, tag_counts,
                      tuple(overlaps))


def compare_runs(run_dirs: Sequence, labels: Sequence[str] | None = None) -> Comparison:
    """Load run folders (``lca run --out``) and compare them; labels default to the folder names.

    A sweep folder (``lca sweep --out``) stands for its finished runs, labelled as in its table.
    """
    paths, sweep_labels = [], []
    for p in map(Path, run_dirs):  # a sweep folder stands for its finished runs
        found = sweep_runs(p) if (p / "sweep.json").is_file() else ([p], [folder_label(p)])
        paths += found[0]
        sweep_labels += found[1]
    if len(paths) < 2:
        raise InputError(f"compare needs at least 2 run folders; got {len(paths)}")
    results = []
    for path in paths:
        if not (path / "result.json").is_file() and not path.is_file():
            raise InputError(f"{path}: no result.json there; give folders written by `python -m lca run --out`")
        results.append(load_result(path))
    return compare_results(results, labels or sweep_labels)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def _table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    cells = [list(map(str, header))] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))) for r in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths)] + lines[1:])


def format_report(comparison: Comparison, max_tags: int = 20) -> str:
    """The comparison as plain-text tables, for the command line."""
    c = comparison
    first = [k for k, _ in TABLE_COLUMNS if not k.startswith(("zero_", "retrain_", "probeless"))]
    parts = []
    for title, keys in (("Accuracies (Tables 6 and 7; %)", first),
                        ("Zero-out ablation (keep 20 %) and retraining on N neurons (%)",
                         [k for k, _ in TABLE_COLUMNS if k not in first])):
        parts += [title, _table(["run"] + [dict(TABLE_COLUMNS)[k] for k in keys],
                                [[r["label"]] + [r[k] for k in keys] for r in c.rows]), ""]
    parts.pop()
    width = max(len(lay["counts"]) for lay in c.layers)
    parts += ["", "Minimal set per layer (% of the set; 0 = embeddings)",
              _table(["run"] + [str(k) for k in range(width)],
                     [[lab] + [round(100 * s, 1) for s in lay["shares"]] + [None] * (width - len(lay["shares"]))
                      for lab, lay in zip(c.labels, c.layers)])]
    if c.shifts:
        parts += ["", f"Shift of the minimal set against {c.labels[0]} (mean layer; relative depth 0..1)"]
        parts += [f"  {s['to']}: {s['mean_layer_before']:.2f} -> {s['mean_layer_after']:.2f} "
                  f"(delta {s['delta_layer']:+.2f} layers, {s['delta_depth']:+.3f} depth)" for s in c.shifts]
    if c.shared_tags:
        tags = c.shared_tags[:max_tags]
        parts += ["", f"Neurons per shared tag ({len(c.shared_tags)} shared" +
                  (f", first {max_tags}" if len(c.shared_tags) > max_tags else "") + ")",
                  _table(["tag"] + list(c.labels), [[t] + c.tag_counts[t] for t in tags])]
    else:
        parts += ["", "No tag is shared by every run."]
    if c.overlaps:
        parts += ["", "Overlap of salient neurons (runs on the same model)"]
        for o in c.overlaps:
            tags = sorted(o["per_tag"].items(), key=lambda kv: -kv[1])[:8]
            parts.append(f"  {o['a']} vs {o['b']}: minimal sets Jaccard {o['jaccard']:.3f} ({o['shared']} shared)"
                         + (("; per tag " + ", ".join(f"{t} {v:.2f}" for t, v in tags)) if tags else ""))
    return "\n".join(parts)
