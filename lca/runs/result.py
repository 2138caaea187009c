"""The run's configuration and its result: plain, typed, frozen, JSON round-trippable."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ..store.atomic import write_json_atomic
from .._validation import InputError, check_choice, check_fraction, check_positive
from ..data.corpus import TASKS
from ..models.extract import AGGREGATIONS
from ..method.probe import SCHEDULES
from ..models.sites import SITES
from .sections import (Ablation, ActivationKeys, Lambdas, Minimal, Probeless, Retrain, Screen, Section, Seeds,
                       Selectivity)

__all__ = ["RunConfig", "LCAResult", "PAPER_GRID", "MODES", "SECTIONS", "load_result", "save_result", "parse_layers"]

PAPER_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 0.0)  # Algorithm 2's searchList
MODES = ("paper", "quick")
# How each mode trains a probe when the config leaves it open (None).  Paper mode is Algorithm 1
# as published: lr 1e-3 for 10 epochs.  Quick mode (the app's default) trains to convergence:
# on corpora of 5k-25k words the paper's ~100-500 Adam steps leave the weights, and so the
# ranking, little better than random.  On EWT dev at a fixed λ1 = 0.1, lr 1e-2 decayed linearly
# to 0 gave a zero-out top − random gap at 20 % of +6.5 / +14.3 / +24.3 / +33.6 points after
# 500 / 1000 / 2000 / 4000 / 8000 steps (minimal subset 22 / 20 / 19 / 12 / 13 %), against +1.4
# for the paper's 450 steps at 1e-3 (docs/fidelity.md, section B); on EWT train 8000 steps were
# needed for a minimal subset under 15 % (14.1 %, against 17.1 % at 4000).
TRAINING = {"paper": {"lr": 1e-3, "min_steps": 0, "schedule": "constant"},
            "quick": {"lr": 1e-2, "min_steps": 8000, "schedule": "linear"}}


def parse_layers(text: str | None) -> tuple[int, ...] | None:
    """``"0,2-4"`` → ``(0, 2, 3, 4)``; empty → None (every layer).

    >>> parse_layers("0, 2-4"), parse_layers("")
    ((0, 2, 3, 4), None)
    """
    if not text or not text.strip():
        return None
    layers = []
    for part in text.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise InputError(f"layers must look like '0,1,2' or '0-3'; got {text!r}")
        layers.extend(range(int(low), int(high or low) + 1))
    return tuple(layers)


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run.  ``delta``, ``top_fraction`` and ``step`` are fractions.

    >>> RunConfig.from_dict(RunConfig(task="upos").to_dict()) == RunConfig(task="upos")
    True
    """

    task: str = "xpos"
    model: str | None = None  # None: the bundled all-MiniLM-L6-v2
    revision: str | None = None
    aggregation: str = "last"
    device: str = "auto"
    mode: str = "paper"
    layers: tuple[int, ...] | None = None  # None: every layer (0 = embeddings), as in the paper
    seed: int = 0
    epochs: int = 10
    batch_size: int = 512
    lr: float | None = None  # None: by mode (TRAINING)
    min_steps: int | None = None  # at least this many optimizer steps per probe; None: by mode
    schedule: str | None = None  # learning rate: "constant" or "linear" decay to 0; None: by mode
    grid: tuple[float, ...] = PAPER_GRID
    top_fraction: float = 0.2  # M of Algorithm 2 and of the ablation study
    alpha: float = 0.5
    beta: float = 0.5
    delta: float = 0.01  # Algorithm 4: within 1 point of the oracle
    step: float = 0.01  # Algorithm 4: grow N by 1 % of D
    dev_fraction: float = 0.1  # carved from the training sentences for every selection decision
    ranking_steps: int = 1000  # Algorithm 3: weight-mass thresholds 0.1 %, 0.2 %, ...
    drop_unseen: bool = False  # drop test examples whose tag never occurs in training (reported), instead of failing
    trust_remote_code: bool = False
    random_draws: int = 5  # random baselines are drawn this many times (mean and spread reported)
    seeds: int = 1  # train every probe with this many seeds (seed, seed+1, ...); figures as mean ± sd
    lambdas: tuple[float, float] | None = None  # a fixed (λ1, λ2) instead of the grid search's choice
    site: str = "hidden"  # which neurons (lca.models.sites): "hidden" (layer outputs, the paper's) or "mlp"
    screen: int | None = None  # keep the best this many neurons of each layer by a streamed screen, then run LCA

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        check_choice("aggregation", self.aggregation, AGGREGATIONS)
        check_choice("device", self.device, ("auto", "cpu", "cuda"))
        check_choice("mode", self.mode, MODES)
        check_choice("site", self.site, SITES)
        if self.screen is not None:
            check_positive("screen", self.screen, integer=True)
        for name in ("epochs", "batch_size", "ranking_steps", "random_draws", "seeds"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("seed", self.seed, integer=True, allow_zero=True)
        if self.lr is not None:
            check_positive("lr", self.lr)
        if self.min_steps is not None:
            check_positive("min_steps", self.min_steps, integer=True, allow_zero=True)
        if self.schedule is not None:
            check_choice("schedule", self.schedule, SCHEDULES)
        if self.lambdas is not None:
            if len(self.lambdas) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0
                                             for v in self.lambdas):
                raise InputError(f"lambdas must be two penalties (λ1, λ2) >= 0; got {self.lambdas!r}")
            object.__setattr__(self, "lambdas", tuple(float(v) for v in self.lambdas))
        for name in ("top_fraction", "step", "dev_fraction", "delta"):
            check_fraction(name, getattr(self, name))
        if not self.grid or any(not isinstance(v, (int, float)) or v < 0 for v in self.grid):
            raise InputError(f"grid must be a non-empty list of penalties >= 0; got {self.grid!r}")
        object.__setattr__(self, "grid", tuple(float(v) for v in self.grid))
        if self.layers is not None:
            if not self.layers or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in self.layers):
                raise InputError(f"layers must be a non-empty list of layer numbers >= 0 (0 = embeddings); "
                                 f"got {self.layers!r}")
            object.__setattr__(self, "layers", tuple(sorted(set(self.layers))))

    def training(self) -> dict:
        """How each probe is trained: ``{epochs, batch_size, lr, min_steps, schedule}``, the mode's
        defaults filling what the config leaves open.

        >>> RunConfig(mode="paper").training()["lr"], RunConfig(mode="quick").training()["schedule"]
        (0.001, 'linear')
        """
        chosen = {"lr": self.lr, "min_steps": self.min_steps, "schedule": self.schedule}
        return {"epochs": self.epochs, "batch_size": self.batch_size,
                **{k: TRAINING[self.mode][k] if v is None else v for k, v in chosen.items()}}

    def to_dict(self) -> dict:
        return {**asdict(self), "grid": list(self.grid), "layers": None if self.layers is None else list(self.layers),
                "lambdas": None if self.lambdas is None else list(self.lambdas)}

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown run settings {unknown}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if k in ("grid", "layers", "lambdas") and v is not None else v
                      for k, v in data.items()})


