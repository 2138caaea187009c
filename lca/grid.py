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

from .ablate import kept_accuracy
from .features import Features
from .probe import ProbeWeights, accuracy, train_probes
from .rank import lca_ranking, top_columns

__all__ = ["GridResult", "grid_search", "quick_grid_search"]

@dataclass(frozen=True)
class GridResult:
    """Scores of the grid and the two probes the rest of the pipeline needs.

    Attributes
    ----------
    rows : tuple of dict
        ``{l1, l2, score, accuracy, accuracy_top, accuracy_bottom}`` per grid point, on the dev
        split; in quick mode, points that were only screened carry ``"screened": True`` and
        points never trained have no row.
    lambdas : dict
        ``{l1, l2}`` of the chosen point.
    oracle, noreg : ProbeWeights
        The probe at the chosen point and the unregularized (0, 0) probe, on all neurons.
    oracle_dev_accuracy : float
    companions : ProbeWeights or None
        Quick mode: probes on other labels trained beside the oracle with its λs (see
        :func:`quick_grid_search`).
    """

    rows: tuple[dict, ...]
    lambdas: dict
    oracle: ProbeWeights
    noreg: ProbeWeights
    oracle_dev_accuracy: float
    companions: ProbeWeights | None = None


def _pairs(pairs) -> list[tuple[float, float]]:
    pairs = list(dict.fromkeys((float(a), float(b)) for a, b in pairs))
    return pairs if (0.0, 0.0) in pairs else pairs + [(0.0, 0.0)]


def _score_rows(pairs, acc, acc_top, acc_bottom, noreg_acc: float, alpha: float, beta: float) -> list[dict]:
    return [{"l1": a, "l2": b, "score": float(alpha * (acc_top[g] - acc_bottom[g]) - beta * (noreg_acc - acc[g])),
             "accuracy": float(acc[g]), "accuracy_top": float(acc_top[g]), "accuracy_bottom": float(acc_bottom[g])}
            for g, (a, b) in enumerate(pairs)]


def _best(rows: list[dict]) -> int:
    return max(range(len(rows)), key=lambda g: (round(rows[g]["score"], 9), rows[g]["accuracy"]))


def _rankings(probes: ProbeWeights, steps: int) -> np.ndarray:
    return np.stack([lca_ranking(c, steps) for c in probes.coef])


def _reporter(progress):
    """``report(lo, span)``: a progress callback for the part of the work from ``lo`` to ``lo + span``."""
    if progress is None:
        return lambda lo, span: None
    return lambda lo, span: (lambda done, total: progress(lo + span * done / total))


def grid_search(train: Features, y_train: np.ndarray, dev: Features, y_dev: np.ndarray, n_classes: int,
                pairs: list[tuple[float, float]], top_fraction: float = 0.2, alpha: float = 0.5, beta: float = 0.5,
                ranking_steps: int = 1000, progress: Callable[[float], None] | None = None,
                **train_kw) -> GridResult:
    """Algorithm 2 over the given ``(λ1, λ2)`` pairs; ``(0, 0)`` is added when missing (it gives A_noreg)."""
    pairs = _pairs(pairs)
    l1 = np.array([p[0] for p in pairs], dtype=np.float32)
    l2 = np.array([p[1] for p in pairs], dtype=np.float32)
    report = _reporter(progress)
    device = train_kw.get("device", "cpu")
    probes = train_probes(train, y_train, n_classes, l1, l2, progress=report(0.0, 0.6), **train_kw)
    acc = accuracy(dev, y_dev, probes, device=device)
    rankings = _rankings(probes, ranking_steps)
    sets = np.stack([top_columns(r, top_fraction) for r in np.concatenate([rankings, rankings[:, ::-1]])])
    retrained = train_probes(train, y_train, n_classes, np.tile(l1, 2), np.tile(l2, 2), sets,
                             progress=report(0.6, 0.4), **train_kw)
    acc_top, acc_bottom = accuracy(dev, y_dev, retrained, device=device).reshape(2, -1)
    noreg = pairs.index((0.0, 0.0))
    rows = _score_rows(pairs, acc, acc_top, acc_bottom, acc[noreg], alpha, beta)
    best = _best(rows)
    return GridResult(tuple(rows), {"l1": pairs[best][0], "l2": pairs[best][1]}, probes.probe(best),
                      probes.probe(noreg), float(acc[best]))


