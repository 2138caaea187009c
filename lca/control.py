"""Selectivity (Hewitt & Liang 2019): task accuracy minus control-task accuracy.

The control task gives every word type one label drawn from the task's label distribution
(:func:`lca.data.control_labels`); a probe that scores well on it is memorizing word types.
"""
from __future__ import annotations

import numpy as np

from .features import Features
from .probe import accuracy, train_probes

__all__ = ["control_accuracy"]


def control_accuracy(train: Features, c_train: np.ndarray, test: Features, c_test: np.ndarray, n_classes: int,
                     subsets: dict[str, np.ndarray | None], l1: float, l2: float, **train_kw) -> dict[str, float]:
    """Test accuracy on the control task of a probe on each subset (``None`` = all neurons)."""
    out = {}
    for name, cols in subsets.items():
        columns = None if cols is None else np.sort(cols)[None]
        probe = train_probes(train, c_train, n_classes, [l1], [l2], columns, **train_kw)
        out[name] = float(accuracy(test, c_test, probe, device=train_kw.get("device", "cpu"))[0])
    return out
