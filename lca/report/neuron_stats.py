"""Single-neuron statistics: how well each neuron *alone* separates each tag from the rest, and how sure that is.

For a neuron ``j`` and a tag ``t``, over the examples (words; for a pair task the head and dependent
halves are separate features), with the ``n1`` examples tagged ``t`` and the ``n0`` others:

- **AUROC** ``= P(x_t > x_rest) + ½ P(x_t = x_rest) = (R_t − n1(n1+1)/2) / (n1 n0)``, ``R_t`` the sum of
  the tag's midranks: scikit-learn's ``roc_auc_score`` of the activation as a score.  Its **sign** is +1
  when the neuron fires more on the tag; **strength** ``= max(AUROC, 1 − AUROC)`` (0.5: chance, 1: a
  perfect detector in one direction).  95 % CI by Hanley & McNeil's (1982) standard error.
- **p-value**: two-sided Mann–Whitney U test by its normal approximation, with the tie correction of the
  variance and a continuity correction of 0.5 (``scipy.stats.mannwhitneyu(method="asymptotic")``); kept as
  ``log10_p`` (strong detectors reach p far below 1e-300).  **Benjamini–Hochberg** over all testable
  neuron × tag pairs (``n_tests``: every pair whose tag has examples on both sides) gives ``log10_q``;
  a pair is significant when ``q ≤ alpha`` (false discovery rate ``alpha``; BH holds for positively
  dependent tests, as neurons of one layer are).
- **SMD**: Cohen's d, the mean difference over the pooled standard deviation; 95 % CI from its normal
  approximation, ``se² = n/(n1 n0) + d²/(2n)``.
- **MI**: mutual information in bits between the tag indicator and the activation cut into ``bins``
  equal-frequency bins (plug-in estimate; ties stay in one bin; its upward bias is about
  ``(bins − 1)/(2 n ln 2)`` bits).
- **control**: AUROC and MI for the same tag of the control task (:func:`lca.data.corpus.control_labels`:
  every word type a random tag), and **selectivity** ``= strength − control strength``.

Computed in one pass over column blocks of the ``(n_words, C)`` activation matrix (a float16 memory
map): one sort per column gives the midranks, tie groups, bins and rank sums of every tag at once, so
memory is ``O(n_words × block)`` whatever the width (46,080 MLP neurons stream as ~200 columns a block).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.special import log_ndtr

from .._validation import InputError, check_fraction

__all__ = ["NeuronStats", "neuron_stats", "benjamini_hochberg", "METHOD"]

METHOD = ("AUROC with Hanley–McNeil 95 % CI; two-sided Mann–Whitney U test, normal approximation with tie and "
          "continuity correction; Benjamini–Hochberg over all neuron × tag pairs; Cohen's d with 95 % CI; mutual "
          "information (bits) over {bins} equal-frequency bins; the same AUROC and MI on the control task")
_Z95 = 1.959963984540054
_LN10 = math.log(10.0)
_ARRAYS = ("n_pos", "n_pos_control", "neurons", "mean", "sd", "auroc", "auroc_lo", "auroc_hi", "smd", "smd_lo",
           "smd_hi", "mi", "log10_p", "log10_q", "control_auroc", "control_mi")


@dataclass(frozen=True, eq=False)
class NeuronStats:
    """Every neuron × tag pair's statistics (see the module docstring for each figure).

    Attributes
    ----------
    tags : tuple of str, length T
    neurons : ndarray (F,) int64
        Flat neuron id of each feature (:mod:`lca.neurons`), in column order.
    n_examples : int
    n_pos, n_pos_control : ndarray (T,) int64
        Examples of each tag, in the task and in the control task.
    mean, sd : ndarray (F,) float32
        Each feature's mean and standard deviation over the examples (a typed word's z-score).
    auroc, auroc_lo, auroc_hi, smd, smd_lo, smd_hi, mi, log10_p, log10_q, control_auroc, control_mi : ndarray (F, T) float32
        NaN where the tag has no example (or no other example) and for a constant neuron's SMD.
    n_tests : int
        Pairs in the Benjamini–Hochberg correction.
    bins : int
    """

    tags: tuple
    neurons: np.ndarray
    n_examples: int
    n_pos: np.ndarray
    n_pos_control: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    auroc: np.ndarray
    auroc_lo: np.ndarray
    auroc_hi: np.ndarray
    smd: np.ndarray
    smd_lo: np.ndarray
    smd_hi: np.ndarray
    mi: np.ndarray
    log10_p: np.ndarray
    log10_q: np.ndarray
    control_auroc: np.ndarray
    control_mi: np.ndarray
    n_tests: int
    bins: int

    @property
    def sign(self) -> np.ndarray:
        """(F, T) int8: +1 where the neuron fires more on the tag than on the rest, else −1."""
        return np.where(self.auroc >= 0.5, 1, -1).astype(np.int8)

    @property
    def strength(self) -> np.ndarray:
        """(F, T): ``max(AUROC, 1 − AUROC)``, the AUROC of the better direction."""
        return np.maximum(self.auroc, 1 - self.auroc)

    @property
    def control_strength(self) -> np.ndarray:
        return np.maximum(self.control_auroc, 1 - self.control_auroc)

    @property
    def selectivity(self) -> np.ndarray:
        """(F, T): strength on the task minus strength on the control task."""
        return self.strength - self.control_strength

    def significant(self, alpha: float = 0.05) -> np.ndarray:
        """(F, T) bool: BH-adjusted p (q) ≤ ``alpha``."""
        check_fraction("alpha", alpha)
        return self.log10_q <= math.log10(alpha)

    def arrays(self) -> dict:
        """The arrays by name (what :mod:`.neuron_cache` writes to ``neuron_stats.npz``)."""
        return {name: getattr(self, name) for name in _ARRAYS}

    def to_dict(self) -> dict:
        """A summary (the arrays stay out: :func:`lca.report.neuron_search.table_rows` lists every pair)."""
        return {"tags": list(self.tags), "n_neurons": int(len(self.neurons)), "n_examples": self.n_examples,
                "n_pos": self.n_pos.tolist(), "n_tests": self.n_tests, "bins": self.bins,
                "method": METHOD.format(bins=self.bins), "significant_pairs": int(self.significant().sum()),
                "significant_neurons": int(self.significant().any(axis=1).sum())}

    @classmethod
    def from_arrays(cls, tags, arrays: dict, n_examples: int, n_tests: int, bins: int) -> "NeuronStats":
        return cls(tuple(tags), n_examples=int(n_examples), n_tests=int(n_tests), bins=int(bins),
                   **{name: np.asarray(arrays[name]) for name in _ARRAYS})


def benjamini_hochberg(log10_p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q) of the finite entries, on the log10 scale; NaN stays NaN.

    ``q_(i) = min_{j ≥ i} p_(j) m / j`` over the ``m`` finite p-values sorted ascending, capped at 1.

    >>> q = benjamini_hochberg(np.log10([0.01, 0.04, 0.03, 0.5]))
    >>> np.round(10 ** q, 4).tolist()
    [0.04, 0.0533, 0.0533, 0.5]
    """
    flat = np.asarray(log10_p, dtype=np.float64).ravel()
    out = np.full(flat.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(flat))
    m = len(finite)
    if m:
        order = finite[np.argsort(flat[finite], kind="stable")]
        adjusted = flat[order] + math.log10(m) - np.log10(np.arange(1, m + 1))
        out[order] = np.minimum(np.minimum.accumulate(adjusted[::-1])[::-1], 0.0)
    return out.reshape(np.shape(log10_p))


