"""What a sweep runs: a TOML spec, expanded into the product of its axes less its exclusions.

A spec (``python -m lca sweep SPEC.toml``)::

    cache_dir = "/shared/lca-cache"        # the activation cache every worker sees (default $LCA_CACHE_DIR)

    [axes]                                 # the sweep is the product of these lists
    data = ["demo"]                        # registered datasets, or names under [data.files]
    task = ["xpos", "upos"]
    seed = [0, 1]
    aggregation = ["first", "last"]        # ... any RunConfig field: model, site, layers, mode, ...

    [settings]                             # RunConfig fields shared by every run
    mode = "quick"
    lambdas = [0.001, 0.0]

    [[exclude]]                            # drop each combination matching every key of one entry
    task = "upos"
    aggregation = "first"

    [data]
    max_sentences = 200                    # seeded sample of the training sentences (``seed`` below)
    seed = 0                               # fixed across runs, so the seed axis varies the probes only
    [data.files.ewt]
    train = "/data/en_ewt-ud-train.conllu"
    test = "/data/en_ewt-ud-test.conllu"
    format = "conllu"                      # options = { word_column = 0 } for the columns format

    [resources]                            # per run
    cpus = 1
    gpus = 0                               # default: 1 when the run's device is cuda (or auto on a GPU cluster)
    memory_gb = 2                          # default: the run's memory model (lca.runs.memory.process_bytes)
    extract_workers = 1                    # split each (model, corpus) extraction across this many workers

Axes and settings take any :class:`~lca.runs.result.RunConfig` field (read from
``dataclasses.fields``), so fields added to it later work here unchanged.
"""
from __future__ import annotations

import dataclasses
import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .._validation import InputError
from ..runs.result import RunConfig

__all__ = ["SweepSpec", "SweepRun", "load_spec", "expand", "config_fields"]

_TOP = ("cache_dir", "out", "axes", "settings", "exclude", "data", "resources")
_DATA = ("max_sentences", "seed", "data_dir", "files")
_FILE = ("train", "test", "format", "options")  # options: passed to lca.data.formats.read_corpus
_RESOURCES = ("cpus", "gpus", "memory_gb", "extract_workers")


def config_fields() -> tuple[str, ...]:
    """The RunConfig fields a spec may set, whatever RunConfig holds today."""
    return tuple(f.name for f in dataclasses.fields(RunConfig))


def _unknown(where: str, given, known) -> None:
    extra = sorted(set(given) - set(known))
    if extra:
        raise InputError(f"{where}: unknown keys {extra}; known: {sorted(known)}")


