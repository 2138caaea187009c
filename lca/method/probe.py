"""The elastic-net linear probe (Algorithm 1), trained one at a time or many at once.

Objective, as the paper writes it, over the ``N`` training examples::

    L(W, b) = sum_i -log softmax(x_i W + b)[y_i]  +  λ1 ‖W‖₁  +  λ2 ‖W‖₂²

Optimized with Adam over shuffled mini-batches of 512.  Each mini-batch step minimizes
Algorithm 1's line 6 on that batch: the batch's *summed* cross-entropy plus the *whole*
penalty ``λ1 ‖W‖₁ + λ2 ‖W‖₂²``.  So over an epoch of ``N / B`` steps the penalty weighs
``N / B`` times what it does in the full-data objective: per example it weighs ``λ / B``,
whatever the corpus size, and the grid's λs are calibrated on this scale.  (Averaging the
cross-entropy instead, as NeuroX does, makes every λ ``B`` = 512 times stronger; a smaller
batch makes it stronger too.)  The bias is not penalized.  Gradient steps on ‖W‖₁ do not
drive weights exactly to zero: they hover near it.

How long to train.  The paper trains 10 epochs at lr 1e-3 (``schedule="constant"``).  On a
corpus of 25k words that is ~500 Adam steps, and the probe is far from the optimum of its
objective: Adam moves every weight with a consistent gradient sign at about ``lr`` per step,
informative or not, and the weak L1 pull (``λ1`` against the noise of a 512-example summed
gradient) needs thousands of steps to bring the uninformative weights back near zero.  The
weights' magnitudes, and so the ranking, then say little (docs/fidelity.md).  ``min_steps``
sets a floor on optimizer steps (more epochs on a small corpus), and ``schedule="linear"``
decays the learning rate linearly to 0, which shrinks the L1 hover at the end; quick mode
uses lr 1e-2, linear decay and at least 8000 steps.

:func:`train_probes` trains G probes together as one tensor program: the same start on the
same columns, the same batch order and Adam being element-wise make each of them the probe
trained alone, while the data of each mini-batch is gathered and converted once for all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from .._validation import InputError, check_positive
from .features import Features
from .probe_blocks import Block, layouts as _layouts, overlap_groups, programs as _programs

__all__ = ["ElasticNetProbe", "ProbeWeights", "train_probes", "predict", "accuracy", "SCHEDULES", "epochs_for"]

SCHEDULES = ("constant", "linear")


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
    history : tuple of dict
        With a ``monitor``: ``{epoch, step, loss: [G], penalty: [G], dev_accuracy: [G]}`` at up
        to ~50 epochs of training: mean training cross-entropy over that epoch's batches, the
        penalty per example after it (``(λ1 ‖W‖₁ + λ2 ‖W‖₂²) / batch_size``, so that loss +
        penalty is the objective per example), and the accuracy on the monitor set.
    """

    coef: np.ndarray
    intercept: np.ndarray
    columns: np.ndarray | None = None
    history: tuple = ()

    def __len__(self) -> int:
        return len(self.coef)

    def probe(self, g: int) -> "ProbeWeights":
        history = tuple({**h, **{k: h[k][g:g + 1] for k in _PER_PROBE}} for h in self.history)
        return ProbeWeights(self.coef[g:g + 1], self.intercept[g:g + 1],
                            None if self.columns is None else self.columns[g:g + 1], history)


def _as_features(X) -> Features:
    if isinstance(X, Features):
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise InputError(f"X must be a 2-D array (examples × neurons); got shape {X.shape}")
    return Features(X)


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


