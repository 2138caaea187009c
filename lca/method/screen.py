"""A cheap per-neuron screen that keeps the best K neurons of each layer, streamed: big D without big memory.

Llama-3-8B's MLP site has 32 × 14,336 = 458,752 neurons; 100k words of them are 92 GB in float16,
and one evaluation chunk of the probes 23 GB.  ``--screen K`` instead runs the model once over the
training corpus and, batch by batch, adds every word's activations into per-tag sums (``T × D``
float64, 183 MB for 50 tags) and per-neuron sums of squares; nothing per word is kept.  Each
neuron's score is the probeless score (Antverg & Belinkov 2022; :mod:`lca.method.probeless`) of its tag
means divided by its standard deviation, so that neurons of different scales compare; for a pair
task, the larger of its head and dependent scores.  The best K of each layer are kept (per layer,
because scales differ most between layers), and the exact LCA pipeline runs on their union: a
second extraction writes only those ``layers × K`` columns.  Only the fitting part of the
training data is screened: the development split and the test set stay unseen.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch

from .._validation import check_positive
from .probeless import pairwise_spread

__all__ = ["ScreenResult", "screen_scores", "keep_per_layer", "screen_neurons"]


@dataclass(frozen=True)
class ScreenResult:
    """The neurons a screen kept.

    Attributes
    ----------
    columns : ndarray of int, shape (n_layers * K,)
        Sorted flat ids (of the site) kept.
    scores : ndarray of float, shape (n_screened,)
        The score of every screened neuron, in ``screened`` order.
    screened : ndarray of int, shape (n_screened,)
        The flat ids that were screened (every neuron of the chosen layers).
    """

    per_layer: int
    columns: np.ndarray
    scores: np.ndarray
    screened: np.ndarray
    seconds: float

    def to_dict(self) -> dict:
        return {"per_layer": self.per_layer, "n_screened": int(len(self.screened)), "columns": self.columns.tolist(),
                "seconds": round(self.seconds, 3)}


def _count_matrices(rows: np.ndarray, labels: np.ndarray, n_words: int, n_classes: int) -> list:
    """Per half (one; two for pair tasks): a sparse ``(n_words, T)`` count of each word's examples by tag."""
    from scipy.sparse import csr_matrix

    rows = rows[:, None] if rows.ndim == 1 else rows
    ones = np.ones(len(labels), dtype=np.float32)
    return [csr_matrix((ones, (rows[:, h], labels)), shape=(n_words, n_classes)) for h in range(rows.shape[1])]


def screen_scores(batches: Iterable[tuple[np.ndarray, torch.Tensor]], rows: np.ndarray, labels: np.ndarray,
                  n_words: int, n_classes: int, width: int) -> np.ndarray:
    """``(width,)`` screen score of each neuron from streamed ``(word rows, values (n, width))`` batches.

    ``rows`` (n_examples,) or (n_examples, 2) are the words of the labelled examples; ``labels``
    their tags.  Every word streamed counts for the neuron's scale; only the examples for its tag means.

    >>> v = torch.tensor([[0., 5.], [0., -5.], [1., 5.], [1., -5.]])
    >>> s = screen_scores([(np.arange(4), v)], np.arange(4), np.array([0, 0, 1, 1]), 4, 2, 2)
    >>> bool(s[0] > s[1])
    True
    """
    counts = _count_matrices(np.asarray(rows, dtype=np.int64), np.asarray(labels, dtype=np.int64), n_words, n_classes)
    sums = [np.zeros((n_classes, width)) for _ in counts]
    s1, s2, n = np.zeros(width), np.zeros(width), 0
    for batch_rows, values in batches:
        x = values.numpy() if isinstance(values, torch.Tensor) else np.asarray(values, dtype=np.float32)
        for half, matrix in enumerate(counts):
            sums[half] += (matrix[batch_rows].T @ x).astype(np.float64)  # (T, width)
        s1 += x.sum(axis=0, dtype=np.float64)
        s2 += np.einsum("ij,ij->j", x, x, dtype=np.float64)
        n += len(x)
    sd = np.sqrt(np.maximum(s2 / max(n, 1) - (s1 / max(n, 1)) ** 2, 0)) + 1e-6
    best = np.zeros(width)
    for half, matrix in enumerate(counts):
        per_tag = np.asarray(matrix.sum(axis=0)).ravel()[:, None]  # (T, 1) examples of each tag
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums[half] / per_tag  # NaN rows: tags absent from this half
        best = np.maximum(best, pairwise_spread(means) / sd)
    return best


def keep_per_layer(scores: np.ndarray, screened: np.ndarray, layer_size: int, k: int) -> np.ndarray:
    """Sorted flat ids of the ``k`` best-scoring screened neurons of each layer (all of a layer with ≤ k).

    >>> keep_per_layer(np.array([1., 3., 2., 0., 5., 4.]), np.arange(6), 3, 2).tolist()
    [1, 2, 4, 5]
    """
    check_positive("screen", k, integer=True)
    layers = screened // layer_size
    kept = []
    for layer in np.unique(layers):
        inside = np.nonzero(layers == layer)[0]
        order = np.argsort(-scores[inside], kind="stable")[:k]
        kept.append(screened[inside[order]])
    return np.sort(np.concatenate(kept))


def screen_neurons(loaded, sentences, rows: np.ndarray, labels: np.ndarray, n_classes: int, per_layer: int,
                   screened: np.ndarray, layer_size: int, aggregation: str = "last", site: str = "hidden",
                   progress: Callable[[int, int], None] | None = None) -> ScreenResult:
    """Stream ``sentences`` through the model once and keep the best ``per_layer`` of ``screened`` (flat ids)."""
    from ..models.extract import iter_activations

    start = time.perf_counter()
    total = sum(len(s) for s in sentences)

    def batches():
        done = 0
        for batch_rows, values in iter_activations(loaded, sentences, aggregation, site, screened):
            done += len(batch_rows)
            if progress is not None:
                progress(done, total)
            yield batch_rows, values

    scores = screen_scores(batches(), rows, labels, total, n_classes, len(screened))
    columns = keep_per_layer(scores, screened, layer_size, per_layer)
    return ScreenResult(per_layer, columns, scores, screened, time.perf_counter() - start)