def _entropy_bits(counts: np.ndarray, total: float, axis) -> np.ndarray:
    p = counts / total
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0), axis=axis)


def _mutual_information(bin_counts: np.ndarray, n_pos: np.ndarray, n: int) -> np.ndarray:
    """``(B, T)`` bits between each tag's indicator and the bins, from ``bin_counts`` (B, K, T+1) counts of each
    class in each bin of each column (the last class: examples in no tag)."""
    in_tag = bin_counts[:, :, :-1]                          # (B, K, T)
    per_bin = bin_counts.sum(axis=2, keepdims=True)          # (B, K, 1)
    h_bins = _entropy_bits(per_bin[:, :, 0], n, axis=1)[:, None]
    h_tag = _entropy_bits(np.stack([n_pos, n - n_pos]), n, axis=0)[None, :]
    h_joint = _entropy_bits(in_tag, n, axis=1) + _entropy_bits(per_bin - in_tag, n, axis=1)
    return np.maximum(h_tag + h_bins - h_joint, 0.0)


def _ranks(X: np.ndarray):
    """Midranks of each row of ``X`` (B, n), and each row's tie term ``Σ(t³ − t)`` over its groups of equal values."""
    B, n = X.shape
    order = np.argsort(X, axis=1)
    S = np.take_along_axis(X, order, axis=1)
    index = np.arange(n)[None, :]
    first = np.ones(S.shape, dtype=bool)
    np.not_equal(S[:, 1:], S[:, :-1], out=first[:, 1:])
    last = np.ones(S.shape, dtype=bool)
    last[:, :-1] = first[:, 1:]
    start = np.maximum.accumulate(np.where(first, index, 0), axis=1)
    end = np.minimum.accumulate(np.where(last, index, n - 1)[:, ::-1], axis=1)[:, ::-1]
    size = (end - start + 1).astype(np.float64)
    ranks = np.empty((B, n))
    np.put_along_axis(ranks, order, (start + end) * 0.5 + 1.0, axis=1)
    return ranks, (size * size - 1.0).sum(axis=1)  # Σ over values of t²−1 = Σ over groups of t³−t