def epochs_for(n_examples: int, epochs: int, batch_size: int, min_steps: int = 0) -> int:
    """The epochs to train: ``epochs``, or more if that gives fewer than ``min_steps`` optimizer steps.

    >>> epochs_for(5000, 10, 512), epochs_for(5000, 10, 512, min_steps=2000)
    (10, 200)
    """
    steps_per_epoch = -(-n_examples // batch_size)
    return max(epochs, -(-min_steps // steps_per_epoch))


_HISTORY_POINTS = 50  # a training curve of at most ~50 recorded epochs
_PER_PROBE = ("loss", "penalty", "dev_accuracy")


def train_probes(X, y: np.ndarray, n_classes: int, l1: Sequence[float], l2: Sequence[float],
                 columns: np.ndarray | None = None, mask: np.ndarray | None = None, epochs: int = 10,
                 batch_size: int = 512, lr: float = 1e-3, seed: int = 0, device: str | torch.device = "cpu",
                 progress: Callable[[int, int], None] | None = None, min_steps: int = 0,
                 schedule: str = "constant", monitor: tuple | None = None) -> ProbeWeights:
    """Train ``len(l1)`` probes at once, probe g with penalties ``l1[g]``, ``l2[g]``.

    Every probe reads the same mini-batches, gathered and converted once per step.  Probes
    sharing columns form blocks scored by one matrix product each; per-probe column sets are
    grouped by overlap and laid over their union with the unseen columns masked out, so a
    block costs its number of probes times its union.  Probe g starts from the weights a probe
    trained alone on its columns would start from (one seeded uniform draw per feature column,
    scaled by ``1 / sqrt(its number of columns)``), so it ends as that probe would, up to the
    order of floating-point sums.

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
        Called every tenth of an epoch (``done_epochs`` is then fractional) and after each epoch.
    min_steps : int
        Train more than ``epochs`` epochs if needed to make at least this many optimizer steps.
    schedule : {"constant", "linear"}
        The learning rate: ``lr`` throughout (the paper), or decayed linearly from ``lr`` to 0.
    monitor : (Features, labels), optional
        A development set: record the training curve in ``ProbeWeights.history``.  ``labels``
        is (n,) or one row per probe, as ``y``.

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
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
    epochs = epochs_for(n, epochs, batch_size, min_steps)
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    base_w = torch.rand(X.n_features, T, generator=generator) * 2 - 1  # one draw per feature column
    base_b = torch.rand(T, generator=generator) * 2 - 1
    y_t = torch.as_tensor(y.reshape(-1, n), device=device)  # (1 or G, n)
    programs = _programs(_layouts(columns, mask, G, X.n_features), X.n_features, T)
    blocks: list[Block] = []
    steps = -(-n // batch_size)
    report_every = max(1, steps // 10)  # an epoch of a big grid takes minutes: report tenths
    record_every = -(-epochs // _HISTORY_POINTS)
    histories: list[list[dict]] = []
    torch.set_flush_denormal(True)  # Adam's tiny moments otherwise slow the CPU down many times
    try:
        for p, layouts in enumerate(programs):
            program = [Block(layout, base_w, base_b, l1, l2, batch_size, device) for layout in layouts]
            targets = [None if len(y_t) == 1 else torch.as_tensor(b.layout.probes, device=device) for b in program]
            params = [b.coef for b in program] + [b.intercept for b in program]
            optimizer = torch.optim.Adam(params, lr=lr, fused=device.type in ("cpu", "cuda"))  # one pass, not ten
            order_rng = np.random.default_rng(seed)  # every program sees the same batches
            history = []
            for epoch in range(epochs):
                order = order_rng.permutation(n)
                record = monitor is not None and ((epoch + 1) % record_every == 0 or epoch + 1 == epochs)
                losses = [torch.zeros(b.G, device=device) if record else None for b in program]
                for step, start in enumerate(range(0, n, batch_size), 1):
                    if schedule == "linear":
                        for group in optimizer.param_groups:
                            group["lr"] = lr * (1 - (epoch * steps + step - 1) / (epochs * steps))
                    index = np.sort(order[start:start + batch_size])
                    xs = X.batches(index, [b.layout.cols for b in program], device)
                    target = y_t[:, torch.as_tensor(index, device=device)]
                    for block, x, rows, loss in zip(program, xs, targets, losses):
                        block.gradient(x, target if rows is None else target[rows], loss)
                    optimizer.step()
                    if progress is not None and (step % report_every == 0 or step == steps):
                        progress(p * epochs + epoch + step / steps, len(programs) * epochs)
                if record:
                    history.append(_record(program, losses, epoch, steps, n, monitor, columns, G, X.n_features, T,
                                           (l1, l2, batch_size)))
            histories.append(history)
            blocks += program
    finally:
        torch.set_flush_denormal(False)
    weights = _collect(blocks, columns, G, X.n_features, T)
    if monitor is None:
        return weights
    # Every program records the same epochs; each probe's values come from its own program.
    merged = []
    for records in zip(*histories):
        values = {k: np.empty(G) for k in _PER_PROBE}
        for record in records:
            for k in _PER_PROBE:
                values[k][record["probes"]] = record[k]
        merged.append({"epoch": records[0]["epoch"], "step": records[0]["step"],
                       **{k: v.tolist() for k, v in values.items()}})
    return ProbeWeights(weights.coef, weights.intercept, weights.columns, tuple(merged))


def _record(program: list["Block"], losses, epoch: int, steps: int, n: int, monitor, columns, G: int,
            n_features: int, T: int, penalties: tuple) -> dict:
    """One point of the training curve for the probes of ``program``."""
    probes = np.concatenate([b.layout.probes for b in program])
    current = _collect(program, columns, G, n_features, T, subset=probes)
    l1, l2, batch_size = penalties
    coef = current.coef.astype(np.float64)
    penalty = (l1[probes] * np.abs(coef).sum(axis=(1, 2)) + l2[probes] * (coef ** 2).sum(axis=(1, 2))) / batch_size
    X_dev, y_dev = monitor
    y_dev = np.asarray(y_dev)
    labels = y_dev if y_dev.ndim == 1 else y_dev[probes]
    device = program[0].coef.device
    return {"epoch": epoch + 1, "step": (epoch + 1) * steps, "probes": probes,
            "loss": (torch.cat(losses) / n).cpu().numpy(), "penalty": penalty,
            "dev_accuracy": accuracy(X_dev, labels, current, device=device)}


def _collect(blocks: list[Block], columns, G: int, n_features: int, T: int,
             subset: np.ndarray | None = None) -> ProbeWeights:
    """The blocks' probes in their original order, each over its own columns.  With ``subset``
    (the blocks' probe ids, in order), only those probes, numbered 0.. in that order."""
    per_probe = columns is not None and np.ndim(columns) == 2
    k = n_features if columns is None else np.shape(columns)[-1]
    slot = {g: i for i, g in enumerate(range(G) if subset is None else subset)}
    coef, intercept = np.empty((len(slot), k, T), dtype=np.float32), np.empty((len(slot), T), dtype=np.float32)
    for block in blocks:
        weights, probes = block.weights(), block.layout.probes
        intercept[[slot[g] for g in probes]] = block.intercept.detach().cpu().numpy()
        for i, g in enumerate(probes):
            coef[slot[g]] = weights[np.searchsorted(block.layout.cols, columns[g]), i] if per_probe else weights[:, i]
    if columns is None:
        return ProbeWeights(coef, intercept)
    rows = np.broadcast_to(np.asarray(columns), (G, k))
    return ProbeWeights(coef, intercept, (rows if subset is None else rows[subset]).copy())


@torch.no_grad()
def predict(X, weights: ProbeWeights, chunk: int = 4096, device: str | torch.device = "cpu") -> np.ndarray:
    """``(G, n)`` predicted class of every example by every probe.

    Probes on their own columns are grouped by overlap as in training; each group is one
    matrix product per chunk of rows, and the rows are gathered once for all groups.
    """
    X = _as_features(X)
    device = torch.device(device)
    groups = [list(range(len(weights)))] if weights.columns is None else overlap_groups(weights.columns)
    parts = []
    for members in groups:
        part = weights if len(groups) == 1 else ProbeWeights(weights.coef[members], weights.intercept[members],
                                                             weights.columns[members])
        cols, dense = _dense(part)
        k, G, T = dense.shape
        parts.append((members, cols, torch.as_tensor(np.ascontiguousarray(dense).reshape(k, G * T), device=device),
                      torch.as_tensor(weights.intercept[members], device=device)))
    out = np.empty((len(weights), X.n_rows), dtype=np.int64)
    for start in range(0, X.n_rows, chunk):
        index = np.arange(start, min(start + chunk, X.n_rows))
        xs = X.batches(index, [cols for _, cols, _, _ in parts], device)
        for (members, _, W, b), x in zip(parts, xs):
            logits = (x @ W).reshape(len(index), len(members), -1) + b
            out[np.ix_(members, index)] = logits.argmax(-1).T.cpu().numpy()
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
