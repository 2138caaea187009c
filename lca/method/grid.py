"""Grid search over (λ1, λ2) (Algorithm 2), scored on a development split.

For every pair: train a probe, rank its neurons (Algorithm 3), retrain on its top and its
bottom ``M`` of the neurons, and score ``α(A_top − A_bottom) − β(A_noreg − A_λ)``.  All
probes of one kind are trained together (:func:`lca.method.probe.train_probes`), the top and bottom
probes on their selected columns only, and the unregularized probe is the grid's own (0, 0).

Every row also says how sharp that point's ranking is: the probe with all but its top ``M``
neurons zeroed out (``zero_top``), with all but ``M`` random ones (``zero_random``, the mean
of several draws), and their difference ``gap``, all on the development split.  Set against
``noreg − accuracy``, the accuracy that point's penalty costs, these rows are the λ trade-off.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .ablate import kept_accuracy
from .features import Features
from .probe import ProbeWeights, accuracy, train_probes
from .rank import lca_ranking, random_rankings, top_columns

__all__ = ["GridResult", "grid_search", "quick_grid_search", "fixed_point"]

@dataclass(frozen=True)
class GridResult:
    """Scores of the grid and the two probes the rest of the pipeline needs.

    Attributes
    ----------
    rows : tuple of dict
        ``{l1, l2, score, accuracy, accuracy_top, accuracy_bottom, zero_top, zero_random, gap}``
        per grid point, on the dev split; in quick mode, points that were only screened carry
        ``"screened": True`` and points never trained have no row.
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


def _score_rows(pairs, acc, acc_top, acc_bottom, noreg_acc: float, alpha: float, beta: float,
                zero: np.ndarray) -> list[dict]:
    """``zero``: (3, G) zero-out top, bottom and mean random accuracy of each point's probe."""
    return [{"l1": a, "l2": b, "score": float(alpha * (acc_top[g] - acc_bottom[g]) - beta * (noreg_acc - acc[g])),
             "accuracy": float(acc[g]), "accuracy_top": float(acc_top[g]), "accuracy_bottom": float(acc_bottom[g]),
             "zero_top": float(zero[0, g]), "zero_random": float(zero[2, g]), "gap": float(zero[0, g] - zero[2, g])}
            for g, (a, b) in enumerate(pairs)]


def _zero_out(dev: Features, y_dev: np.ndarray, probes: ProbeWeights, rankings: np.ndarray, top_fraction: float,
              draws: int, seed: int, device) -> np.ndarray:
    """``(3, G)``: each probe's dev accuracy keeping only its top, its bottom, or ``draws`` random
    ``top_fraction`` of the neurons (the random row is the mean over draws)."""
    G, D = rankings.shape
    size = len(top_columns(rankings[0], top_fraction))
    randoms = random_rankings(D, draws, seed)
    every = np.concatenate([rankings, rankings[:, ::-1], np.tile(randoms, (G, 1))])
    probe_of = np.concatenate([np.arange(G), np.arange(G), np.repeat(np.arange(G), draws)])
    kept = kept_accuracy(dev, y_dev, probes, every, probe_of, [size], device=device)[:, 0]
    return np.stack([kept[:G], kept[G:2 * G], kept[2 * G:].reshape(G, draws).mean(axis=1)])


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
                ranking_steps: int = 1000, progress: Callable[[float], None] | None = None, random_draws: int = 5,
                **train_kw) -> GridResult:
    """Algorithm 2 over the given ``(λ1, λ2)`` pairs; ``(0, 0)`` is added when missing (it gives A_noreg).
    The oracle carries its training curve on the dev split (``ProbeWeights.history``)."""
    pairs = _pairs(pairs)
    l1 = np.array([p[0] for p in pairs], dtype=np.float32)
    l2 = np.array([p[1] for p in pairs], dtype=np.float32)
    report = _reporter(progress)
    device = train_kw.get("device", "cpu")
    probes = train_probes(train, y_train, n_classes, l1, l2, progress=report(0.0, 0.6), monitor=(dev, y_dev),
                          **train_kw)
    acc = accuracy(dev, y_dev, probes, device=device)
    rankings = _rankings(probes, ranking_steps)
    sets = np.stack([top_columns(r, top_fraction) for r in np.concatenate([rankings, rankings[:, ::-1]])])
    retrained = train_probes(train, y_train, n_classes, np.tile(l1, 2), np.tile(l2, 2), sets,
                             progress=report(0.6, 0.4), **train_kw)
    acc_top, acc_bottom = accuracy(dev, y_dev, retrained, device=device).reshape(2, -1)
    noreg = pairs.index((0.0, 0.0))
    zero = _zero_out(dev, y_dev, probes, rankings, top_fraction, random_draws, train_kw.get("seed", 0), device)
    rows = _score_rows(pairs, acc, acc_top, acc_bottom, acc[noreg], alpha, beta, zero)
    best = _best(rows)
    return GridResult(tuple(rows), {"l1": pairs[best][0], "l2": pairs[best][1]}, probes.probe(best),
                      probes.probe(noreg), float(acc[best]))