@dataclass(frozen=True)
class LCAResult:
    """What a run found.  Accuracies are fractions in [0, 1], measured on the test split.

    The records several modules read are typed sections (:mod:`lca.runs.sections`, each with
    ``to_dict``/``from_dict``; a section given as a mapping, e.g. from an old ``result.json``, is read
    into its class).  ``per_tag``, ``dropped_unseen`` and ``timings`` stay dicts: they map names the data
    decides (tags, stages) to values, with no fixed keys to type.  ``config`` stays the settings as saved
    (a dict): :attr:`run_config` reads it as a :class:`RunConfig`, tolerating settings added or retired
    since.  The tables ``grid``, ``curve`` and ``training_curve`` are tuples of row dicts, drawn whole by
    :mod:`lca.report.viz`, as :mod:`lca.method.grid` and :mod:`lca.method.ablate` make them.

    Attributes
    ----------
    ranking : tuple of int, length n_neurons
        Every flat neuron id, most salient first (Algorithm 3 on the oracle probe).
    per_tag : dict of str to list of int
        Salient neurons of each tag within the minimal set.
    weights : ndarray, shape (n_neurons, n_tags)
        The oracle probe's weights (saved beside ``result.json`` as ``weights.npy``, not inside it).
    intercept : ndarray, shape (n_tags,)
        The oracle probe's bias (``intercept.npy``).
    layer_histogram : list of int, length n_layers (or 2 * n_layers for pair tasks: heads then dependents)
        Neurons of the minimal set in each layer.
    lambdas, ablation, retrain, minimal, selectivity, probeless : sections
        :class:`~lca.runs.sections.Lambdas` of the oracle, Table 2 at the top fraction
        (:class:`~lca.runs.sections.Ablation`; its random draws' own figures are ``ablation_random_draws``),
        Table 5 (:class:`~lca.runs.sections.Retrain`), Algorithm 4 (:class:`~lca.runs.sections.Minimal`),
        Table 3 (:class:`~lca.runs.sections.Selectivity`) and the probeless baseline
        (:class:`~lca.runs.sections.Probeless`).
    activation_keys : ActivationKeys
        The cache entries the run read (:class:`~lca.runs.sections.ActivationKeys`).
    training_curve : tuple of dict
        The oracle probe's ``{epoch, step, loss, penalty, dev_accuracy}``: mean training
        cross-entropy of the epoch, the penalty per example (loss + penalty is the objective)
        and development accuracy after it, at up to ~50 epochs.
    site : str
        The neuron site (:mod:`lca.models.sites`): ``n_layers`` and ``layer_size`` are the site's (``mlp``:
        blocks × MLP width).
    screen : Screen or None
        With ``config.screen`` = K, the screen's :class:`~lca.runs.sections.Screen`; the test activations
        in the cache hold its columns only, in that order.
    seeds : Seeds or None
        With ``config.seeds`` > 1, every table figure's mean ± sd (:class:`~lca.runs.sections.Seeds`, see
        :mod:`lca.runs.seeds`); the other fields are the first seed's.
    dropped_unseen : dict of str to int
        Test words left out because their tag never occurs in training, per tag (``drop_unseen``).
    """

    model: str
    task: str
    n_layers: int
    layer_size: int
    n_neurons: int
    pair: bool
    tags: tuple[str, ...]
    n_train_words: int
    n_test_words: int
    lambdas: Lambdas
    grid: tuple[dict, ...]
    oracle_accuracy: float
    noreg_accuracy: float
    majority_accuracy: float
    ranking: tuple[int, ...]
    per_tag: dict
    ablation: Ablation
    retrain: Retrain
    minimal: Minimal
    selectivity: Selectivity
    probeless: Probeless
    layer_histogram: tuple[int, ...]
    timings: dict
    config: dict
    activation_keys: ActivationKeys
    curve: tuple[dict, ...] = ()
    ablation_random_draws: tuple[float, ...] = ()
    training_curve: tuple[dict, ...] = ()
    seeds: Seeds | None = None
    dropped_unseen: dict = field(default_factory=dict)
    site: str = "hidden"
    screen: Screen | None = None
    weights: np.ndarray | None = field(default=None, repr=False, compare=False)
    intercept: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        for name, kind in SECTIONS.items():
            value = getattr(self, name)
            if isinstance(value, Mapping):  # old files hold {} for a section they did not have
                try:
                    typed = kind.from_dict(value) if value or name not in _OPTIONAL else None
                except (TypeError, KeyError) as err:
                    raise InputError(f"result section {name!r} cannot be read ({err}): {dict(value)!r:.200}") from None
                object.__setattr__(self, name, typed)

    @property
    def run_config(self) -> RunConfig:
        """The run's settings as a :class:`RunConfig`: what :attr:`config` lacks (results saved before a
        setting existed) takes its default, and settings no longer known are left out.

        >>> fake = LCAResult.__new__(LCAResult)
        >>> object.__setattr__(fake, "config", {"task": "upos", "seed": 3, "retired_setting": 1})
        >>> fake.run_config.seed, fake.run_config.top_fraction
        (3, 0.2)
        """
        known = {f.name for f in fields(RunConfig)}
        return RunConfig.from_dict({k: v for k, v in (self.config or {}).items() if k in known})

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _ARRAYS}
        return json.loads(json.dumps(out, default=_plain))

    @classmethod
    def from_dict(cls, data: dict, weights: np.ndarray | None = None,
                  intercept: np.ndarray | None = None) -> "LCAResult":
        known = {f.name for f in fields(cls)} - set(_ARRAYS)
        missing = sorted(known - set(data) - set(_OPTIONAL))
        if missing:
            raise InputError(f"result is missing {missing}")
        values = {k: data[k] for k in known if k in data}
        for name in ("tags", "grid", "ranking", "layer_histogram", "curve", "ablation_random_draws", "training_curve"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values, weights=weights, intercept=intercept)


