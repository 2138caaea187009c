"""What silencing a run's neurons does: information flow and the per-tag silencing map.

*Information flow.*  A probe is trained on the **clean** activations of one upper layer (the
read layer, default the top one) with the run's penalties and training settings, then — not
retrained — tags the test words from that layer's activations re-extracted with a set of neurons
silenced.  Only the set's neurons *below* the read layer are silenced, so what changes at the read
layer has flowed through the model, not been removed from the probe's input.  Each set is compared
with random sets of as many neurons per layer (several draws: mean and sd) and with the least
salient neurons of each layer (:mod:`lca.causal.intervene`).

*Per-tag silencing.*  For each of the most frequent tags, its own neurons (``per_tag``) against
as many random ones: the drop in every tag's accuracy, a silenced-tag × measured-tag map whose
diagonal says whether a tag depends on its own neurons.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .._validation import InputError
from ..method.ablate import mean_sd
from ..data.corpus import Corpus, task_examples
from ..method.features import Features
from .intervene import below_layer, condition_plan, extract_silenced
from ..method.probe import ProbeWeights, predict, train_probes

__all__ = ["Effect", "SetComparison", "FlowResult", "read_layer_of", "clean_layer_probe", "information_flow",
           "typed_tags"]

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Effect:
    """What one condition leaves of the task: accuracy overall and per gold tag (fractions in [0, 1])."""

    accuracy: float
    per_tag: dict

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "per_tag": dict(self.per_tag)}


def _summary(effects) -> dict:
    """Mean, sd and draws of random conditions; per-tag figures averaged over the draws."""
    mean, sd = mean_sd([e.accuracy for e in effects])
    tags = effects[0].per_tag if effects else {}
    return {"accuracy": mean, "sd": sd, "draws": [e.accuracy for e in effects],
            "per_tag": {t: float(np.mean([e.per_tag[t] for e in effects])) for t in tags}}


@dataclass(frozen=True)
class SetComparison:
    """One silenced set against layer-matched random draws and the layer-matched bottom neurons.

    ``neurons`` are the silenced flat ids (the set's neurons below the read layer).
    """

    name: str
    neurons: tuple
    top: Effect
    random: tuple  # of Effect, one per draw
    bottom: Effect

    def to_dict(self) -> dict:
        return {"name": self.name, "n_neurons": len(self.neurons), "neurons": list(self.neurons),
                "top": self.top.to_dict(), "random": _summary(self.random), "bottom": self.bottom.to_dict()}


@dataclass(frozen=True)
class FlowResult:
    """Information flow to ``read_layer`` (see the module docstring).

    Attributes
    ----------
    tags : tuple of str
        The probe's classes (the run's tags); ``counts`` are their test words.
    clean : Effect
        The clean probe on clean activations.
    sets : tuple of SetComparison
    heatmap : dict
        ``{tags, n_neurons, own, random}``: ``own[i][j]`` is the drop in accuracy on tag j
        (clean minus silenced) when tag i's neurons are silenced; ``random[i][j]`` the same for
        as many random neurons; ``n_neurons[i]`` silenced for tag i.  Empty without per-tag neurons.
    """

    read_layer: int
    mode: str
    n_words: int
    tags: tuple
    counts: dict
    clean: Effect
    sets: tuple
    heatmap: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"read_layer": self.read_layer, "mode": self.mode, "n_words": self.n_words, "tags": list(self.tags),
                "counts": dict(self.counts), "clean": self.clean.to_dict(), "sets": [s.to_dict() for s in self.sets],
                "heatmap": dict(self.heatmap)}


def _labels(corpus: Corpus, task: str, tags) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, tag index)`` of the words of ``corpus`` whose tag is one of ``tags``."""
    ex = task_examples(corpus, task)
    if ex.rows.ndim == 2:
        raise InputError(f"task {task!r} labels word pairs; interventions read single words (use a word-level task)")
    labels = np.asarray(ex.labels)
    tags = np.asarray(tags)
    keep = np.isin(labels, tags)
    return ex.rows[keep], np.searchsorted(tags, labels[keep])


def clean_layer_probe(train_acts: np.ndarray, train: Corpus, result, layer: int, min_steps: int | None = None,
                      device="cpu") -> ProbeWeights:
    """A probe of the run's task on the clean activations of one layer, with the run's λs and training.

    ``min_steps`` overrides the run's optimizer-step floor (a quicker, less converged probe).
    """
    config = result.run_config
    rows, y = _labels(train, result.task, result.tags)
    S = result.layer_size
    training = config.training()
    if min_steps is not None:
        training["min_steps"] = min_steps
    weights = train_probes(Features(train_acts, rows, np.arange(layer * S, (layer + 1) * S)), y, len(result.tags),
                           [result.lambdas.l1], [result.lambdas.l2], seed=config.seed, device=device, **training)
    return ProbeWeights(weights.coef, weights.intercept)  # over the layer's own columns 0..S-1


