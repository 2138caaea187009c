"""Minimal neuron subset (Algorithm 4): the smallest ranking prefix within δ of the oracle.

N grows by ``step`` of D; each candidate is retrained on its N neurons with the chosen λs
and scored on the development split, and the first N whose accuracy is within ``delta`` of
the oracle's development accuracy is taken.  Candidates are trained ``chunk`` at a time as
nested prefixes of the ranking in one matrix product (:func:`lca.method.probe.train_probes` with a
mask); each candidate starts and trains as it would alone, so the search order, stopping rule
and result are those of one at a time.
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
                   step: float = 0.01, *, chunk: int = 8, stride: int = 1,
                   progress: Callable[[float], None] | None = None, **train_kw) -> MinimalSubset:
    """Algorithm 4 given the ranking and the oracle's dev accuracy; stops at D at the latest.

    ``stride`` > 1 searches coarse to fine (quick mode): every ``stride``-th candidate first,
    then the candidates between the first one that qualifies and the coarse one before it.
    It returns what Algorithm 4 returns whenever accuracy does not dip back below the target
    between two coarse candidates.
    """
    ranking = np.asarray(ranking)
    sizes = candidate_sizes(len(ranking), step)
    coarse = sorted(set(sizes[stride - 1::stride]) | {sizes[-1]})
    tried: list[tuple[int, float]] = []
    device = train_kw.get("device", "cpu")
    # Progress counts trained chunks (each a batch of candidates), the running one by its epochs, over an
    # estimate of the chunks left: this one, plus one to refine between coarse candidates.  Shown as
    # candidates train, never backwards (the estimate grows when the target is not yet reached).
    state = {"chunks": 0, "after": 1 if stride > 1 else 0, "shown": 0.0}

    def show(part_done: float) -> None:
        if progress is not None:
            estimate = state["chunks"] + 1 + state["after"]
            state["shown"] = max(state["shown"], min(1.0, (state["chunks"] + part_done) / estimate))
            progress(state["shown"])

    def first_within(part: list[int]) -> MinimalSubset | None:
        columns = ranking[:part[-1]]
        mask = np.arange(len(columns))[None, :] < np.asarray(part)[:, None]
        probes = train_probes(train, y_train, n_classes, [l1] * len(part), [l2] * len(part), columns, mask,
                              progress=lambda epoch, total: show(epoch / total), **train_kw)
        acc = accuracy(dev, y_dev, probes, device=device)
        state["chunks"] += 1
        show(0.0)
        for g, n in enumerate(part):
            tried.append((n, float(acc[g])))
            if oracle_dev_accuracy - acc[g] < delta or n == len(ranking):
                probe = ProbeWeights(probes.coef[g:g + 1, :n], probes.intercept[g:g + 1], columns[None, :n])
                return MinimalSubset(ranking[:n], probe, float(acc[g]), ())
        return None

    for start in range(0, len(coarse), chunk):
        found = first_within(coarse[start:start + chunk])
        if found is None:
            continue
        n_found = len(found.neurons)
        below = max((m for m in coarse if m < n_found), default=0)  # the last coarse candidate that fell short
        finer = [n for n in sizes if below < n < n_found]
        parts = [finer[i:i + chunk] for i in range(0, len(finer), chunk)]
        for k, part in enumerate(parts):
            state["after"] = len(parts) - k - 1
            refined = first_within(part)
            if refined is not None:
                found = refined
                break
        if progress is not None:
            progress(1.0)
        return MinimalSubset(found.neurons, found.probe, found.dev_accuracy, tuple(sorted(tried)))
    raise AssertionError("the last candidate is all neurons and always stops the search")