SECTIONS = {"lambdas": Lambdas, "ablation": Ablation, "retrain": Retrain, "minimal": Minimal, "selectivity": Selectivity,
            "probeless": Probeless, "activation_keys": ActivationKeys, "seeds": Seeds, "screen": Screen}
_ARRAYS = ("weights", "intercept")  # saved as .npy files beside result.json
_OPTIONAL = ("curve", "ablation_random_draws", "training_curve", "seeds", "dropped_unseen", "site",
             "screen")  # absent from older results


def _plain(value):
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, tuple, set)):
        return list(value.tolist() if isinstance(value, np.ndarray) else value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def save_result(result: LCAResult, out_dir) -> Path:
    """Write ``result.json``, ``weights.npy``, ``intercept.npy`` and ``activations.json`` (the cache keys)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "result.json", result.to_dict())
    for name in _ARRAYS:
        if getattr(result, name) is not None:
            np.save(out / f"{name}.npy", np.asarray(getattr(result, name), dtype=np.float32))
    (out / "activations.json").write_text(json.dumps(result.activation_keys.to_dict(), indent=1))
    return out / "result.json"


def load_result(run_dir) -> LCAResult:
    """Read a run folder written by :func:`save_result` (plain JSON and ``.npy``: nothing is unpickled)."""
    run_dir = Path(run_dir)
    path = run_dir / "result.json" if run_dir.is_dir() else run_dir
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable result.json ({err})") from None
    arrays = {name: np.load(path.parent / f"{name}.npy", allow_pickle=False)
              for name in _ARRAYS if (path.parent / f"{name}.npy").is_file()}
    return LCAResult.from_dict(data, **arrays)
