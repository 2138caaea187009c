"""Causal check: silence ranked neurons inside the model's forward pass.

Every other check of a run (zero-out ablation, retraining, selectivity) acts on the probe.  Here
the chosen neurons are replaced *inside the model*, by zero or by their mean over a reference
corpus, so every layer above them is computed from the altered activations.  :mod:`lca.models.blocks`
finds the module whose input or output is each analysed layer; hooks are removed in ``finally``.

Conditions are batched: K silencing sets run as one forward pass over the batch stacked K times,
chunk k of the stacked batch silenced by set k (:func:`silence`).  Word-level activations then
come out of :func:`lca.models.extract.extract_activations` exactly as for a clean run (windows, subword
folding), so silenced and clean activations compare row by row (:func:`extract_silenced`).

Baselines are layer-matched (:func:`matched_random`, :func:`matched_bottom`): silencing an
embedding neuron and a top-layer neuron are not comparable acts, so a random set takes as many
neurons from each layer as the set it is compared with.
"""
from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .._validation import InputError, check_choice
from ..models.blocks import LayerSite, layer_sites, on_layers
from ..models.extract import LoadedModel, extract_activations

__all__ = ["MODES", "silence", "silenced", "mean_activations", "extract_silenced", "below_layer",
           "matched_random", "matched_bottom", "ConditionPlan", "condition_plan", "parse_neuron_set"]

MODES = ("zero", "mean")


def _masks(conditions: Sequence, n_layers: int, layer_size: int) -> torch.Tensor:
    """``(K, n_layers, layer_size)`` bool: which neurons condition k silences."""
    D = n_layers * layer_size
    masks = torch.zeros(len(conditions), D, dtype=torch.bool)
    for k, ids in enumerate(conditions):
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= D):
            bad = ids[(ids < 0) | (ids >= D)][:5].tolist()
            raise InputError(f"neurons must be flat ids in [0, {D - 1}] (layer × {layer_size} + unit); got {bad}")
        masks[k, torch.from_numpy(ids)] = True
    return masks.view(len(conditions), n_layers, layer_size)


def _fill(values, n_layers: int, layer_size: int) -> torch.Tensor:
    """``(n_layers, layer_size)`` replacement values: zero, or the given per-neuron means."""
    if values is None:
        return torch.zeros(n_layers, layer_size)
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    if len(values) != n_layers * layer_size:
        raise InputError(f"values must hold one number per neuron ({n_layers * layer_size}); got {len(values)}")
    return torch.from_numpy(values.copy()).view(n_layers, layer_size)