def _screen(train, y_train, dev, y_dev, n_classes, pairs, noreg_acc, top_fraction, alpha, beta, ranking_steps,
            progress, **train_kw) -> list[dict]:
    """Rows of ``pairs`` trained briefly, A_top and A_bottom by zeroing out (evaluation only).
    ``noreg_acc`` None: the (0, 0) pair is among ``pairs`` and gives it."""
    l1 = np.array([p[0] for p in pairs], dtype=np.float32)
    l2 = np.array([p[1] for p in pairs], dtype=np.float32)
    device = train_kw.get("device", "cpu")
    probes = train_probes(train, y_train, n_classes, l1, l2, progress=progress, **train_kw)
    acc = accuracy(dev, y_dev, probes, device=device)
    rankings = _rankings(probes, ranking_steps)
    size = len(top_columns(rankings[0], top_fraction))
    G = len(pairs)
    kept = kept_accuracy(dev, y_dev, probes, np.concatenate([rankings, rankings[:, ::-1]]),
                         np.concatenate([np.arange(G), np.arange(G)]), [size], device=device)[:, 0]
    noreg_acc = acc[pairs.index((0.0, 0.0))] if noreg_acc is None else noreg_acc
    return [{**row, "screened": True} for row in _score_rows(pairs, acc, kept[:G], kept[G:], noreg_acc, alpha, beta)]


def quick_grid_search(train: Features, y_train: np.ndarray, dev: Features, y_dev: np.ndarray, n_classes: int,
                      pairs: list[tuple[float, float]], top_fraction: float = 0.2, alpha: float = 0.5,
                      beta: float = 0.5, ranking_steps: int = 1000, progress: Callable[[float], None] | None = None,
                      screen_epochs: int = 2, companions: np.ndarray | None = None, **train_kw) -> GridResult:
    """Coordinate screening over the same grid, then the winner trained in full.

    Round 1 trains, for every λ1 of the grid, its pair with the smallest λ2 (λ2 = 0 in the
    paper's grid, so (0, 0) is among them); round 2 the remaining pairs of round 1's best λ1.
    Screening probes train ``screen_epochs`` epochs and are scored by Algorithm 2's formula,
    with A_top and A_bottom measured by zeroing out the other neurons instead of retraining.
    The best pair and (0, 0) are then trained for all epochs, exactly as paper mode trains
    them.  On the paper's 7 × 7 grid: 13 probes for 2 epochs and 2 for 10, against paper mode's
    49 full probes and 98 retrained ones.  Every row is a screening row; pairs never trained
    have none.  ``companions`` (rows of labels, e.g. the control task) get probes trained with
    the winner's λs in the same program, returned as ``GridResult.companions``.
    """
    pairs = _pairs(pairs)
    epochs = train_kw.pop("epochs", 10)
    screen_kw = dict(train_kw, epochs=min(screen_epochs, epochs))
    report = _reporter(progress)
    by_l1: dict[float, list] = {}
    for pair in pairs:
        by_l1.setdefault(pair[0], []).append(pair)
    first = [min(group, key=lambda p: p[1]) for group in by_l1.values()]
    rows = _screen(train, y_train, dev, y_dev, n_classes, first, None, top_fraction, alpha, beta, ranking_steps,
                   report(0.0, 0.3), **screen_kw)
    noreg_acc = rows[first.index((0.0, 0.0))]["accuracy"]
    second = [p for p in by_l1[rows[_best(rows)]["l1"]] if p not in first]
    if second:
        rows += _screen(train, y_train, dev, y_dev, n_classes, second, noreg_acc, top_fraction, alpha, beta,
                        ranking_steps, report(0.3, 0.25), **screen_kw)
    best = rows[_best(rows)]
    final = list(dict.fromkeys([(best["l1"], best["l2"]), (0.0, 0.0)]))
    extra = np.empty((0, len(y_train)), dtype=np.int64) if companions is None else np.atleast_2d(companions)
    labels = np.concatenate([np.tile(y_train, (len(final), 1)), extra])
    lambdas = final + [final[0]] * len(extra)
    probes = train_probes(train, labels, n_classes, [p[0] for p in lambdas], [p[1] for p in lambdas], epochs=epochs,
                          progress=report(0.55, 0.45), **train_kw)
    order = {pair: i for i, pair in enumerate(pairs)}
    rows.sort(key=lambda r: order[(r["l1"], r["l2"])])
    n = len(final)
    return GridResult(tuple(rows), {"l1": final[0][0], "l2": final[0][1]}, probes.probe(0), probes.probe(n - 1),
                      float(accuracy(dev, y_dev, probes.probe(0), device=train_kw.get("device", "cpu"))[0]),
                      None if companions is None else ProbeWeights(probes.coef[n:], probes.intercept[n:]))
