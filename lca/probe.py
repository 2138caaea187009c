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

:func:`train_probes` trains G probes together as one tensor program: same initialization,
same batch order and Adam being element-wise make each of them identical to the probe
trained alone, while the data of each mini-batch is gathered and converted once.
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


def _logits(x: torch.Tensor, coef: torch.Tensor, intercept: torch.Tensor, columns) -> torch.Tensor:
    """(G, B, T) scores of every probe; ``coef`` is (G, k, T)."""
    if columns is None:
        G, D, T = coef.shape
        return (x @ coef.permute(1, 0, 2).reshape(D, G * T)).reshape(len(x), G, T).permute(1, 0, 2) + intercept[:, None]
    return torch.baddbmm(intercept[:, None], x[:, columns].permute(1, 0, 2), coef)


def train_probes(X, y: np.ndarray, n_classes: int, l1: Sequence[float], l2: Sequence[float],
                 columns: np.ndarray | None = None, mask: np.ndarray | None = None, epochs: int = 10,
                 batch_size: int = 512, lr: float = 1e-3, seed: int = 0, device: str | torch.device = "cpu",
                 progress: Callable[[int, int], None] | None = None) -> ProbeWeights:
    """Train ``len(l1)`` probes at once, probe g with penalties ``l1[g]``, ``l2[g]``.

    Parameters
    ----------
    X : Features or ndarray, shape (n, D)
    y : ndarray of int, shape (n,)
        Class indices in ``[0, n_classes)``.
    columns : ndarray of int, shape (k,) or (G, k), optional
        ``(k,)``: every probe sees only these columns (one matrix product for all probes);
        ``(G, k)``: probe g sees ``columns[g]`` (a batched product).  Unseen columns are as good
        as zeroed out.  Default: all ``D``.
    mask : ndarray of bool, shape (G, k), optional
        With shared or no ``columns``: probe g uses column j only where ``mask[g, j]``, so that
        nested subsets (the prefixes of a ranking) train in one matrix product.
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
    if len(y) != X.n_rows or X.n_rows == 0:
        raise InputError(f"X has {X.n_rows} examples but y has {len(y)}; both must be equal and non-zero")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        check_positive(name, value, integer=True)
    device = torch.device(device)
    G, T, n = len(l1), n_classes, X.n_rows
    shared = columns is None or np.ndim(columns) == 1
    k = X.n_features if columns is None else np.shape(columns)[-1]
    if mask is not None and (not shared or np.shape(mask) != (G, k)):
        raise ValueError(f"mask must have shape {(G, k)} and go with shared columns")
    generator = torch.Generator().manual_seed(seed)
    bound = 1.0 / np.sqrt(k)
    init_w = (torch.rand(k, T, generator=generator) * 2 - 1) * bound  # the same start for every probe
    init_b = (torch.rand(T, generator=generator) * 2 - 1) * bound
    if shared:  # (k, G, T): one matrix product multiplies the batch by every probe
        coef = init_w[:, None].expand(k, G, T).contiguous().to(device).requires_grad_()
        l1_t, l2_t = (torch.as_tensor(v, device=device)[None, :, None] for v in (l1, l2))
        keep = None if mask is None else torch.as_tensor(np.asarray(mask).T[:, :, None], dtype=torch.float32,
                                                         device=device)
        cols = None
    else:  # (G, k, T): a batched product over each probe's own columns
        coef = init_w[None].expand(G, k, T).contiguous().to(device).requires_grad_()
        l1_t, l2_t = (torch.as_tensor(v, device=device)[:, None, None] for v in (l1, l2))
        keep, cols = None, torch.as_tensor(np.asarray(columns), device=device)
    intercept = init_b.expand(G, T).contiguous().to(device).requires_grad_()
    optimizer = torch.optim.Adam([coef, intercept], lr=lr)
    order_rng = np.random.default_rng(seed)
    y_t = torch.as_tensor(y, device=device)
    batch_columns = None if (columns is None or not shared) else np.asarray(columns)
    torch.set_flush_denormal(True)  # Adam's tiny moments otherwise slow the CPU down many times
    try:
        for epoch in range(epochs):
            order = order_rng.permutation(n)
            for start in range(0, n, batch_size):
                index = np.sort(order[start:start + batch_size])
                x = torch.from_numpy(X.batch(index, batch_columns)).to(device)
                if shared:
                    weights = coef if keep is None else coef * keep
                    logits = _logits(x, weights.permute(1, 0, 2), intercept, None)
                else:
                    logits = _logits(x, coef, intercept, cols)  # (G, B, T)
                target = y_t[torch.as_tensor(index, device=device)].repeat(G)
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, T), target, reduction="sum")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                with torch.no_grad():  # gradient of λ1‖W‖₁ + λ2‖W‖₂², added by hand: cheaper than autograd
                    penalty_grad = torch.sign(coef).mul_(l1_t).add_(coef * (2 * l2_t))
                    if keep is not None:
                        penalty_grad.mul_(keep)
                    coef.grad.add_(penalty_grad)
                optimizer.step()
            if progress is not None:
                progress(epoch + 1, epochs)
    finally:
        torch.set_flush_denormal(False)
    weights = coef.detach()
    if shared:
        weights = (weights if keep is None else weights * keep).permute(1, 0, 2)
    out_columns = None if columns is None else np.broadcast_to(np.asarray(columns), (G, k)).copy()
    return ProbeWeights(weights.cpu().numpy().copy(), intercept.detach().cpu().numpy(), out_columns)


@torch.no_grad()
def predict(X, weights: ProbeWeights, keep: np.ndarray | None = None, chunk: int = 4096,
            device: str | torch.device = "cpu") -> np.ndarray:
    """``(G, n)`` predicted class of every example by every probe.

    ``keep`` (flat neuron ids) zeroes out every other neuron of the input, as in the paper's
    ablation; it applies to probes trained on all columns.
    """
    X = _as_features(X)
    device = torch.device(device)
    coef, intercept = torch.as_tensor(weights.coef, device=device), torch.as_tensor(weights.intercept, device=device)
    columns = weights.columns
    if keep is not None:
        if columns is not None:
            raise ValueError("keep applies only to probes trained on all columns")
        keep = np.asarray(keep)
        coef, columns = coef[:, torch.as_tensor(keep, device=device)], None
    cols = None if columns is None else torch.as_tensor(columns, device=device)
    out = np.empty((len(weights), X.n_rows), dtype=np.int64)
    for start in range(0, X.n_rows, chunk):
        index = np.arange(start, min(start + chunk, X.n_rows))
        x = torch.from_numpy(X.batch(index, keep)).to(device)
        out[:, index] = _logits(x, coef, intercept, cols).argmax(-1).cpu().numpy()
    return out


def accuracy(X, y: np.ndarray, weights: ProbeWeights, keep: np.ndarray | None = None,
             device: str | torch.device = "cpu") -> np.ndarray:
    """``(G,)`` accuracy of every probe (fraction in [0, 1])."""
    return (predict(X, weights, keep, device=device) == np.asarray(y)[None]).mean(axis=1)


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
