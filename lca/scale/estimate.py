"""How long a job will take on this server, and how far each of its stages has come.

The job queue (:mod:`.jobs`) times every stage of the jobs that finish (the time between progress
messages is the current stage's) and keeps the last ones in a :class:`StageHistory`, with each
stage's *size*, its units of work (:func:`run_sizes`: words × parameters for the extraction, words ×
neurons × tags × probes for a probe stage).  A stage's rate is the median of seconds ÷ size over the
finished jobs that ran the stage the same way (its *profile*, :func:`run_profiles`: any run loads and
extracts alike; probes depend on the search mode and solver, the grid stage also on a fixed λ pair),
and a new job's stage is expected to take its size × that rate.  Nothing is assumed before a job of
that profile has finished here: the estimate is then None, and said to be missing.

While a stage runs, its own progress is the better guide: once it reports a fraction f, the rest is
expected to take elapsed × (1 − f) / f.  A stage that reports nothing between its start and its end
moves with time instead: elapsed ÷ expected, short of 1, marked as an estimate (:func:`stage_times`).
"""
from __future__ import annotations

import json
import statistics
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

__all__ = ["StageHistory", "StageTime", "run_sizes", "run_profiles", "stage_times", "format_duration", "total_left"]

_MEASURED_FROM = 0.05  # a stage's own fraction is trusted from here on
_BY_TIME_CAP = 0.95  # a bar that moves by time alone stops short of done


def format_duration(seconds: float, rough: bool = False) -> str:
    """Seconds up to 90, then minutes (with seconds below 10 min), then hours; ``rough`` for estimates.

    >>> [format_duration(s) for s in (42, 97, 5829, 9000)]
    ['42 s', '1 min 37 s', '97 min', '2 h 30 min']
    >>> format_duration(97, rough=True), format_duration(33, rough=True)
    ('2 min', '35 s')
    """
    s = max(0.0, float(seconds))
    if s < 90:
        return f"{5 * max(1, round(s / 5)) if rough else round(s)} s"
    if s < 600 and not rough:
        return f"{int(s // 60)} min {round(s % 60)} s"
    if s < 7200:
        return f"{round(s / 60)} min"
    return f"{int(s // 3600)} h {round(s % 3600 / 60)} min"


def run_profiles(config) -> dict[str, str]:
    """What each stage's rate depends on besides its size: nothing for loading and extraction; the search
    mode and solver for the probe stages; and a fixed λ pair (no search) for the grid stage.

    >>> from lca.runs.result import RunConfig
    >>> p = run_profiles(RunConfig(mode="paper"))
    >>> p["extract"], p["minimal"], p["grid"], run_profiles(RunConfig(mode="paper", lambdas=(0.1, 0.0)))["grid"]
    ('any', 'paper/adam', 'paper/adam', 'paper/adam/fixed')
    """
    probes = f"{config.mode}/{config.training().get('solver', 'adam')}"
    stages = ("grid", "minimal", "ablation", "probeless", "retrain", "selectivity")
    return {"load": "any", "extract": "any", **{s: probes for s in stages},
            "grid": probes + ("/fixed" if config.lambdas is not None else "")}


def run_sizes(config, n_train_words: int, n_test_words: int, n_tags: int, n_params: int | None,
              n_neurons: int | None) -> dict[str, float]:
    """Units of work of each stage of a run (:data:`lca.runs.pipeline.STAGES`), for :class:`StageHistory`.

    ``n_neurons``: neurons analysed (after ``layers`` or ``screen``); ``n_params``: the model's parameters.
    Either may be None (an unreadable model): the stages that need it get no size, so no estimate.
    Probe stages scale with the probes they train (the grid's pairs; Adam's epochs) and the seeds.

    >>> from lca.runs.result import RunConfig
    >>> s = run_sizes(RunConfig(mode="paper"), 1000, 200, 10, 10**6, 100)
    >>> s["extract"], s["grid"] == 49 * s["minimal"]
    (1200000000.0, True)
    """
    seeds = config.seeds
    words = n_train_words + n_test_words
    sizes: dict[str, float] = {"load": float(n_params or 0)}
    sizes["extract"] = float(words) * (n_params or 0)
    if n_neurons is None:
        return {k: v for k, v in sizes.items() if v}
    grid = len(config.grid) ** 2 if config.mode == "paper" else 2 * len(config.grid) + 3
    probes = 2 if config.lambdas is not None else grid
    steps = config.epochs if config.training().get("solver", "adam") == "adam" else 1
    unit = float(n_train_words) * n_neurons * max(1, n_tags) * steps * seeds
    sizes.update(grid=unit * probes, minimal=unit, ablation=float(n_test_words) * n_neurons * max(1, n_tags) * seeds,
                 probeless=float(n_train_words) * n_neurons * seeds, retrain=unit * (config.random_draws + 3),
                 selectivity=float(n_test_words) * n_neurons * max(1, n_tags) * seeds)
    return {k: v for k, v in sizes.items() if v}


