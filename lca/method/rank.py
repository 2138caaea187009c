"""Neuron rankings: LCA's weight-mass ranking (Algorithm 3) and the baselines.

Each ranking is a complete permutation of the ``D`` flat neuron ids, most salient first.
"""
from __future__ import annotations

import numpy as np

__all__ = ["entry_steps", "lca_ranking", "tag_neurons", "weight_magnitude_ranking", "random_ranking",
           "bottom_ranking", "top_columns", "random_rankings"]


def entry_steps(weights: np.ndarray, steps: int = 1000) -> np.ndarray:
    """``(D, T)``: the first weight-mass threshold step at which each neuron is salient for each tag.

    For tag ``t`` the neurons are sorted by ``|w_t|``; at threshold ``p = k / steps`` the
    salient neurons are those whose preceding (larger) weights hold less than ``p`` of the tag's
    total mass.  So the strongest neuron of a tag enters at step 1.
    """
    mass = np.abs(np.asarray(weights, dtype=np.float64))
    D, T = mass.shape
    order = np.argsort(-mass, axis=0, kind="stable")
    sorted_mass = np.take_along_axis(mass, order, axis=0)
    before = (np.cumsum(sorted_mass, axis=0) - sorted_mass) / np.maximum(sorted_mass.sum(axis=0), 1e-30)
    step_sorted = np.floor(before * steps + 1e-9).astype(np.int64) + 1
    out = np.empty((D, T), dtype=np.int64)
    np.put_along_axis(out, order, step_sorted, axis=0)
    return out


def lca_ranking(weights: np.ndarray, steps: int = 1000) -> np.ndarray:
    """Algorithm 3: grow the per-tag weight mass in ``steps`` steps and append newly salient neurons.

    Neurons that become salient at the same step are ordered by their largest absolute weight.

    >>> w = np.array([[0.0, 0.1], [5.0, 0.0], [0.0, 3.0], [0.2, 0.2]])
    >>> lca_ranking(w).tolist()
    [1, 2, 3, 0]
    """
    entry = entry_steps(weights, steps).min(axis=1)
    strength = np.abs(weights).max(axis=1)
    return np.lexsort((-strength, entry)).astype(np.int64)


def tag_neurons(weights: np.ndarray, selected: np.ndarray, steps: int = 1000) -> list[np.ndarray]:
    """For each tag, the neurons of ``selected`` (a ranking prefix) that the tag itself made salient.

    A tag claims a selected neuron when the neuron entered the tag's salient set no later than
    the step at which the last selected neuron entered the ranking.  Each list is sorted by
    the tag's absolute weight.
    """
    selected = np.asarray(selected, dtype=np.int64)
    entry = entry_steps(weights, steps)
    cutoff = entry[selected].min(axis=1).max() if len(selected) else 0
    claimed = entry[selected] <= cutoff  # (N, T)
    out = []
    for t in range(weights.shape[1]):
        mine = selected[claimed[:, t]]
        out.append(mine[np.argsort(-np.abs(weights[mine, t]), kind="stable")])
    return out


def weight_magnitude_ranking(weights: np.ndarray) -> np.ndarray:
    """Baseline: neurons by the L1 norm of their weights over all tags."""
    return np.argsort(-np.abs(weights).sum(axis=1), kind="stable").astype(np.int64)


def random_ranking(n_neurons: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n_neurons).astype(np.int64)


def random_rankings(n_neurons: int, draws: int, seed: int = 0) -> np.ndarray:
    """``(draws, n_neurons)``: independent random rankings, draw i seeded by ``(seed, i)`` (so the
    draws of seed 0 and seed 1 differ).

    >>> random_rankings(5, 2, seed=0).shape
    (2, 5)
    """
    return np.stack([np.random.default_rng([seed, i]).permutation(n_neurons) for i in range(draws)]).astype(np.int64)


def bottom_ranking(ranking: np.ndarray) -> np.ndarray:
    """The least salient first."""
    return np.asarray(ranking)[::-1].copy()


def top_columns(ranking: np.ndarray, fraction: float) -> np.ndarray:
    """The first ``round(fraction * D)`` ids of ``ranking`` (at least one), sorted."""
    n = max(1, int(round(fraction * len(ranking))))
    return np.sort(np.asarray(ranking)[:n])