def _one_hot(codes: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(codes), n_classes))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def _block(XT, codes, control, n_pos, n_pos_c, T, bins):
    """Every statistic of one block ``XT`` (B, n) float64, one feature a row; ``codes``/``control`` (n,) in [0, T]."""
    B, n = XT.shape
    ranks, tie = _ranks(XT)
    sbin = np.minimum(((ranks - 1.0) * bins / n).astype(np.int64), bins - 1)  # equal-frequency bins, ties together
    base = (np.arange(B) * bins)[:, None] + sbin
    out = {}
    for name, y, npos in (("", codes, n_pos), ("control_", control, n_pos_c)):
        if y is None:
            continue
        rank_sum = ranks @ _one_hot(y, T + 1)[:, :T]                       # (B, T)
        n0 = n - npos
        counts = np.bincount((base * (T + 1) + y[None, :]).ravel(), minlength=B * bins * (T + 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            u = rank_sum - npos * (npos + 1) / 2.0
            out[name + "auroc"] = u / (npos * n0)
            out[name + "mi"] = _mutual_information(counts.reshape(B, bins, T + 1).astype(np.float64), npos, n)
        if name:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            var = npos * n0 / 12.0 * ((n + 1) - tie[:, None] / (n * (n - 1.0)))
            z = (np.abs(u - npos * n0 / 2.0) - 0.5) / np.sqrt(var)
            log10_p = np.minimum((math.log(2.0) + log_ndtr(-z)) / _LN10, 0.0)
        log10_p = np.where(var <= 0, 0.0, log10_p)                         # a constant neuron: no evidence
        out["log10_p"] = np.where(((npos == 0) | (n0 == 0))[None, :], np.nan, log10_p)
        A = out["auroc"]
        with np.errstate(divide="ignore", invalid="ignore"):
            q1, q2 = A / (2 - A), 2 * A * A / (1 + A)
            se = np.sqrt(np.maximum(A * (1 - A) + (npos - 1) * (q1 - A * A) + (n0 - 1) * (q2 - A * A), 0) / (npos * n0))
        out["auroc_lo"], out["auroc_hi"] = np.clip(A - _Z95 * se, 0, 1), np.clip(A + _Z95 * se, 0, 1)
        mean = XT.mean(axis=1)
        centred = XT - mean[:, None]
        onehot = _one_hot(codes, T + 1)[:, :T]
        sums, squares = centred @ onehot, (centred * centred) @ onehot
        total, total_sq = centred.sum(axis=1)[:, None], (centred * centred).sum(axis=1)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            m1, m0 = sums / npos, (total - sums) / n0
            ss1, ss0 = squares - npos * m1 * m1, (total_sq - squares) - n0 * m0 * m0
            pooled = np.sqrt(np.maximum(ss1 + ss0, 0) / (n - 2))
            d = np.where(pooled > 0, (m1 - m0) / pooled, np.nan)
            se_d = np.sqrt(n / (npos * n0) + d * d / (2 * n))
        out["smd"], out["smd_lo"], out["smd_hi"] = d, d - _Z95 * se_d, d + _Z95 * se_d
        out["mean"], out["sd"] = mean, np.sqrt(total_sq[:, 0] / n)
    return out


def _codes(labels: Sequence[str], tags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Class code of each example (``len(tags)`` for a label in no tag) and each tag's count."""
    index = {t: i for i, t in enumerate(tags)}
    codes = np.fromiter((index.get(str(label), len(tags)) for label in labels), dtype=np.int64, count=len(labels))
    return codes, np.bincount(codes, minlength=len(tags) + 1)[:len(tags)].astype(np.int64)


def neuron_stats(acts: np.ndarray, labels: Sequence[str], tags: Sequence[str], rows: np.ndarray | None = None,
                 control: Sequence[str] | None = None, neurons: np.ndarray | None = None, bins: int = 16,
                 block_bytes: int = 256 << 20, progress: Callable[[int, int], None] | None = None) -> NeuronStats:
    """Statistics of every feature × tag (see the module docstring), streamed over column blocks of ``acts``.

    Parameters
    ----------
    acts : array (n_words, C)
        Activations (a float16 memory map is read a block of columns at a time).
    labels : sequence of str, length n
        Each example's label; a label outside ``tags`` counts in the rest of every tag.
    tags : the T tags, in output order.
    rows : ndarray (n,) or (n, 2), optional
        The word row(s) of each example in ``acts`` (default: every row in order); with two columns the
        features are ``[head | dependent]``, ``2 C`` of them.
    control : sequence of str, length n, optional
        Control-task labels (same tag set); without them the control statistics are NaN.
    neurons : ndarray (F,), optional
        Flat id of each feature (default ``arange(F)``).
    block_bytes : about how much working memory one block may take.
    progress : called with ``(features done, F)`` after each block.

    >>> acts = np.array([[0.0], [0.2], [0.9], [1.0]], dtype=np.float16)
    >>> s = neuron_stats(acts, ["X", "X", "Y", "Y"], ["X", "Y"])
    >>> s.auroc.tolist(), s.strength[0].tolist()
    ([[0.0, 1.0]], [1.0, 1.0])
    """
    n_rows = acts.shape[0]
    rows = np.arange(n_rows, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    halves = [rows] if rows.ndim == 1 else [rows[:, 0], rows[:, 1]]
    n, T = len(halves[0]), len(tags)
    if len(labels) != n:
        raise InputError(f"labels must have one entry per example: {n} examples, got {len(labels)} labels")
    if control is not None and len(control) != n:
        raise InputError(f"control must have one label per example: {n} examples, got {len(control)}")
    if n < 3:
        raise InputError(f"single-neuron statistics need at least 3 examples; got {n}")
    if not isinstance(bins, int) or bins < 2:
        raise InputError(f"bins must be an integer >= 2; got {bins!r}")
    codes, n_pos = _codes(labels, tags)
    control_codes, n_pos_c = _codes(control, tags) if control is not None else (None, np.zeros(T, np.int64))
    C = acts.shape[1]
    F = C * len(halves)
    neurons = np.arange(F, dtype=np.int64) if neurons is None else np.asarray(neurons, dtype=np.int64)
    if len(neurons) != F:
        raise InputError(f"neurons must name each of the {F} features; got {len(neurons)}")
    width = int(max(1, min(C, block_bytes // (n * 8 * (16 + T // 8)))))  # ~130 bytes a value in flight
    out = {k: np.full((F, T), np.nan, np.float32) for k in _ARRAYS[5:]}
    out["mean"], out["sd"] = np.zeros(F, np.float32), np.zeros(F, np.float32)
    done = 0
    for h, half in enumerate(halves):
        every_row = len(half) == n_rows and bool(np.all(half == np.arange(n_rows)))
        for c0 in range(0, C, width):
            c1 = min(C, c0 + width)
            X = np.asarray(acts[:, c0:c1] if every_row else acts[half, c0:c1], dtype=np.float64)
            block = _block(np.ascontiguousarray(X.T), codes, control_codes, n_pos, n_pos_c, T, bins)
            cols = slice(h * C + c0, h * C + c1)
            for name, values in block.items():
                out[name][cols] = values
            done += c1 - c0
            if progress:
                progress(done, F)
    testable = (n_pos > 0) & (n_pos < n)
    out["log10_q"] = benjamini_hochberg(np.where(testable[None, :], out["log10_p"], np.nan)).astype(np.float32)
    return NeuronStats(tuple(str(t) for t in tags), neurons=neurons, n_examples=n, n_pos=n_pos, n_pos_control=n_pos_c,
                       n_tests=int(testable.sum()) * F, bins=bins, **out)
