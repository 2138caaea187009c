"""Minimal neuron subset (Algorithm 4): the smallest ranking prefix within δ of the oracle.

N grows by ``step`` of D; each candidate is retrained on its N neurons with the chosen λs
and scored on the development split, and the first N whose accuracy is within ``delta`` of
the oracle's development accuracy is taken.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .features import Features
from .probe import ProbeWeights, accuracy, train_probes

__all__ = ["MinimalSubset", "minimal_subset"]


@dataclass(frozen=True)
class MinimalSubset:
    """Attributes: ``neurons`` (N,) flat ids in ranking order; ``probe`` trained on them;
    ``dev_accuracy``; ``tried`` the ``(N, dev accuracy)`` of every candidate."""

    neurons: np.ndarray
    probe: ProbeWeights
    dev_accuracy: float
    tried: tuple[tuple[int, float], ...]


def minimal_subset(train: Features, y_train: np.ndarray, dev: Features, y_dev: np.ndarray, n_classes: int,
                   ranking: np.ndarray, oracle_dev_accuracy: float, l1: float, l2: float, delta: float = 0.01,
                   step: float = 0.01, progress: Callable[[float], None] | None = None,
                   **train_kw) -> MinimalSubset:
    """Algorithm 4 given the ranking and the oracle's dev accuracy; stops at D at the latest."""
    D = len(ranking)
    increment = max(1, int(round(step * D)))
    tried = []
    n = 0
    while True:
        n = min(D, n + increment)
        columns = np.sort(ranking[:n])[None]
        probe = train_probes(train, y_train, n_classes, [l1], [l2], columns, **train_kw)
        acc = float(accuracy(dev, y_dev, probe, device=train_kw.get("device", "cpu"))[0])
        tried.append((n, acc))
        if progress is not None:
            progress(min(1.0, acc / max(oracle_dev_accuracy - delta, 1e-9)))
        if oracle_dev_accuracy - acc < delta or n == D:
            return MinimalSubset(np.asarray(ranking[:n]), probe, acc, tuple(tried))