def _zero_rows(dev, y_dev, probes, pairs, noreg_acc, top_fraction, alpha, beta, ranking_steps, random_draws,
               **train_kw) -> list[dict]:
    """Rows of trained ``probes``, A_top and A_bottom by zeroing out (evaluation only).
    ``noreg_acc`` None: the (0, 0) pair is among ``pairs`` and gives it."""
    device = train_kw.get("device", "cpu")
    acc = accuracy(dev, y_dev, probes, device=device)
    zero = _zero_out(dev, y_dev, probes, _rankings(probes, ranking_steps), top_fraction, random_draws,
                     train_kw.get("seed", 0), device)
    noreg_acc = acc[pairs.index((0.0, 0.0))] if noreg_acc is None else noreg_acc
    return _score_rows(pairs, acc, zero[0], zero[1], noreg_acc, alpha, beta, zero)


def _screen(train, y_train, dev, y_dev, n_classes, pairs, noreg_acc, top_fraction, alpha, beta, ranking_steps,
            random_draws, progress, **train_kw) -> list[dict]:
    """Rows of ``pairs`` trained briefly (see :func:`_zero_rows`)."""
    probes = train_probes(train, y_train, n_classes, [p[0] for p in pairs], [p[1] for p in pairs],
                          progress=progress, **train_kw)
    return [{**row, "screened": True} for row in _zero_rows(dev, y_dev, probes, pairs, noreg_acc, top_fraction,
                                                            alpha, beta, ranking_steps, random_draws, **train_kw)]


def _final(train, y_train, dev, y_dev, n_classes, pair, companions, progress,
           **train_kw) -> tuple[ProbeWeights, int]:
    """``pair``, (0, 0) and the ``companions`` (rows of other labels, at ``pair``) trained in full,
    in that order, in one program, and how many of them are on the task (1 or 2); each carries
    its training curve on the dev split."""
    final = list(dict.fromkeys([pair, (0.0, 0.0)]))
    extra = np.empty((0, len(y_train)), dtype=np.int64) if companions is None else np.atleast_2d(companions)
    labels = np.concatenate([np.tile(y_train, (len(final), 1)), extra])
    lambdas = final + [final[0]] * len(extra)
    return train_probes(train, labels, n_classes, [p[0] for p in lambdas], [p[1] for p in lambdas],
                        progress=progress, monitor=(dev, y_dev), **train_kw), len(final)


def _grid_result(rows, pair, probes: ProbeWeights, n_final: int, dev, y_dev, companions, device) -> GridResult:
    return GridResult(tuple(rows), {"l1": pair[0], "l2": pair[1]}, probes.probe(0), probes.probe(n_final - 1),
                      float(accuracy(dev, y_dev, probes.probe(0), device=device)[0]),
                      None if companions is None else ProbeWeights(probes.coef[n_final:], probes.intercept[n_final:]))


