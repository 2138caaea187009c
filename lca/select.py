"""Minimal neuron subset (Algorithm 4): the smallest ranking prefix within δ of the oracle.

N grows by ``step`` of D; each candidate is retrained on its N neurons with the chosen λs
and scored on the development split, and the first N whose accuracy is within ``delta`` of
the oracle's development accuracy is taken.  Candidates are trained ``chunk`` at a time as
nested prefixes of the ranking in one matrix product (:func:`lca.probe.train_probes` with a
mask); the search order and stopping rule are those of one at a time, but each candidate starts
from the shared random initialization of its chunk rather than one drawn for its own size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .features import Features
from .probe import ProbeWeights, accuracy, train_probes

__all__ = ["MinimalSubset", "minimal_subset", "candidate_sizes"]


@dataclass(frozen=True)
class MinimalSubset:
    """Attributes: ``neurons`` (N,) flat ids in ranking order; ``probe`` trained on them;
    ``dev_accuracy``; ``tried`` the ``(N, dev accuracy)`` of every candidate."""

    neurons: np.ndarray
    probe: ProbeWeights
    dev_accuracy: float
    tried: tuple[tuple[int, float], ...]


def candidate_sizes(n_neurons: int, step: float) -> list[int]:
    """N = step·D, 2·step·D, ... up to D.

    >>> candidate_sizes(250, 0.1)
    [25, 50, 75, 100, 125, 150, 175, 200, 225, 250]
    """
    increment = max(1, int(round(step * n_neurons)))
    return sorted(set(min(n_neurons, n) for n in range(increment, n_neurons + increment, increment)))


def minimal_subset(train: Features, y_train: np.ndarray, dev: Features, y_dev: np.ndarray, n_classes: int,
                   ranking: np.ndarray, oracle_dev_accuracy: float, l1: float, l2: float, delta: float = 0.01,
                   step: float = 0.01, *, chunk: int = 8, progress: Callable[[float], None] | None = None,
                   **train_kw) -> MinimalSubset:
    """Algorithm 4 given the ranking and the oracle's dev accuracy; stops at D at the latest."""
    ranking = np.asarray(ranking)
    sizes = candidate_sizes(len(ranking), step)
    tried: list[tuple[int, float]] = []
    device = train_kw.get("device", "cpu")
    reached = [0.0]  # the share of the way to the target reached so far, reported after every epoch
    per_epoch = None if progress is None else (lambda e, total: progress(reached[0]))
    for start in range(0, len(sizes), chunk):
        part = sizes[start:start + chunk]
        columns = ranking[:part[-1]]
        mask = np.arange(len(columns))[None, :] < np.asarray(part)[:, None]
        probes = train_probes(train, y_train, n_classes, [l1] * len(part), [l2] * len(part), columns, mask,
                              progress=per_epoch, **train_kw)
        acc = accuracy(dev, y_dev, probes, device=device)
        for g, n in enumerate(part):
            tried.append((n, float(acc[g])))
            if oracle_dev_accuracy - acc[g] < delta or n == len(ranking):
                probe = ProbeWeights(probes.coef[g:g + 1, :n], probes.intercept[g:g + 1], columns[None, :n])
                return MinimalSubset(ranking[:n], probe, float(acc[g]), tuple(tried))
        reached[0] = min(1.0, float(acc.max()) / max(oracle_dev_accuracy - delta, 1e-9))
    raise AssertionError("the last candidate is all neurons and always stops the search")
