"""Grid search over (λ1, λ2) (Algorithm 2), scored on a development split.

For every pair: train a probe, rank its neurons (Algorithm 3), retrain on its top and its
bottom ``M`` of the neurons, and score ``α(A_top − A_bottom) − β(A_noreg − A_λ)``.  All
probes of one kind are trained together (:func:`lca.probe.train_probes`), the top and bottom
probes on their selected columns only, and the unregularized probe is the grid's own (0, 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .features import Features
from .probe import ProbeWeights, accuracy, train_probes
from .rank import bottom_ranking, lca_ranking, top_columns

__all__ = ["GridResult", "grid_search", "quick_grid_search"]

# Probes trained in one tensor program; bounds the (group, batch, columns) gather in memory.
_GROUP = 25


@dataclass(frozen=True)
class GridResult:
    """Scores of the grid and the two probes the rest of the pipeline needs.

    Attributes
    ----------
    rows : tuple of dict
        ``{l1, l2, score, accuracy, accuracy_top, accuracy_bottom}`` per grid point, on the dev
        split; in quick mode, points that were only screened also carry ``"screened": True``.
    lambdas : dict
        ``{l1, l2}`` of the chosen point.
    oracle, noreg : ProbeWeights
        The probe at the chosen point and the unregularized (0, 0) probe, on all neurons.
    oracle_dev_accuracy : float
    """

    rows: tuple[dict, ...]
    lambdas: dict
    oracle: ProbeWeights
    noreg: ProbeWeights
    oracle_dev_accuracy: float


def _train_grouped(X, y, n_classes, l1, l2, columns=None, progress=None, **train_kw) -> ProbeWeights:
    parts, n = [], len(l1)
    for start in range(0, n, _GROUP):
        part = slice(start, start + _GROUP)
        size = len(l1[part])
        per_epoch = None if progress is None else (lambda e, total, s=start, k=size: progress(s + k * e / total, n))
        parts.append(train_probes(X, y, n_classes, l1[part], l2[part],
                                  None if columns is None else columns[part], progress=per_epoch, **train_kw))
    return ProbeWeights(np.concatenate([p.coef for p in parts]), np.concatenate([p.intercept for p in parts]),
                        None if columns is None else np.concatenate([p.columns for p in parts]))


def _pairs(pairs) -> list[tuple[float, float]]:
    pairs = list(dict.fromkeys((float(a), float(b)) for a, b in pairs))
    return pairs if (0.0, 0.0) in pairs else pairs + [(0.0, 0.0)]


def _score_rows(pairs, acc, acc_top, acc_bottom, noreg: int, alpha: float, beta: float) -> list[dict]:
    return [{"l1": a, "l2": b, "score": float(alpha * (acc_top[g] - acc_bottom[g]) - beta * (acc[noreg] - acc[g])),
             "accuracy": float(acc[g]), "accuracy_top": float(acc_top[g]), "accuracy_bottom": float(acc_bottom[g])}
            for g, (a, b) in enumerate(pairs)]


def _best(rows: list[dict]) -> int:
    return max(range(len(rows)), key=lambda g: (round(rows[g]["score"], 9), rows[g]["accuracy"]))


def _top_bottom(probes: ProbeWeights, fraction: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    rankings = [lca_ranking(c, steps) for c in probes.coef]
    return (np.stack([top_columns(r, fraction) for r in rankings]),
            np.stack([top_columns(bottom_ranking(r), fraction) for r in rankings]))


def grid_search(train: Features, y_train: np.ndarray, dev: Features, y_dev: np.ndarray, n_classes: int,
                pairs: list[tuple[float, float]], top_fraction: float = 0.2, alpha: float = 0.5, beta: float = 0.5,
                ranking_steps: int = 1000, progress: Callable[[float], None] | None = None,
                **train_kw) -> GridResult:
    """Algorithm 2 over the given ``(λ1, λ2)`` pairs; ``(0, 0)`` is added when missing (it gives A_noreg)."""
    pairs = _pairs(pairs)
    l1 = np.array([p[0] for p in pairs], dtype=np.float32)
    l2 = np.array([p[1] for p in pairs], dtype=np.float32)
    report = (lambda lo, span: (lambda done, total: progress(lo + span * done / total))) if progress else (
        lambda lo, span: None)
    device = train_kw.get("device", "cpu")
    probes = _train_grouped(train, y_train, n_classes, l1, l2, progress=report(0.0, 0.5), **train_kw)
    acc = accuracy(dev, y_dev, probes, device=device)
    top, bottom = _top_bottom(probes, top_fraction, ranking_steps)
    sub = _train_grouped(train, y_train, n_classes, np.concatenate([l1, l1]), np.concatenate([l2, l2]),
                         np.concatenate([top, bottom]), progress=report(0.5, 0.5), **train_kw)
    sub_acc = accuracy(dev, y_dev, sub, device=device)
    G, noreg = len(pairs), pairs.index((0.0, 0.0))
    rows = _score_rows(pairs, acc, sub_acc[:G], sub_acc[G:], noreg, alpha, beta)
    best = _best(rows)
    return GridResult(tuple(rows), {"l1": pairs[best][0], "l2": pairs[best][1]}, probes.probe(best),
                      probes.probe(noreg), float(acc[best]))


def quick_grid_search(train: Features, y_train: np.ndarray, dev: Features, y_dev: np.ndarray, n_classes: int,
                      pairs: list[tuple[float, float]], top_fraction: float = 0.2, alpha: float = 0.5,
                      beta: float = 0.5, ranking_steps: int = 1000, progress: Callable[[float], None] | None = None,
                      screen_epochs: int = 3, finalists: int = 6, **train_kw) -> GridResult:
    """Successive halving over the same grid.

    Round 1 trains every pair for ``screen_epochs`` epochs and scores it by the same formula,
    with A_top and A_bottom measured by zeroing out instead of retraining (evaluation only).
    Round 2 runs :func:`grid_search` exactly as paper mode on the ``finalists`` best pairs
    plus (0, 0): whenever paper mode's choice is among them, both modes pick the same λs and
    the same oracle probe, bit for bit.
    """
    pairs = _pairs(pairs)
    epochs = train_kw.pop("epochs", 10)
    device = train_kw.get("device", "cpu")
    l1 = np.array([p[0] for p in pairs], dtype=np.float32)
    l2 = np.array([p[1] for p in pairs], dtype=np.float32)
    screen_progress = (lambda done, total: progress(0.4 * done / total)) if progress else None
    probes = _train_grouped(train, y_train, n_classes, l1, l2, progress=screen_progress,
                            epochs=min(screen_epochs, epochs), **train_kw)
    acc = accuracy(dev, y_dev, probes, device=device)
    top, bottom = _top_bottom(probes, top_fraction, ranking_steps)
    acc_top = np.array([accuracy(dev, y_dev, probes.probe(g), keep=top[g], device=device)[0] for g in range(len(pairs))])
    acc_bottom = np.array([accuracy(dev, y_dev, probes.probe(g), keep=bottom[g], device=device)[0]
                           for g in range(len(pairs))])
    screened = _score_rows(pairs, acc, acc_top, acc_bottom, pairs.index((0.0, 0.0)), alpha, beta)
    order = sorted(range(len(pairs)), key=lambda g: (-round(screened[g]["score"], 9), -screened[g]["accuracy"]))
    chosen = [pairs[g] for g in order[:finalists]]
    final = grid_search(train, y_train, dev, y_dev, n_classes, chosen, top_fraction, alpha, beta, ranking_steps,
                        (lambda f: progress(0.4 + 0.6 * f)) if progress else None, epochs=epochs, **train_kw)
    exact = {(r["l1"], r["l2"]): r for r in final.rows}
    rows = tuple(exact.get((r["l1"], r["l2"]), {**r, "screened": True}) for r in screened)
    return GridResult(rows, final.lambdas, final.oracle, final.noreg, final.oracle_dev_accuracy)