@dataclass(frozen=True)
class SweepSpec:
    """A sweep: axes (name → values), shared settings, exclusions, data and per-run resources.

    >>> s = SweepSpec(axes={"data": ("demo",), "task": ("xpos", "upos")}, settings={"mode": "quick"})
    >>> [r.label for r in expand(s)]
    ['demo · xpos', 'demo · upos']
    """

    axes: dict = field(default_factory=lambda: {"data": ("demo",)})
    settings: dict = field(default_factory=dict)
    exclude: tuple = ()
    cache_dir: str | None = None
    out: str | None = None
    max_sentences: int | None = None
    data_seed: int = 0
    data_dir: str | None = None
    files: dict = field(default_factory=dict)  # name → {train, test, format, options}
    cpus: float = 1
    gpus: float | None = None  # None: 1 for cuda runs (and auto runs on a cluster with GPUs), else 0
    memory_gb: float | None = None  # None: the memory model
    extract_workers: int = 1
    source: str = "spec"  # the file it came from, for messages

    def __post_init__(self):
        where = self.source
        known = config_fields()
        _unknown(f"{where} [axes]", [k for k in self.axes if k != "data"], known)
        _unknown(f"{where} [settings]", self.settings, known)
        both = sorted(set(self.axes) & set(self.settings))
        if both:
            raise InputError(f"{where}: {both} are both an axis and a setting; keep each in one place")
        axes = {"data": ("demo",)}  # data first: the labels read "demo · xpos · ..."
        for name, values in self.axes.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise InputError(f"{where} [axes] {name}: give a non-empty list of values; got {values!r}")
            axes[name] = tuple(tuple(v) if isinstance(v, list) else v for v in values)
        object.__setattr__(self, "axes", axes)
        for i, rule in enumerate(self.exclude):
            if not isinstance(rule, dict) or not rule:
                raise InputError(f"{where} [[exclude]] #{i + 1}: give a table of axis = value; got {rule!r}")
            _unknown(f"{where} [[exclude]] #{i + 1}", rule, axes)
        object.__setattr__(self, "exclude", tuple(self.exclude))
        for name, entry in self.files.items():
            if not isinstance(entry, dict) or not {"train", "test"} <= set(entry):
                raise InputError(f"{where} [data.files.{name}]: give train = FILE and test = FILE")
            _unknown(f"{where} [data.files.{name}]", entry, _FILE)
        if self.max_sentences is not None and (not isinstance(self.max_sentences, int) or self.max_sentences < 2):
            raise InputError(f"{where} [data] max_sentences must be an integer >= 2; got {self.max_sentences!r}")
        if not isinstance(self.extract_workers, int) or self.extract_workers < 1:
            raise InputError(f"{where} [resources] extract_workers must be an integer >= 1; "
                             f"got {self.extract_workers!r}")
        for name in ("cpus", "gpus", "memory_gb"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise InputError(f"{where} [resources] {name} must be a number >= 0; got {value!r}")
        expand(self)  # every run's RunConfig is validated now, before anything starts

    @classmethod
    def from_dict(cls, data: dict, source: str = "spec") -> "SweepSpec":
        _unknown(source, data, _TOP)
        section = lambda name: data.get(name) or {}  # noqa: E731
        _unknown(f"{source} [data]", section("data"), _DATA)
        _unknown(f"{source} [resources]", section("resources"), _RESOURCES)
        d, r = section("data"), section("resources")
        return cls(axes=dict(section("axes")), settings=dict(section("settings")),
                   exclude=tuple(data.get("exclude", ())),
                   cache_dir=data.get("cache_dir"), out=data.get("out"), max_sentences=d.get("max_sentences"),
                   data_seed=d.get("seed", 0), data_dir=d.get("data_dir"), files=dict(d.get("files", {})),
                   cpus=r.get("cpus", 1), gpus=r.get("gpus"), memory_gb=r.get("memory_gb"),
                   extract_workers=r.get("extract_workers", 1), source=source)

    def to_dict(self) -> dict:
        """The spec as TOML-shaped data (written to ``sweep.json``)."""
        return {"cache_dir": self.cache_dir, "axes": {k: [list(v) if isinstance(v, tuple) else v for v in vs]
                                                      for k, vs in self.axes.items()},
                "settings": self.settings, "exclude": list(self.exclude),
                "data": {"max_sentences": self.max_sentences, "seed": self.data_seed, "data_dir": self.data_dir,
                         "files": self.files},
                "resources": {"cpus": self.cpus, "gpus": self.gpus, "memory_gb": self.memory_gb,
                              "extract_workers": self.extract_workers}}


@dataclass(frozen=True)
class SweepRun:
    """One point of the sweep: its axis values, its data name and its validated RunConfig."""

    label: str
    data: str
    values: dict  # axis name → value, in axis order
    config: RunConfig


def _excluded(values: dict, rules) -> bool:
    plain = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731 - TOML gives lists, axes hold tuples
    return any(all(plain(values[k]) == plain(v) for k, v in rule.items()) for rule in rules)


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return Path(value).name if isinstance(value, str) and "/" in value else str(value)


def expand(spec: SweepSpec) -> list[SweepRun]:
    """Every run of the sweep, in axis order (the last axis varies fastest), exclusions dropped."""
    names = list(spec.axes)
    varying = [n for n in names if len(spec.axes[n]) > 1 or n == "data"]
    runs = []
    for combo in itertools.product(*(spec.axes[n] for n in names)):
        values = dict(zip(names, combo))
        if _excluded(values, spec.exclude):
            continue
        settings = {**spec.settings, **{k: v for k, v in values.items() if k != "data"}}
        try:
            config = RunConfig.from_dict({k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()})
        except (InputError, TypeError) as err:
            raise InputError(f"{spec.source}: run {values}: {err}") from None
        label = " · ".join(f"{'seed ' if n == 'seed' else ''}{_show(values[n])}" for n in varying)
        runs.append(SweepRun(label, values["data"], values, config))
    if not runs:
        raise InputError(f"{spec.source}: the exclusions leave no run")
    return runs


def load_spec(path) -> SweepSpec:
    """Read and validate a sweep spec (TOML); errors name the file and the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"cannot read the sweep spec {path}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: not valid TOML: {err}") from None
    spec = SweepSpec.from_dict(data, source=str(path))
    # Relative file paths are relative to the spec, so a spec moves with its data.
    base = path.resolve().parent
    files = {name: {k: (str(base / v) if k in ("train", "test") and not Path(v).is_absolute() and "," not in v
                        else v) for k, v in entry.items()} for name, entry in spec.files.items()}
    return dataclasses.replace(spec, files=files)
