"""Views of an activation matrix: rows of a split, pairs of words, a subset of neurons.

Nothing is copied up front: a :class:`Features` gathers the rows of one mini-batch from the
(possibly memory-mapped, float16) matrix when asked, so training and evaluation stream
through data larger than memory.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import torch

__all__ = ["Features"]


class Features:
    """Examples × neurons, backed by an ``(n_words, D)`` activation matrix.

    Parameters
    ----------
    activations : ndarray, shape (n_words, D)
        Usually a float16 memory map.
    rows : ndarray of int, shape (n,) or (n, 2)
        The word behind each example; ``(head, dependent)`` pairs give ``2 * D`` features,
        the head's neurons first.
    columns : ndarray of int, optional
        Restrict the features to these (e.g. the neurons of some layers); feature j is then
        ``columns[j]``.
    """

    def __init__(self, activations: np.ndarray, rows: np.ndarray | None = None, columns: np.ndarray | None = None):
        self.activations = activations
        self.rows = np.arange(len(activations)) if rows is None else np.asarray(rows, dtype=np.int64)
        self.pair = self.rows.ndim == 2
        self.columns = None if columns is None else np.asarray(columns, dtype=np.int64)

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    @property
    def n_features(self) -> int:
        if self.columns is not None:
            return len(self.columns)
        return self.activations.shape[1] * (2 if self.pair else 1)

    def __len__(self) -> int:
        return self.n_rows

    def take(self, index) -> "Features":
        """The examples at ``index`` (e.g. one split)."""
        return Features(self.activations, self.rows[np.asarray(index)], self.columns)

    def batch(self, index: np.ndarray, columns: np.ndarray | None = None) -> torch.Tensor:
        """float32 ``(len(index), n_columns)``: the examples at ``index``, restricted to ``columns``."""
        return next(self.batches(index, [columns]))

    def batches(self, index: np.ndarray, column_sets: Iterable, device=None) -> Iterator[torch.Tensor]:
        """:meth:`batch` for each column set in turn (None = all), from one gather of the rows.
        A set repeated right after itself (the same object) gives the same tensor."""
        rows = self.rows[index]
        # np.take on the plain view: a memmap's own fancy indexing is several times slower.
        source = np.asarray(self.activations)
        if self.pair:
            x = np.concatenate([np.take(source, rows[:, 0], axis=0), np.take(source, rows[:, 1], axis=0)], axis=1)
        else:
            x = np.take(source, rows, axis=0)
        previous, out = object(), None
        for columns in column_sets:
            if columns is not previous:
                own = columns
                if self.columns is not None:
                    own = self.columns if columns is None else self.columns[np.asarray(columns)]
                part = x if own is None else np.take(x, own, axis=1)  # x[:, own] is up to 5x slower
                # torch converts float16 several times faster than numpy
                previous, out = columns, torch.from_numpy(part).to(device=device, dtype=torch.float32)
            yield out

    def column_means(self, labels: np.ndarray, n_classes: int, chunk: int = 8192) -> np.ndarray:
        """``(n_classes, n_features)`` mean activation of each class (NaN for a class with no example)."""
        sums = np.zeros((n_classes, self.n_features))
        for start in range(0, self.n_rows, chunk):
            index = np.arange(start, min(start + chunk, self.n_rows))
            onehot = np.zeros((len(index), n_classes), dtype=np.float32)
            onehot[np.arange(len(index)), labels[index]] = 1
            sums += onehot.T @ self.batch(index).numpy()
        counts = np.bincount(labels, minlength=n_classes)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            return sums / counts
