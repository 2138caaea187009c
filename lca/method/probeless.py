"""The probeless ranking of Antverg & Belinkov (2022): no probe, only class means.

A neuron's score is the summed absolute difference of its mean activation between every
pair of tags, ``sum_{t < t'} |q(t) - q(t')|``; tags absent from the data are left out.
"""
from __future__ import annotations

import numpy as np

from .features import Features

__all__ = ["probeless_scores", "probeless_ranking", "pairwise_spread"]


def probeless_scores(X: Features, y: np.ndarray, n_classes: int) -> np.ndarray:
    """``(D,)`` probeless score of every neuron.

    >>> X = Features(np.array([[0., 1.], [0., 3.], [4., 2.]]))
    >>> probeless_scores(X, np.array([0, 0, 1]), 2).tolist()
    [4.0, 0.0]
    """
    return pairwise_spread(X.column_means(np.asarray(y), n_classes))


def pairwise_spread(means: np.ndarray) -> np.ndarray:
    """``(D,)`` summed absolute difference between every pair of rows of ``means`` (T, D); NaN rows left out.

    >>> pairwise_spread(np.array([[0., 1.], [4., 2.], [np.nan, np.nan]])).tolist()
    [4.0, 1.0]
    """
    means = np.sort(means[~np.isnan(means).any(axis=1)], axis=0)  # (T', D), each column ascending
    k = len(means)
    # Sum of pairwise |a_i - a_j| over a sorted column = sum_i (2i - k + 1) a_i.
    return ((2 * np.arange(k) - k + 1)[:, None] * means).sum(axis=0)


def probeless_ranking(X: Features, y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.argsort(-probeless_scores(X, y, n_classes), kind="stable").astype(np.int64)
