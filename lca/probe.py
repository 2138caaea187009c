"""The elastic-net linear probe (Algorithm 1), trained one at a time or many at once.

Objective, as the paper writes it, over the ``N`` training examples::

    L(W, b) = sum_i -log softmax(x_i W + b)[y_i]  +  λ1 ‖W‖₁  +  λ2 ‖W‖₂²

Optimized with Adam (lr 1e-3) over shuffled mini-batches of 512 for 10 epochs.  Each
mini-batch step minimizes Algorithm 1's line 6 on that batch: the batch's *summed*
cross-entropy plus the *whole* penalty ``λ1 ‖W‖₁ + λ2 ‖W‖₂²``.  So over an epoch of
``N / B`` steps the penalty weighs ``N / B`` times what it does in the full-data objective;
the grid's λs are calibrated on this scale.  (Averaging the cross-entropy instead, as NeuroX
does, would make every λ another ``B`` = 512 times stronger, and the grid then picks λs that
cost several points of accuracy.)  The bias is not penalized.  Gradient steps on ‖W‖₁ do not
drive weights exactly to zero: they hover near it.

:func:`train_probes` trains G probes together as one tensor program: the same start on the
same columns, the same batch order and Adam being element-wise make each of them the probe
trained alone, while the data of each mini-batch is gathered, converted and multiplied once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ._validation import InputError, check_positive
from .features import Features

__all__ = ["ElasticNetProbe", "ProbeWeights", "train_probes", "predict", "accuracy"]


@dataclass(frozen=True)
class ProbeWeights:
    """G trained probes.

    Attributes
    ----------
    coef : ndarray, shape (G, k, T)
        Weights over the ``k`` columns each probe sees.
    intercept : ndarray, shape (G, T)
    columns : ndarray of int, shape (G, k), or None
        The feature columns of each probe (row g for probe g); None means all ``D``.
    """

    coef: np.ndarray
    intercept: np.ndarray
    columns: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.coef)

    def probe(self, g: int) -> "ProbeWeights":
        return ProbeWeights(self.coef[g:g + 1], self.intercept[g:g + 1],
                            None if self.columns is None else self.columns[g:g + 1])


def _as_features(X) -> Features:
    if isinstance(X, Features):
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise InputError(f"X must be a 2-D array (examples × neurons); got shape {X.shape}")
    return Features(X)


# Per-probe column sets whose union exceeds this many times one set train with a gather.
_GATHER_ABOVE = 1.7


def _layout(columns, mask, G: int, n_features: int):
    """``(cols, keep, own)``: the probes share the feature columns ``cols`` (None = all) and probe
    g uses those where ``keep[g]`` (None = every one); ``own[g]`` places per-probe columns in ``cols``."""
    if columns is None or np.ndim(columns) == 1:
        k = n_features if columns is None else len(columns)
        if mask is not None and np.shape(mask) != (G, k):
            raise ValueError(f"mask must have shape {(G, k)}; got {np.shape(mask)}")
        return (None if columns is None else np.asarray(columns)), (None if mask is None else np.asarray(mask, bool)), None
    if mask is not None:
        raise ValueError("mask goes with shared columns, not with per-probe columns")
    columns = np.asarray(columns)
    if columns.shape[0] != G:
        raise ValueError(f"columns must have one row per probe ({G}); got shape {columns.shape}")
    union = np.unique(columns)
    own = np.searchsorted(union, columns)
    keep = np.zeros((G, len(union)), dtype=bool)
    keep[np.arange(G)[:, None], own] = True
    return union, keep, own


def _dense(weights: "ProbeWeights") -> tuple[np.ndarray | None, np.ndarray]:
    """``(cols, W)``: every probe's weights laid over the union of their columns, W of shape (k, G, T)."""
    G, k, T = weights.coef.shape
    if weights.columns is None:
        return None, weights.coef.transpose(1, 0, 2)
    union = np.unique(weights.columns)
    dense = np.zeros((len(union), G, T), dtype=weights.coef.dtype)
    for g in range(G):
        dense[np.searchsorted(union, weights.columns[g]), g] = weights.coef[g]
    return union, dense