def _effect(probe: ProbeWeights, acts: np.ndarray, rows: np.ndarray, y: np.ndarray, tags, device) -> Effect:
    pred = predict(Features(acts, rows), probe, device=device)[0]
    right = pred == y
    per_tag = {str(t): float(right[y == i].mean()) for i, t in enumerate(tags) if np.any(y == i)}
    return Effect(float(right.mean()), per_tag)


def _heatmap_tags(result, counts: dict, read_layer: int, n_tags: int) -> list[str]:
    """The ``n_tags`` most frequent test tags with at least one own neuron below the read layer."""
    S = result.layer_size
    usable = [t for t in counts if len(below_layer(result.per_tag.get(t, []), read_layer, S))]
    return sorted(usable, key=lambda t: -counts[t])[:n_tags]


def read_layer_of(result, read_layer: int | None = None) -> int:
    """The layer the task is decoded from: ``read_layer``, default the top one; it must have layers below it."""
    L = result.n_layers
    read_layer = L - 1 if read_layer is None else int(read_layer)
    if not 1 <= read_layer < L:
        raise InputError(f"read layer must be in [1, {L - 1}] (a layer with layers below it); got {read_layer}")
    return read_layer


def information_flow(loaded, result, test: Corpus, probe: ProbeWeights, sets: dict, mode: str = "zero",
                     means: np.ndarray | None = None, read_layer: int | None = None, draws: int = 5,
                     heatmap_tags: int = 10, seed: int = 0, max_stack: int = 8,
                     progress: Progress | None = None) -> FlowResult:
    """Silence each of ``sets`` ({name: flat ids}) below ``read_layer`` and decode the task there.

    ``probe`` is :func:`clean_layer_probe` of ``read_layer`` (:func:`read_layer_of`: default the top layer),
    trained once by the caller; ``means`` the replacement values of mode ``mean``.  Returns a :class:`FlowResult`.
    """
    read_layer = read_layer_of(result, read_layer)
    report = progress or (lambda stage, fraction: None)
    rows, y = _labels(test, result.task, result.tags)
    tags = tuple(result.tags)
    counts = {str(t): int(np.sum(y == i)) for i, t in enumerate(tags) if np.any(y == i)}
    plan = condition_plan(sets, result, draws, seed, _heatmap_tags(result, counts, read_layer, heatmap_tags),
                          below=read_layer)

    report("silence", 0.0)
    acts = extract_silenced(loaded, test.sentences, plan.conditions, means if mode == "mean" else None, [read_layer],
                            result.run_config.aggregation, max_stack=max_stack,
                            progress=lambda done, total: report("silence", done / total))
    effects = [_effect(probe, acts[k], rows, y, tags, loaded.device) for k in range(len(plan.conditions))]
    report("silence", 1.0)

    clean = effects[0]
    out_sets = tuple(SetComparison(name, tuple(int(n) for n in chosen), top, tuple(randoms), bottom)
                     for name, chosen, top, randoms, bottom in plan.set_scores(effects))
    heatmap = {}
    if plan.tags:
        drop = lambda e: [clean.per_tag[t] - e.per_tag[t] for t in plan.tags]  # noqa: E731
        by_tag = plan.tag_scores(effects)
        heatmap = {"tags": list(plan.tags), "n_neurons": [len(own) for _, own, _, _ in by_tag],
                   "own": [drop(e) for _, _, e, _ in by_tag], "random": [drop(r) for _, _, _, r in by_tag]}
    return FlowResult(read_layer, mode, int(len(y)), tags, counts, clean, out_sets, heatmap)


def typed_tags(loaded, words, probe: ProbeWeights, tags, neurons, read_layer: int, values=None,
               aggregation: str = "last") -> list[dict]:
    """The clean probe's tag of each typed word at ``read_layer``, clean and with ``neurons`` (those
    below the layer) silenced: ``[{word, clean, silenced, changed}]``."""
    chosen = below_layer(neurons, read_layer, loaded.layer_size)
    acts = extract_silenced(loaded, [list(words)], [np.zeros(0, np.int64), chosen], values, [read_layer], aggregation)
    pred = [predict(Features(acts[k]), probe, device=loaded.device)[0] for k in range(2)]
    return [{"word": w, "clean": str(tags[a]), "silenced": str(tags[b]), "changed": bool(a != b)}
            for w, a, b in zip(words, pred[0], pred[1])]
