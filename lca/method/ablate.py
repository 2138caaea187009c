"""Checks of a ranking: zero-out ablation without retraining (Table 2) and retraining on a
subset (Table 5)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .features import Features
from .probe import ProbeWeights, _as_features, accuracy, train_probes
from .rank import top_columns

__all__ = ["kept_accuracy", "zero_out_accuracy", "ablation_curve", "retrain_accuracy", "CURVE_FRACTIONS", "mean_sd"]


@torch.no_grad()
def kept_accuracy(X: Features, y: np.ndarray, probes: ProbeWeights, rankings: np.ndarray, probe_of: Sequence[int],
                  sizes: Sequence[int], chunk: int = 4096, device="cpu") -> np.ndarray:
    """``(R, S)`` accuracy of probe ``probe_of[r]`` when only the first ``sizes[s]`` neurons of
    ``rankings[r]`` are kept and the others zeroed out.

    The probes must have been trained on all columns.  Each ranking costs one pass of matrix
    products however many sizes are asked for: the logits of a longer prefix are those of the
    shorter one plus the block in between.
    """
    X = _as_features(X)
    rankings, probe_of = np.atleast_2d(rankings), np.asarray(probe_of)
    sizes = [int(s) for s in sizes]
    bounds = sorted(set(sizes) | {0})
    where = {size: i for i, size in enumerate(bounds)}
    coef = torch.as_tensor(probes.coef, device=device)
    bias = torch.as_tensor(probes.intercept, device=device)
    order = rankings[:, :bounds[-1]]  # no need to look past the longest prefix
    weights = [coef[g][torch.as_tensor(o, device=device)] for g, o in zip(probe_of, order)]  # rows in ranking order
    y = torch.as_tensor(np.asarray(y), device=device)
    correct = np.zeros((len(rankings), len(bounds)))
    for start in range(0, X.n_rows, chunk):
        index = np.arange(start, min(start + chunk, X.n_rows))
        # one gather of the chunk's rows; each ranking's columns in ranking order, taken before conversion
        xs = X.batches(index, list(order), device)
        for r, (g, xr, wr) in enumerate(zip(probe_of, xs, weights)):
            logits = bias[g].expand(len(index), -1)
            correct[r, 0] += (logits.argmax(-1) == y[index]).sum().item()  # nothing kept: the bias alone
            for lo, hi in zip(bounds, bounds[1:]):
                logits = logits + xr[:, lo:hi] @ wr[lo:hi]
                correct[r, where[hi]] += (logits.argmax(-1) == y[index]).sum().item()
    return correct[:, [where[s] for s in sizes]] / max(X.n_rows, 1)


def zero_out_accuracy(X: Features, y: np.ndarray, oracle: ProbeWeights, rankings: dict[str, np.ndarray],
                      fractions: Sequence[float] = (0.2,), device="cpu") -> dict[str, np.ndarray]:
    """Accuracy of the oracle, per ranking and per fraction, when only the first ``fraction`` of the
    ranking is kept and the rest zeroed: ``{name: (fractions,) accuracies}``, or ``(draws, fractions)``
    for a ranking given as ``(draws, D)`` (e.g. several random draws)."""
    stacked = {name: np.atleast_2d(r) for name, r in rankings.items()}
    D = next(iter(stacked.values())).shape[1]
    sizes = [len(top_columns(np.arange(D), f)) for f in fractions]
    acc = kept_accuracy(X, y, oracle, np.concatenate(list(stacked.values())),
                        [0] * sum(len(r) for r in stacked.values()), sizes, device=device)
    out, start = {}, 0
    for name, r in stacked.items():
        out[name] = acc[start:start + len(r)] if np.ndim(rankings[name]) == 2 else acc[start]
        start += len(r)
    return out


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value).

    >>> [round(v, 4) for v in mean_sd([0.5, 0.7])]
    [0.6, 0.1414]
    """
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


CURVE_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def ablation_curve(X: Features, y: np.ndarray, oracle: ProbeWeights, rankings: dict[str, np.ndarray],
                   fractions: Sequence[float] = CURVE_FRACTIONS, device="cpu") -> list[dict]:
    """Zero-out accuracy against the number of neurons kept, for each ranking:
    ``[{fraction, n_neurons, <ranking name>: accuracy, ...} for each fraction]``.  A ranking
    given as ``(draws, D)`` reports the mean over its draws, with ``<name>_sd`` their spread and
    ``<name>_draws`` each draw's accuracy."""
    D = np.shape(next(iter(rankings.values())))[-1]
    acc = zero_out_accuracy(X, y, oracle, rankings, fractions, device)
    rows = []
    for i, f in enumerate(fractions):
        row = {"fraction": f, "n_neurons": len(top_columns(np.arange(D), f))}
        for name, values in acc.items():
            if values.ndim == 2:
                row[name], row[f"{name}_sd"] = mean_sd(values[:, i])
                row[f"{name}_draws"] = values[:, i].tolist()
            else:
                row[name] = float(values[i])
        rows.append(row)
    return rows


def retrain_accuracy(train: Features, y_train: np.ndarray, test: Features, y_test: np.ndarray, n_classes: int,
                     subsets: dict[str, np.ndarray | None], l1: float, l2: float, **train_kw) -> dict[str, float]:
    """Test accuracy of a probe retrained on each subset of neurons (None: all).

    The probes on all neurons train together, and so do the probes on (equal-sized) subsets.

    ``y_train`` and ``y_test`` are one label array for all, or one row per subset (in order),
    e.g. to train control-task probes alongside.
    """
    names = list(subsets)
    y_train, y_test = (np.broadcast_to(np.asarray(y).reshape(-1, np.shape(y)[-1]), (len(names), np.shape(y)[-1]))
                       for y in (y_train, y_test))
    out = {}
    # Probes on all neurons and probes on equal-sized subsets train as two programs.
    for group in ([n for n in names if subsets[n] is None], [n for n in names if subsets[n] is not None]):
        if not group:
            continue
        rows = [names.index(n) for n in group]
        columns = None if subsets[group[0]] is None else np.stack([np.sort(subsets[n]) for n in group])
        probes = train_probes(train, y_train[rows], n_classes, [l1] * len(group), [l2] * len(group), columns,
                              **train_kw)
        acc = accuracy(test, y_test[rows], probes, device=train_kw.get("device", "cpu"))
        out.update({name: float(a) for name, a in zip(group, acc)})
    return {name: out[name] for name in names}