def train_probes(X, y: np.ndarray, n_classes: int, l1: Sequence[float], l2: Sequence[float],
                 columns: np.ndarray | None = None, mask: np.ndarray | None = None, epochs: int = 10,
                 batch_size: int = 512, lr: float = 1e-3, seed: int = 0, device: str | torch.device = "cpu",
                 progress: Callable[[int, int], None] | None = None) -> ProbeWeights:
    """Train ``len(l1)`` probes at once, probe g with penalties ``l1[g]``, ``l2[g]``.

    Every probe reads the same mini-batches, and one matrix product scores the batch for all of
    them: per-probe column sets are laid over their union with the unseen columns masked out,
    so a group of probes costs ``G × |union|`` and is cheapest when their columns overlap (sets
    that barely overlap are gathered probe by probe into a batched product instead).
    Probe g starts from the weights a probe trained alone on its columns would start from (one
    seeded uniform draw per feature column, scaled by ``1 / sqrt(its number of columns)``), so
    it ends as that probe would, up to the order of floating-point sums.

    Parameters
    ----------
    X : Features or ndarray, shape (n, D)
    y : ndarray of int, shape (n,) or (G, n)
        Class indices in ``[0, n_classes)``; one row per probe to give probes different labels
        (e.g. the control task).
    columns : ndarray of int, shape (k,) or (G, k), optional
        ``(k,)``: every probe sees these columns; ``(G, k)``: probe g sees ``columns[g]``.
        Unseen columns are as good as zeroed out.  Default: all ``D``.
    mask : ndarray of bool, shape (G, k), optional
        With shared or no ``columns``: probe g uses column j only where ``mask[g, j]`` (e.g. the
        nested prefixes of a ranking).
    progress : callable(done_epochs, epochs), optional

    Returns
    -------
    ProbeWeights
    """
    X = _as_features(X)
    y = np.asarray(y, dtype=np.int64)
    l1, l2 = np.asarray(l1, dtype=np.float32), np.asarray(l2, dtype=np.float32)
    if len(l1) != len(l2):
        raise ValueError(f"l1 and l2 must have the same length; got {len(l1)} and {len(l2)}")
    G, T, n = len(l1), n_classes, X.n_rows
    if y.shape[-1] != n or n == 0 or (y.ndim == 2 and len(y) != G):
        raise InputError(f"X has {n} examples but y has shape {y.shape}; y needs one label per example "
                         f"(or one row of labels per probe) and X at least one example")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        check_positive(name, value, integer=True)
    device = torch.device(device)
    cols, keep, own = _layout(columns, mask, G, X.n_features)
    k = X.n_features if cols is None else len(cols)
    # Sets that barely overlap: gather each probe's own columns and multiply probe by probe
    # (a batched product) rather than pay for the whole union G times.
    gather = own is not None and len(cols) > _GATHER_ABOVE * own.shape[1]
    generator = torch.Generator().manual_seed(seed)
    base_w = torch.rand(X.n_features, T, generator=generator) * 2 - 1  # one draw per feature column
    base_b = torch.rand(T, generator=generator) * 2 - 1
    sizes = torch.full((G,), float(k)) if keep is None else torch.as_tensor(keep.sum(axis=1), dtype=torch.float32)
    scale = sizes.clamp_min(1).rsqrt()
    keep_t = None
    if gather:  # (G, k_own, T)
        coef = base_w[torch.as_tensor(np.asarray(columns))] * scale[:, None, None]
        batch_columns = np.asarray(columns).reshape(-1)  # every probe's own columns, side by side
        l1_t, l2_twice = (torch.as_tensor(v, device=device)[:, None, None] for v in (l1, 2 * l2))
    else:  # (k, G, T)
        batch_columns = cols
        start_w = base_w if cols is None else base_w[torch.as_tensor(cols)]
        coef = start_w[:, None, :] * scale[None, :, None]
        if keep is not None:  # masked weights start at 0 and get no gradient, so they stay exactly 0
            keep_t = torch.as_tensor(keep.T[:, :, None], dtype=torch.float32, device=device)
            coef = coef * keep_t
        l1_t, l2_twice = (torch.as_tensor(v, device=device)[None, :, None] for v in (l1, 2 * l2))
    coef = coef.to(device).requires_grad_()
    intercept = (base_b[None] * scale[:, None]).to(device).requires_grad_()
    optimizer = torch.optim.Adam([coef, intercept], lr=lr)
    order_rng = np.random.default_rng(seed)
    y_t = torch.as_tensor(y.reshape(-1, n), device=device)  # (1 or G, n)
    torch.set_flush_denormal(True)  # Adam's tiny moments otherwise slow the CPU down many times
    try:
        for epoch in range(epochs):
            order = order_rng.permutation(n)
            for start in range(0, n, batch_size):
                index = np.sort(order[start:start + batch_size])
                x = X.batch(index, batch_columns).to(device)
                target = y_t[:, torch.as_tensor(index, device=device)]  # (1 or G, B)
                if gather:  # rows probe-major: (G, B, T)
                    own_x = x.view(len(index), G, -1).transpose(0, 1)
                    logits = torch.baddbmm(intercept[:, None], own_x, coef).reshape(-1, T)
                    target = target.expand(G, len(index)).reshape(-1)
                else:  # rows example-major: (B, G, T)
                    logits = ((x @ coef.reshape(k, G * T)).reshape(len(index), G, T) + intercept).reshape(-1, T)
                    target = target.T.expand(len(index), G).reshape(-1)
                loss = torch.nn.functional.cross_entropy(logits, target, reduction="sum")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                with torch.no_grad():  # gradient of λ1‖W‖₁ + λ2‖W‖₂², added by hand: cheaper than autograd
                    if keep_t is not None:
                        coef.grad.mul_(keep_t)
                    coef.grad.addcmul_(torch.sign(coef), l1_t).addcmul_(coef, l2_twice)  # 0 where masked
                optimizer.step()
            if progress is not None:
                progress(epoch + 1, epochs)
    finally:
        torch.set_flush_denormal(False)
    weights = coef.detach().cpu().numpy()
    bias = intercept.detach().cpu().numpy()
    if gather:
        return ProbeWeights(weights, bias, np.asarray(columns).copy())
    if own is not None:
        return ProbeWeights(np.stack([weights[own[g], g] for g in range(G)]), bias, np.asarray(columns).copy())
    out_columns = None if cols is None else np.broadcast_to(cols, (G, k)).copy()
    return ProbeWeights(weights.transpose(1, 0, 2).copy(), bias, out_columns)


