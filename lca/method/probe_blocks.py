"""Many probes as one tensor program: how :func:`lca.method.probe.train_probes` lays out G probes.

A block is one (columns × probes·classes) weight matrix, scored by one matrix product, with the
gradient of Algorithm 1's objective (the formula is in :mod:`lca.method.probe`) computed in place.  Probes
sharing columns form blocks of at most :data:`BLOCK`; probes with their own column sets are grouped
by overlap (:func:`overlap_groups`), as each probe of a block pays for the block's whole union of
columns.  A program trains its blocks side by side and holds at most :data:`PROGRAM_WEIGHTS`
weights, so a big model's grid takes a few programs (:func:`programs`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["BLOCK", "PROGRAM_WEIGHTS", "Layout", "Block", "overlap_groups", "layouts", "programs"]

# A block is one (columns × probes·classes) weight matrix, scored by one matrix product.
# Probes sharing columns form blocks of at most BLOCK (bigger ones were no faster per probe
# on a 2-core CPU).  Probes with their own column sets are grouped by overlap, as each probe of
# a block pays for the block's whole union of columns.  A program trains its blocks side by
# side and holds at most PROGRAM_WEIGHTS weights, so a big model's grid takes a few programs.
BLOCK = 16
SUBSET_BLOCK = 25
UNION_SLACK = 1.15
PROGRAM_WEIGHTS = 2 ** 24


def overlap_groups(column_sets: np.ndarray) -> list[list[int]]:
    """Indices of the column sets, grouped best-fit so that each group's union of columns stays
    within ``UNION_SLACK`` times one set."""
    groups: list[tuple[list[int], set]] = []
    for i, cols in enumerate(column_sets):
        new = set(cols.tolist())
        fits = [(len(union | new) - len(union), g) for g, (members, union) in enumerate(groups)
                if len(members) < SUBSET_BLOCK and len(union | new) <= UNION_SLACK * len(new)]
        if fits:
            members, union = groups[min(fits)[1]]
            members.append(i)
            union |= new
        else:
            groups.append(([i], new))
    return [members for members, _ in groups]


@dataclass(frozen=True)
class Layout:
    """Probes ``probes`` share the feature columns ``cols`` (None = all); probe i of them uses
    those where ``keep[i]`` (None = every one)."""

    probes: np.ndarray
    cols: np.ndarray | None
    keep: np.ndarray | None


def layouts(columns, mask, G: int, n_features: int) -> list[Layout]:
    if columns is None or np.ndim(columns) == 1:
        k = n_features if columns is None else len(columns)
        if mask is not None and np.shape(mask) != (G, k):
            raise ValueError(f"mask must have shape {(G, k)}; got {np.shape(mask)}")
        cols = None if columns is None else np.asarray(columns)
        keep = None if mask is None else np.asarray(mask, bool)
        bounds = np.linspace(0, G, -(-G // BLOCK) + 1).round().astype(int)  # as even as possible
        return [Layout(np.arange(lo, hi), cols, None if keep is None else keep[lo:hi])
                for lo, hi in zip(bounds, bounds[1:])]
    if mask is not None:
        raise ValueError("mask goes with shared columns, not with per-probe columns")
    columns = np.asarray(columns)
    if columns.shape[0] != G:
        raise ValueError(f"columns must have one row per probe ({G}); got shape {columns.shape}")
    found = []
    for members in overlap_groups(columns):
        union = np.unique(columns[members])
        keep = np.zeros((len(members), len(union)), dtype=bool)
        keep[np.arange(len(members))[:, None], np.searchsorted(union, columns[members])] = True
        found.append(Layout(np.asarray(members), union, None if keep.all() else keep))
    return found


class Block:
    """The weights of one layout's probes, (k, G·T) probe-major, and their gradient.

    The columns are zero-padded to a multiple of 8: on odd widths MKL's backward product runs
    up to 1.6 times slower.  Padding weights (λs 0, logits' gradient 0) and masked-out weights
    get no gradient and stay 0.
    """

    def __init__(self, layout: Layout, base_w: torch.Tensor, base_b: torch.Tensor, l1: np.ndarray,
                 l2: np.ndarray, batch_size: int, device: torch.device):
        self.layout = layout
        G, T = len(layout.probes), base_w.shape[1]
        k = base_w.shape[0] if layout.cols is None else len(layout.cols)
        self.G, self.T, self.k, self.width = G, T, k, -(-G * T // 8) * 8
        sizes = torch.full((G,), float(k)) if layout.keep is None else torch.as_tensor(layout.keep.sum(axis=1), dtype=torch.float32)
        scale = sizes.clamp_min(1).rsqrt()  # the start a probe on these columns alone gets
        start = base_w if layout.cols is None else base_w[torch.as_tensor(layout.cols)]
        coef = torch.zeros(k, self.width)
        coef[:, :G * T] = (start[:, None, :] * scale[None, :, None]).reshape(k, G * T)
        self.keep = None
        if layout.keep is not None:
            keep = torch.zeros(k, self.width)
            keep[:, :G * T] = torch.as_tensor(layout.keep.T, dtype=torch.float32).repeat_interleave(T, dim=1)
            coef *= keep
            self.keep = keep.to(device)
        self.coef = coef.to(device)
        self.intercept = (base_b[None] * scale[:, None]).to(device)
        self.coef.grad, self.intercept.grad = torch.zeros_like(self.coef), torch.zeros_like(self.intercept)
        self.l1, self.l2_twice = (torch.nn.functional.pad(torch.as_tensor(v[layout.probes]).repeat_interleave(T),
                                                          (0, self.width - G * T)).to(device) for v in (l1, 2 * l2))
        # Flat index of (example i, probe g, class 0) in the (B, width) logits.
        self.origin = (torch.arange(batch_size)[:, None] * self.width + torch.arange(G)[None] * T).to(device)
        self.minus_one = torch.tensor(-1.0, device=device)

    def gradient(self, x: torch.Tensor, target: torch.Tensor, loss: torch.Tensor | None = None) -> None:
        """Set the gradient of the summed cross-entropy on batch ``x`` (B, k) with ``target``
        (G or 1, B), plus the penalty's.  d CE / d logits = softmax − one-hot, computed in place.
        ``loss`` (G,), if given, is incremented by each probe's summed cross-entropy."""
        B, GT = len(x), self.G * self.T
        z = x @ self.coef
        p = z[:, :GT].view(B, self.G, self.T)
        p.add_(self.intercept).sub_(p.amax(-1, keepdim=True)).exp_()
        p.div_(p.sum(-1, keepdim=True))
        if loss is not None:  # -log p[target], before p becomes the gradient
            picked = p.gather(2, target.T.expand(B, self.G)[:, :, None]).squeeze(2)
            loss -= picked.clamp_min(1e-30).log_().sum(0)
        z.view(-1).index_put_(((self.origin[:B] + target.T).reshape(-1),), self.minus_one, accumulate=True)
        torch.sum(p, 0, out=self.intercept.grad)
        # λ1 sign(W) + 2 λ2 W, then the cross-entropy's part added by the product itself: two
        # passes over the weights.  (At W = 0 copysign picks ±λ1, a subgradient as good as 0.)
        grad = torch.copysign(self.l1, self.coef, out=self.coef.grad).addcmul_(self.coef, self.l2_twice)
        grad.addmm_(x.T, z)
        if self.keep is not None:  # masked weights (0) get no gradient, so they stay 0
            grad.mul_(self.keep)

    def weights(self) -> np.ndarray:
        """(k, G, T)"""
        return self.coef[:, :self.G * self.T].reshape(self.k, self.G, self.T).cpu().numpy()


def programs(laid: list[Layout], n_features: int, T: int) -> list[list[Layout]]:
    """Consecutive layouts in programs of at most ``PROGRAM_WEIGHTS`` weights (at least one layout each)."""
    out: list[list[Layout]] = [[]]
    held = 0
    for layout in laid:
        size = len(layout.probes) * T * (n_features if layout.cols is None else len(layout.cols))
        if out[-1] and held + size > PROGRAM_WEIGHTS:
            out.append([])
            held = 0
        out[-1].append(layout)
        held += size
    return out
