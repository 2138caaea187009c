"""The typed sections of a run's result (:class:`lca.runs.result.LCAResult`): each table or record that
several modules read is a frozen dataclass here, its keys written once.

Every section is a :class:`Section`: ``to_dict()`` gives JSON-ready data (tuples as lists), and
``from_dict()`` reads what ``result.json`` holds, old files included: a field an older file lacks
takes its default (None where the figure was not recorded), a key no longer known is left out.
Accuracies are fractions in [0, 1] on the test split; neuron ids are flat ids of the whole model
(:mod:`lca.neurons`).

A new section is a :class:`Section` subclass here and one entry in ``LCAResult``'s fields and in
:data:`lca.runs.result.SECTIONS`.

>>> Ablation.from_dict({"top": 0.8, "random": 0.5, "bottom": 0.2, "weight_magnitude": 0.7, "retired": 1})
Ablation(top=0.8, random=0.5, bottom=0.2, weight_magnitude=0.7, random_sd=None)
>>> Minimal.from_dict(Minimal(2, 0.1, 0.9, (3, 7)).to_dict()) == Minimal(2, 0.1, 0.9, (3, 7))
True
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Mapping

__all__ = ["Section", "Lambdas", "Ablation", "Retrain", "Minimal", "Selectivity", "Probeless", "ActivationKeys",
           "Spread", "Seeds", "Screen"]


def _tuples(value):
    """Lists (from JSON) as tuples, nested ones too, so a section stays immutable and comparable."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def _plain(value):
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value.tolist() if hasattr(value, "tolist") else value  # numpy scalars and arrays


class Section:
    """``to_dict``/``from_dict`` shared by the sections (frozen dataclasses)."""

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping):
        """The section from a ``to_dict()`` (or older) mapping; an instance passes through."""
        if isinstance(data, cls):
            return data
        known = {f.name for f in fields(cls)}
        return cls(**{k: _tuples(v) for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Lambdas(Section):
    """The oracle probe's penalties (Algorithm 2's choice, or the run's fixed pair): ``l1`` λ1, ``l2`` λ2."""

    l1: float
    l2: float


@dataclass(frozen=True)
class Ablation(Section):
    """Table 2: the oracle probe's accuracy with only the top / random / bottom / weight-magnitude
    ``config.top_fraction`` of the neurons kept (the others zeroed).  ``random`` is the mean over
    ``config.random_draws`` draws, ``random_sd`` their sd (None in results from before several draws)."""

    top: float
    random: float
    bottom: float
    weight_magnitude: float
    random_sd: float | None = None


@dataclass(frozen=True)
class Retrain(Section):
    """Table 5: a probe retrained on the top / random / bottom N neurons (N = the minimal subset's size).
    ``random`` is the mean of ``random_draws``, ``random_sd`` their sd (None and () in older results)."""

    top: float
    random: float
    bottom: float
    random_sd: float | None = None
    random_draws: tuple[float, ...] = ()


@dataclass(frozen=True)
class Minimal(Section):
    """Algorithm 4's minimal subset: ``n_neurons`` (N) ``neurons``, ``fraction`` = N / ``analysed_neurons``,
    ``accuracy`` of the probe retrained on them; ``dev_accuracy`` and ``oracle_dev_accuracy`` are the
    development figures the search compared, ``tried`` its ``(N, dev accuracy)`` steps.  ``analysed_neurons``
    is the D the probes saw (None in results from before ``--layers``: every neuron)."""

    n_neurons: int
    fraction: float
    accuracy: float
    neurons: tuple[int, ...]
    dev_accuracy: float | None = None
    oracle_dev_accuracy: float | None = None
    tried: tuple = ()
    analysed_neurons: int | None = None


@dataclass(frozen=True)
class Selectivity(Section):
    """Table 3's selectivity: ``all`` = oracle − ``control_all`` and ``top`` = retrained top N − ``control_top``,
    the accuracies of probes of the same neurons on the control task (Hewitt & Liang 2019: each word type a
    random tag; None in results that did not keep them)."""

    all: float
    top: float
    control_all: float | None = None
    control_top: float | None = None


@dataclass(frozen=True)
class Probeless(Section):
    """The probeless ranking's baseline: ``accuracy`` of a probe retrained on its top ``n_neurons`` (= N), and
    the first 100 ids of that ranking (``ranking_head``)."""

    accuracy: float
    n_neurons: int | None = None
    ranking_head: tuple[int, ...] = ()


@dataclass(frozen=True)
class ActivationKeys(Section):
    """The cache entries the run read (:mod:`lca.runs.inputs`), also written as ``activations.json``: keys of
    ``train`` and ``test`` in the cache under ``cache_dir``, whether each was ``reused`` or ``repaired``
    (damaged and recomputed), the development examples carved from training, and the site's ``columns``
    the matrices hold (``--layers`` or ``--screen``; None: every neuron)."""

    train: str
    test: str
    cache_dir: str | None = None
    reused: tuple[bool, ...] = ()
    repaired: tuple[bool, ...] = ()
    n_dev_examples: int | None = None
    columns: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Spread(Section):
    """One figure over seeds: its ``values``, their ``mean`` and sd."""

    values: tuple[float, ...]
    mean: float
    sd: float


@dataclass(frozen=True)
class Seeds(Section):
    """A run repeated with ``seeds``: every table figure's :class:`Spread` by name (:data:`lca.runs.seeds.FIGURES`)."""

    seeds: tuple[int, ...]
    figures: dict = field(default_factory=dict)  # name -> Spread

    @classmethod
    def from_dict(cls, data: Mapping):
        if isinstance(data, cls):
            return data
        return cls(_tuples(data["seeds"]), {k: Spread.from_dict(v) for k, v in data.get("figures", {}).items()})


@dataclass(frozen=True)
class Screen(Section):
    """The streamed screen (``config.screen`` = K): ``per_layer`` neurons kept of each layer, the kept ``columns``
    (flat ids of the site, in order: the cached test activations hold those only), the ``n_screened`` neurons
    streamed through it, and its ``seconds``."""

    per_layer: int
    columns: tuple[int, ...]
    seconds: float | None = None
    n_screened: int | None = None