@contextmanager
def silence(sites: Sequence[LayerSite], conditions: Sequence, layer_size: int, values=None) -> Iterator[None]:
    """Replace neurons during every forward pass inside, one silencing set per chunk of the batch.

    Parameters
    ----------
    sites : list of LayerSite
        :func:`lca.models.blocks.layer_sites` of the model, one per layer.
    conditions : sequence of K arrays of flat neuron ids
        With K > 1 the batch must be K stacked copies of the input: rows ``[k*B, (k+1)*B)`` are
        silenced by ``conditions[k]``.  An empty array leaves its copy clean.
    values : ndarray, shape (D,), optional
        Replacement per neuron (e.g. :func:`mean_activations`); default zero.

    >>> import torch.nn as nn
    >>> block = nn.Identity(); sites = [LayerSite(block, "output")]
    >>> with silence(sites, [[1]], 3):
    ...     block(torch.ones(1, 2, 3))[0, 0].tolist()
    [1.0, 0.0, 1.0]
    """
    n_layers, K = len(sites), len(conditions)
    masks, fill = _masks(conditions, n_layers, layer_size), _fill(values, n_layers, layer_size)
    prepared: dict = {}

    def replace(layer: int, hidden: torch.Tensor) -> torch.Tensor:
        key = (layer, hidden.device, hidden.dtype)
        if key not in prepared:
            prepared[key] = (masks[:, layer].to(hidden.device).view(K, 1, 1, layer_size),
                             fill[layer].to(hidden.device, hidden.dtype))
        mask, value = prepared[key]
        if hidden.shape[0] % K:
            raise ValueError(f"a batch of {hidden.shape[0]} rows cannot be split among {K} silencing sets")
        stacked = hidden.reshape(K, hidden.shape[0] // K, *hidden.shape[1:])  # (K, B, tokens, size)
        return torch.where(mask, value, stacked).reshape(hidden.shape)

    layers = [layer for layer in range(n_layers) if bool(masks[:, layer].any())]
    with on_layers(sites, replace, layers):
        yield


@contextmanager
def silenced(loaded: LoadedModel, neurons, mode: str = "zero", means=None,
             sites: Sequence[LayerSite] | None = None) -> Iterator[None]:
    """Silence one set of flat neuron ids of ``loaded`` during every forward pass inside.

    ``mode="mean"`` needs ``means`` (shape (D,), see :func:`mean_activations`).
    """
    check_choice("mode", mode, MODES)
    if mode == "mean" and means is None:
        raise InputError("mode 'mean' needs the neurons' mean activations over a reference corpus (means=...)")
    with silence(sites or layer_sites(loaded), [neurons], loaded.layer_size, means if mode == "mean" else None):
        yield


def mean_activations(activations: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """``(D,)`` float32 mean of each neuron over the rows of a (possibly memory-mapped) activation matrix."""
    total = np.zeros(activations.shape[1], dtype=np.float64)
    for start in range(0, len(activations), chunk):
        total += np.asarray(activations[start:start + chunk], dtype=np.float64).sum(axis=0)
    return (total / max(1, len(activations))).astype(np.float32)


class _Stacked(torch.nn.Module):
    """The model run on its batch stacked K times; the kept layers' hidden states side by side, (B, T, K·S)."""

    def __init__(self, model: torch.nn.Module, k: int, layers: Sequence[int]):
        super().__init__()
        self.model, self.k, self.layers = model, k, list(layers)

    def forward(self, input_ids, attention_mask=None, output_hidden_states=True):
        mask = None if attention_mask is None else attention_mask.repeat(self.k, 1)
        states = self.model(input_ids=input_ids.repeat(self.k, 1), attention_mask=mask,
                            output_hidden_states=True).hidden_states
        return SimpleNamespace(hidden_states=[torch.cat(states[layer].chunk(self.k), dim=-1) for layer in self.layers])


def extract_silenced(loaded: LoadedModel, sentences, conditions: Sequence, values=None,
                     layers: Sequence[int] | None = None, aggregation: str = "last",
                     sites: Sequence[LayerSite] | None = None, max_stack: int = 8,
                     progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Word activations of ``layers`` under each silencing set, ``max_stack`` sets per forward pass.

    Returns
    -------
    ndarray of float16 (float32 where float16 would overflow), shape (K, n_words, len(layers) * layer_size)
        ``[k]`` is what :func:`lca.models.extract.extract_activations` gives with ``conditions[k]``
        silenced (an empty set: the clean activations), restricted to ``layers`` (default: all).
    """
    layers = list(range(loaded.n_layers)) if layers is None else list(layers)
    sites = sites or layer_sites(loaded)
    S, K = loaded.layer_size, len(conditions)
    n_words = sum(len(s) for s in sentences)
    out = None  # float16, or float32 once a group's activations exceed float16's range (as extract returns them)
    budget = 32_768 if loaded.device.type == "cuda" else 1_024  # extract's default, shared by the stack
    for start in range(0, K, max_stack):
        group = list(conditions[start:start + max_stack])
        k = len(group)
        view = dataclasses.replace(loaded, model=_Stacked(loaded.model, k, layers), n_layers=len(layers), layer_size=k * S)
        report = None if progress is None else (
            lambda done, total, start=start, k=k: progress(start * total + done * k, K * total))
        with silence(sites, group, S, values):
            acts = extract_activations(view, sentences, aggregation, max_batch_tokens=max(64, budget // k),
                                       progress=report)
        if out is None or out.dtype.itemsize < acts.dtype.itemsize:
            wider = np.empty((K, n_words, len(layers) * S), dtype=acts.dtype)
            if out is not None:
                wider[:start] = out[:start]
            out = wider
        # columns are (layer, condition, unit): regroup by condition
        out[start:start + k] = acts.reshape(n_words, len(layers), k, S).transpose(2, 0, 1, 3).reshape(k, n_words, -1)
    return out if out is not None else np.empty((0, n_words, len(layers) * S), dtype=np.float16)


def below_layer(neurons, layer: int, layer_size: int) -> np.ndarray:
    """The flat ids of ``neurons`` in layers below ``layer`` (those whose effect flows up to it)."""
    neurons = np.asarray(neurons, dtype=np.int64)
    return neurons[neurons < layer * layer_size]


def matched_random(neurons, layer_size: int, n_layers: int, draws: int, seed: int = 0) -> list[np.ndarray]:
    """``draws`` random sets with as many neurons in each layer as ``neurons``; draw i seeded by ``(seed, i)``.

    >>> [np.sort(d // 4).tolist() for d in matched_random([0, 1, 9], 4, 3, 2)]
    [[0, 0, 2], [0, 0, 2]]
    """
    counts = np.bincount(np.asarray(neurons, dtype=np.int64) // layer_size, minlength=n_layers)
    out = []
    for i in range(draws):
        rng = np.random.default_rng([seed, i])
        out.append(np.concatenate([layer * layer_size + rng.choice(layer_size, size=c, replace=False)
                                   for layer, c in enumerate(counts) if c] or [np.zeros(0, np.int64)]).astype(np.int64))
    return out


def matched_bottom(neurons, ranking, layer_size: int, n_layers: int) -> np.ndarray:
    """The least salient neurons of each layer (by ``ranking``), as many per layer as ``neurons``.

    >>> matched_bottom([0, 5], [0, 1, 2, 3, 4, 5, 6, 7], 4, 2).tolist()
    [3, 7]
    """
    counts = np.bincount(np.asarray(neurons, dtype=np.int64) // layer_size, minlength=n_layers)
    ranking = np.asarray(ranking, dtype=np.int64)
    ranking = ranking[ranking < n_layers * layer_size]  # pair tasks: the head half only
    by_layer = ranking // layer_size
    picked = [ranking[by_layer == layer][::-1][:c] for layer, c in enumerate(counts) if c]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


@dataclass(frozen=True)
class ConditionPlan:
    """The silencing conditions of a causal check, in the order they run (:func:`condition_plan`).

    ``conditions[0]`` silences nothing (clean); then, per set of ``sets`` (``(name, neurons)``), the set,
    ``draws`` layer-matched random sets and the layer-matched bottom neurons; then, per tag of ``tags``, its
    own neurons and one layer-matched random set.  :meth:`set_scores` and :meth:`tag_scores` read one score
    per condition back by set and by tag.
    """

    conditions: tuple
    sets: tuple
    tags: tuple
    draws: int

    def set_scores(self, scores: Sequence) -> list[tuple]:
        """``(name, neurons, top, [random draws], bottom)`` per set, from one score per condition."""
        out = []
        for k, (name, neurons) in enumerate(self.sets):
            at = 1 + k * (self.draws + 2)
            out.append((name, neurons, scores[at], list(scores[at + 1:at + 1 + self.draws]), scores[at + 1 + self.draws]))
        return out

    def tag_scores(self, scores: Sequence) -> list[tuple]:
        """``(tag, own neurons, own score, random score)`` per tag, from one score per condition."""
        start = 1 + len(self.sets) * (self.draws + 2)
        return [(tag, self.conditions[start + 2 * i], scores[start + 2 * i], scores[start + 2 * i + 1])
                for i, tag in enumerate(self.tags)]


def condition_plan(sets: dict, result, draws: int, seed: int = 0, tags: Sequence[str] = (),
                   below: int | None = None) -> ConditionPlan:
    """The conditions that compare each of ``sets`` ({name: flat ids}) with ``draws`` random sets of as many
    neurons per layer (draw i seeded by ``(seed, i)``) and the least salient as many (by ``result.ranking``),
    and each of ``tags``' own neurons (``result.per_tag``) with one random set (seeded ``seed + 1000 + i``);
    with ``below``, only the neurons in layers below it (those whose effect flows up to it).

    >>> run = type("Run", (), {"layer_size": 4, "n_layers": 2, "ranking": tuple(range(8)), "per_tag": {"NN": [5]}})
    >>> plan = condition_plan({"mine": [0, 5]}, run, draws=2, tags=["NN"])
    >>> [c.tolist() for c in plan.conditions[:2]], plan.conditions[4].tolist(), len(plan.conditions)
    ([[], [0, 5]], [3, 7], 7)
    >>> name, neurons, top, randoms, bottom = plan.set_scores(list("abcdefg"))[0]
    >>> name, top, randoms, bottom, plan.tag_scores(list("abcdefg"))[0][2:]
    ('mine', 'b', ['c', 'd'], 'e', ('f', 'g'))
    """
    S, L = result.layer_size, result.n_layers
    keep = lambda ids: np.sort(np.asarray(ids, dtype=np.int64) if below is None  # noqa: E731
                               else below_layer(ids, below, S))
    conditions, chosen = [np.zeros(0, np.int64)], []
    for name, neurons in sets.items():
        ids = keep(neurons)
        conditions += [ids, *matched_random(ids, S, L, draws, seed), matched_bottom(ids, result.ranking, S, L)]
        chosen.append((name, ids))
    for i, tag in enumerate(tags):
        own = keep(result.per_tag[tag])
        conditions += [own, matched_random(own, S, L, 1, seed + 1000 + i)[0]]
    return ConditionPlan(tuple(conditions), tuple(chosen), tuple(tags), draws)


def parse_neuron_set(text: str, result) -> tuple[str, np.ndarray]:
    """``(name, flat ids)`` of ``top`` (the minimal set), ``top:N``, ``tag:TAG`` or a list of ids.

    A list holds flat ids or ``layer:unit`` pairs separated by commas or spaces: ``"3:120, 5:7"``.
    ``result`` is the run's :class:`lca.runs.result.LCAResult`.
    """
    from ..neurons import parse_neuron

    text = (text or "top").strip()
    if text == "top":
        return f"minimal ({len(result.minimal.neurons)})", np.asarray(result.minimal.neurons, dtype=np.int64)
    if text.startswith("top:"):
        n = text[4:].strip()
        if not n.isdigit() or not 0 < int(n) <= len(result.ranking):
            raise InputError(f"--neurons top:N needs 1 <= N <= {len(result.ranking)}; got {text!r}")
        return f"top {int(n)}", np.asarray(result.ranking[:int(n)], dtype=np.int64)
    if text.startswith("tag:"):
        tag = text[4:].strip()
        if tag not in result.per_tag:
            raise InputError(f"--neurons tag:TAG: no tag {tag!r} in this run; its tags are {', '.join(sorted(result.per_tag))}")
        if not result.per_tag[tag]:
            raise InputError(f"tag {tag!r} has no salient neuron in this run's minimal set; pick another tag")
        return f"tag {tag}", np.asarray(result.per_tag[tag], dtype=np.int64)
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        ids = [int(p) if p.isdigit() else parse_neuron(p, result.layer_size, result.n_layers) for p in parts]
    except ValueError as err:
        raise InputError(f"--neurons: {err}; give top, top:N, tag:TAG or a list such as '3:120,5:7'") from None
    if not ids or max(ids) >= result.n_layers * result.layer_size:
        raise InputError(f"--neurons: flat ids must be in [0, {result.n_layers * result.layer_size - 1}]; got {text!r}")
    return f"{len(ids)} chosen", np.unique(np.asarray(ids, dtype=np.int64))