@torch.no_grad()
def predict(X, weights: ProbeWeights, chunk: int = 4096, device: str | torch.device = "cpu") -> np.ndarray:
    """``(G, n)`` predicted class of every example by every probe (one matrix product per chunk)."""
    X = _as_features(X)
    device = torch.device(device)
    cols, dense = _dense(weights)
    k, G, T = dense.shape
    W = torch.as_tensor(np.ascontiguousarray(dense).reshape(k, G * T), device=device)
    b = torch.as_tensor(weights.intercept, device=device)
    out = np.empty((G, X.n_rows), dtype=np.int64)
    for start in range(0, X.n_rows, chunk):
        index = np.arange(start, min(start + chunk, X.n_rows))
        logits = (X.batch(index, cols).to(device) @ W).reshape(len(index), G, T) + b
        out[:, index] = logits.argmax(-1).T.cpu().numpy()
    return out


def accuracy(X, y: np.ndarray, weights: ProbeWeights, device: str | torch.device = "cpu") -> np.ndarray:
    """``(G,)`` accuracy of every probe (fraction in [0, 1]); ``y`` is (n,) or one row per probe."""
    return (predict(X, weights, device=device) == np.asarray(y).reshape(-1, _as_features(X).n_rows)).mean(axis=1)


class ElasticNetProbe:
    """Softmax regression with an elastic-net penalty, scikit-learn style.

    Minimizes ``sum_i CE(x_i W + b, y_i) + l1 ‖W‖₁ + l2 ‖W‖₂²`` with Adam; see the module
    docstring for how the penalty is scaled per mini-batch.  Weights near zero are not
    exactly zero.

    >>> X = np.array([[0., 1.], [1., 0.]] * 50)
    >>> probe = ElasticNetProbe(epochs=200, batch_size=10).fit(X, ["a", "b"] * 50)
    >>> probe.predict(X[:2]).tolist(), probe.score(X, ["a", "b"] * 50)
    (['a', 'b'], 1.0)
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, epochs: int = 10, batch_size: int = 512,
                 lr: float = 1e-3, seed: int = 0, device: str = "cpu"):
        self.l1, self.l2, self.epochs, self.batch_size = l1, l2, epochs, batch_size
        self.lr, self.seed, self.device = lr, seed, device

    def fit(self, X, y) -> "ElasticNetProbe":
        check_positive("l1", self.l1, allow_zero=True)
        check_positive("l2", self.l2, allow_zero=True)
        self.classes_, y_index = np.unique(np.asarray(y), return_inverse=True)
        weights = train_probes(X, y_index, len(self.classes_), [self.l1], [self.l2], epochs=self.epochs,
                               batch_size=self.batch_size, lr=self.lr, seed=self.seed, device=self.device)
        self.coef_, self.intercept_ = weights.coef[0], weights.intercept[0]
        return self

    def _weights(self) -> ProbeWeights:
        if not hasattr(self, "coef_"):
            raise RuntimeError("this ElasticNetProbe is not fitted yet: call fit(X, y) first")
        return ProbeWeights(self.coef_[None], self.intercept_[None])

    def predict(self, X) -> np.ndarray:
        weights = self._weights()
        return self.classes_[predict(X, weights, device=self.device)[0]]

    def score(self, X, y) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())
