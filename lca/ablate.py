"""Checks of a ranking: zero-out ablation without retraining (Table 2) and retraining on a
subset (Table 5)."""
from __future__ import annotations

import numpy as np

from .features import Features
from .probe import ProbeWeights, accuracy, train_probes
from .rank import top_columns

__all__ = ["zero_out_accuracy", "ablation_curve", "retrain_accuracy"]


def zero_out_accuracy(X: Features, y: np.ndarray, oracle: ProbeWeights, rankings: dict[str, np.ndarray],
                      fraction: float = 0.2, device="cpu") -> dict[str, float]:
    """Accuracy of the oracle when only the first ``fraction`` of each ranking is kept, the rest zeroed."""
    return {name: float(accuracy(X, y, oracle, keep=top_columns(r, fraction), device=device)[0])
            for name, r in rankings.items()}


def ablation_curve(X: Features, y: np.ndarray, oracle: ProbeWeights, rankings: dict[str, np.ndarray],
                   fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0), device="cpu") -> list[dict]:
    """Zero-out accuracy against the number of neurons kept, for each ranking."""
    D = len(next(iter(rankings.values())))
    return [{"fraction": f, "n_neurons": len(top_columns(np.arange(D), f)),
             **zero_out_accuracy(X, y, oracle, rankings, f, device)} for f in fractions]


def retrain_accuracy(train: Features, y_train: np.ndarray, test: Features, y_test: np.ndarray, n_classes: int,
                     subsets: dict[str, np.ndarray], l1: float, l2: float, **train_kw) -> dict[str, float]:
    """Test accuracy of probes retrained on each equally sized subset of neurons, trained together."""
    names = list(subsets)
    columns = np.stack([np.sort(subsets[name]) for name in names])
    probes = train_probes(train, y_train, n_classes, [l1] * len(names), [l2] * len(names), columns, **train_kw)
    acc = accuracy(test, y_test, probes, device=train_kw.get("device", "cpu"))
    return {name: float(a) for name, a in zip(names, acc)}