def fixed_point(train: Features, y_train: np.ndarray, dev: Features, y_dev: np.ndarray, n_classes: int,
                pair: tuple[float, float], top_fraction: float = 0.2, alpha: float = 0.5, beta: float = 0.5,
                ranking_steps: int = 1000, progress: Callable[[float], None] | None = None, random_draws: int = 5,
                companions: np.ndarray | None = None, **train_kw) -> GridResult:
    """No search: the oracle at the given ``(λ1, λ2)`` (e.g. a grid point the user picked),
    trained in full beside (0, 0); one row, scored as quick mode scores its screening rows."""
    pair = (float(pair[0]), float(pair[1]))
    probes, n = _final(train, y_train, dev, y_dev, n_classes, pair, companions, _reporter(progress)(0.0, 1.0),
                       **train_kw)
    pairs = [pair, (0.0, 0.0)][:n]
    rows = _zero_rows(dev, y_dev, probes.probe(0) if n == 1 else ProbeWeights(probes.coef[:2], probes.intercept[:2]),
                      pairs, None, top_fraction, alpha, beta, ranking_steps, random_draws, **train_kw)
    return _grid_result(rows[:1], pair, probes, n, dev, y_dev, companions, train_kw.get("device", "cpu"))


def quick_grid_search(train: Features, y_train: np.ndarray, dev: Features, y_dev: np.ndarray, n_classes: int,
                      pairs: list[tuple[float, float]], top_fraction: float = 0.2, alpha: float = 0.5,
                      beta: float = 0.5, ranking_steps: int = 1000, progress: Callable[[float], None] | None = None,
                      screen_epochs: int = 2, companions: np.ndarray | None = None, random_draws: int = 5,
                      **train_kw) -> GridResult:
    """Coordinate screening over the same grid, then the winner trained in full.

    Round 1 trains, for every λ1 of the grid, its pair with the smallest λ2 (λ2 = 0 in the
    paper's grid, so (0, 0) is among them); round 2 the remaining pairs of round 1's best λ1.
    Screening probes train ``screen_epochs`` epochs (and a quarter of ``min_steps``) and are
    scored by Algorithm 2's formula,
    with A_top and A_bottom measured by zeroing out the other neurons instead of retraining.
    The best pair and (0, 0) are then trained for all epochs, exactly as paper mode trains
    them.  On the paper's 7 × 7 grid: 13 probes for 2 epochs and 2 for 10, against paper mode's
    49 full probes and 98 retrained ones.  Every row is a screening row; pairs never trained
    have none.  ``companions`` (rows of labels, e.g. the control task) get probes trained with
    the winner's λs in the same program, returned as ``GridResult.companions``.
    """
    pairs = _pairs(pairs)
    epochs = train_kw.get("epochs", 10)
    screen_kw = dict(train_kw, epochs=min(screen_epochs, epochs), min_steps=train_kw.get("min_steps", 0) // 4)
    report = _reporter(progress)
    by_l1: dict[float, list] = {}
    for pair in pairs:
        by_l1.setdefault(pair[0], []).append(pair)
    first = [min(group, key=lambda p: p[1]) for group in by_l1.values()]
    args = (top_fraction, alpha, beta, ranking_steps, random_draws)
    rows = _screen(train, y_train, dev, y_dev, n_classes, first, None, *args, report(0.0, 0.3), **screen_kw)
    noreg_acc = rows[first.index((0.0, 0.0))]["accuracy"]
    second = [p for p in by_l1[rows[_best(rows)]["l1"]] if p not in first]
    if second:
        rows += _screen(train, y_train, dev, y_dev, n_classes, second, noreg_acc, *args, report(0.3, 0.25),
                        **screen_kw)
    best = rows[_best(rows)]
    pair = (best["l1"], best["l2"])
    probes, n = _final(train, y_train, dev, y_dev, n_classes, pair, companions, report(0.55, 0.45), **train_kw)
    order = {pair: i for i, pair in enumerate(pairs)}
    rows.sort(key=lambda r: order[(r["l1"], r["l2"])])
    return _grid_result(rows, pair, probes, n, dev, y_dev, companions, train_kw.get("device", "cpu"))