class StageHistory:
    """Seconds per stage of the last ``keep`` finished jobs, with their sizes; thread-safe.

    ``path`` (a file, or a callable giving one, read when first needed) keeps it across server
    restarts; None keeps it in memory only.

    >>> h = StageHistory()
    >>> h.add({"grid": "quick/exact", "load": "any"}, {"grid": 100.0, "load": 5.0}, {"grid": 20.0, "load": 1.0})
    >>> h.expected({"grid": 300.0, "minimal": 10.0}, {"grid": "quick/exact", "minimal": "quick/exact"})
    {'grid': 60.0, 'minimal': None}
    >>> h.expected({"grid": 300.0}, {"grid": "paper/adam"})
    {'grid': None}
    """

    def __init__(self, path: Path | Callable[[], Path] | None = None, keep: int = 50):
        self._path, self.keep = path, keep
        self._records: list[dict] | None = None if path is not None else []
        self._lock = threading.Lock()

    def _file(self) -> Path | None:
        return None if self._path is None else Path(self._path() if callable(self._path) else self._path)

    def _loaded(self) -> list[dict]:
        if self._records is None:
            try:
                data = json.loads(self._file().read_text(encoding="utf-8"))
                self._records = [r for r in data if isinstance(r, dict)][-self.keep:]
            except (OSError, ValueError, TypeError):  # none yet, or unreadable: start afresh
                self._records = []
        return self._records

    def add(self, profiles: Mapping[str, str], sizes: Mapping[str, float], seconds: Mapping[str, float]) -> None:
        """Record a finished job: ``seconds`` per stage it ran, with each stage's profile and size
        (:func:`run_profiles`, :func:`run_sizes`); a stage of size 0 (e.g. activations read from the
        cache) sets no rate."""
        record = {"profiles": dict(profiles), "sizes": {k: float(v) for k, v in sizes.items()},
                  "seconds": {k: round(float(v), 3) for k, v in seconds.items()}}
        with self._lock:
            records = (self._loaded() + [record])[-self.keep:]
            self._records = records
            path = self._file()
        if path is not None:
            from ..store.atomic import write_json_atomic

            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(path, records)
            except OSError:  # an estimate is not worth failing a job for
                pass

    def __len__(self) -> int:
        with self._lock:
            return len(self._loaded())

    def rate(self, stage: str, profile: str) -> float | None:
        """Median seconds per unit of ``stage`` over the recorded jobs that ran it as ``profile``; None without
        any.  A fixed λ pair's grid stage (``…/fixed``) borrows its search's rate per probe until one has run."""
        with self._lock:
            rates = [r["seconds"][stage] / r["sizes"][stage] for r in self._loaded()
                     if (r.get("profiles") or {}).get(stage) == profile and stage in r.get("seconds", {})
                     and r.get("sizes", {}).get(stage, 0) > 0]
        if not rates and profile.endswith("/fixed"):
            return self.rate(stage, profile.removesuffix("/fixed"))
        return statistics.median(rates) if rates else None

    def expected(self, sizes: Mapping[str, float], profiles: Mapping[str, str]) -> dict[str, float | None]:
        """Expected seconds of each stage of ``sizes``; None where no finished job ran it with its profile."""
        out = {}
        for stage, size in sizes.items():
            rate = self.rate(stage, profiles.get(stage, "any"))
            out[stage] = None if rate is None else rate * size
        return out


@dataclass(frozen=True)
class StageTime:
    """One stage of a job as the progress panel shows it.

    ``state``: ``"done"``, ``"running"`` or ``"waiting"``; ``fraction``: how full its bar is;
    ``seconds``: time spent in it so far; ``left``: seconds it is expected to still take (None: no
    basis); ``basis``: ``"measured"`` (its own progress), ``"history"`` (earlier jobs here) or None;
    ``by_time``: the bar moves with time because the stage reports no progress of its own.
    """

    stage: str
    state: str
    fraction: float
    seconds: float
    left: float | None
    basis: str | None
    by_time: bool = False


def stage_times(stages: Sequence[str], fractions: Mapping[str, float], current: str | None,
                seconds: Mapping[str, float], expected: Mapping[str, float | None]) -> list[StageTime]:
    """Each of ``stages`` in order: done (fraction 1), the ``current`` one, the rest waiting.

    ``fractions``: reported progress per stage; ``seconds``: time spent in each so far; ``expected``:
    :meth:`StageHistory.expected` (a stage missing or None has no estimate from earlier jobs).

    >>> rows = stage_times(["a", "b", "c"], {"a": 1.0, "b": 0.25}, "b", {"a": 4.0, "b": 10.0}, {"c": 7.0})
    >>> [(r.state, r.left, r.basis) for r in rows]
    [('done', 0.0, 'measured'), ('running', 30.0, 'measured'), ('waiting', 7.0, 'history')]
    >>> stage_times(["x"], {"x": 0.0}, "x", {"x": 30.0}, {"x": 60.0})[0].fraction
    0.5
    """
    out = []
    for stage in stages:
        f, spent, guess = float(fractions.get(stage, 0.0)), float(seconds.get(stage, 0.0)), expected.get(stage)
        if f >= 1:
            out.append(StageTime(stage, "done", 1.0, spent, 0.0, "measured"))
        elif stage != current:
            out.append(StageTime(stage, "waiting", f, spent, guess, None if guess is None else "history"))
        elif f >= _MEASURED_FROM and spent > 0:
            out.append(StageTime(stage, "running", f, spent, spent * (1 - f) / f, "measured"))
        elif guess:
            out.append(StageTime(stage, "running", max(f, min(_BY_TIME_CAP, spent / guess)), spent,
                                 max(0.0, guess - spent), "history", by_time=f < _MEASURED_FROM))
        else:
            out.append(StageTime(stage, "running", f, spent, None, None))
    return out


def total_left(rows: Sequence[StageTime]) -> float | None:
    """Seconds the stages not done are expected to take in all; None when any of them has no estimate."""
    lefts = [r.left for r in rows if r.state != "done"]
    return None if any(v is None for v in lefts) else float(sum(lefts))
