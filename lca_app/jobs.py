"""Background runs and fine-tunes, on the one server-wide job queue (:mod:`lca.scale.jobs`).

A few jobs run at a time, each in its own process, the rest wait in order; a session that starts a job
identical to a queued or running one follows that job instead of computing again.  The page polls the
job's progress, and a cancel raises from the progress callback in that process.  Every run carries its
stages' sizes, so the queue's history of finished runs (kept in the cache folder) estimates its time.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from lca._validation import InputError
from lca.data.corpus import Corpus
from lca.scale.estimate import StageHistory, StageTime, run_profiles, run_sizes, stage_times, total_left
from lca.scale.job_targets import execute_finetune, execute_run
from lca.runs.memory import PROCESS_BYTES
from lca.scale.jobs import Job, JobQueue
from lca.runs.result import RunConfig
from lca.runs.store import RunStore, run_id
from lca.store.cache import default_cache_dir

from .cached import load_run, load_test_corpus, load_train_corpus, store
from .session import open_run

STAGE_TITLES = {"load": "Load the model", "extract": "Extract activations", "grid": "Grid search over λ1, λ2",
                "minimal": "Minimal neuron subset", "ablation": "Zero-out ablation", "probeless": "Probeless ranking",
                "retrain": "Retrain on subsets and on the control task",
                "selectivity": "Selectivity"}

# the server's one queue (tests swap it: read it as ``jobs.JOBS``, not a copy); its stage times outlive a restart
JOBS = JobQueue(history=StageHistory(lambda: default_cache_dir() / "jobs" / "stage_history.json"))


def stage_title(stage: str, config: RunConfig | None = None) -> str:
    """What a stage of a run does, as the progress panels name it; the grid stage says how ``config`` sets λ."""
    if stage == "grid" and config is not None:
        if config.lambdas is not None:
            l1, l2 = config.lambdas
            return f"Train the oracle at the fixed pair λ1 = {l1:g}, λ2 = {l2:g} (no search)"
        if config.mode == "quick":
            return "Quick search over λ1, λ2"
        return f"Grid search over λ1, λ2 ({len(config.grid)} × {len(config.grid)} pairs)"
    return STAGE_TITLES.get(stage, stage)


@dataclass(frozen=True)
class SessionJob:
    """A queued or running job as one session sees it."""

    token: str
    job: Job

    rid = property(lambda self: self.job.key)
    config = property(lambda self: self.job.info.get("config"))
    meta = property(lambda self: self.job.info.get("meta"))
    value = property(lambda self: self.job.value)
    stages = property(lambda self: self.job.stages)
    stage = property(lambda self: self.job.stage)
    error = property(lambda self: self.job.error)
    started = property(lambda self: self.job.started or self.job.submitted)
    finished = property(lambda self: self.job.finished)
    status = property(lambda self: JOBS.status_for(self.token, self.job))
    running = property(lambda self: self.status in ("queued", "running"))
    position = property(lambda self: JOBS.position(self.job))
    wait_estimate = property(lambda self: JOBS.wait_estimate(self.job))
    others = property(lambda self: len(self.job.watchers) - (self.token in self.job.watchers))

    def title(self, stage: str) -> str:
        return stage_title(stage, self.config if isinstance(self.config, RunConfig) else None)

    @property
    def times(self) -> list[StageTime]:
        """Every stage of the run: done, running or waiting, with its time left (see :mod:`lca.scale.estimate`)."""
        from lca.runs.pipeline import STAGES

        info = self.job.info
        expected = JOBS.history.expected(info.get("sizes") or {}, info.get("profiles") or {})
        return stage_times(STAGES, self.job.stages, self.job.stage, self.job.stage_clock(), expected)

    @property
    def seen(self) -> bool:
        return self.rid in st.session_state.setdefault("_lca_seen_runs", set())

    def mark_seen(self) -> None:
        st.session_state.setdefault("_lca_seen_runs", set()).add(self.rid)

    def cancel(self) -> None:
        JOBS.detach(self.token, self.job.kind)


def job_for(token: str, kind: str = "run") -> SessionJob | None:
    """The session's job of ``kind`` (``"run"`` or ``"finetune"``), running or last finished, if any."""
    job = JOBS.job_for(token, kind)
    return None if job is None else SessionJob(token, job)


@st.cache_data(show_spinner=False, max_entries=32, ttl=3600)
def _model_shape(model: str | None, revision: str | None, trust_remote_code: bool):
    """The model's shape from its config file (None: unreadable), once per model: the Run page asks on every rerun."""
    from lca.runs.memory import shape_of_model

    return shape_of_model(RunConfig(model=model, revision=revision, trust_remote_code=trust_remote_code))


def _run_plan(config: RunConfig, train: Corpus, test: Corpus, shape=False) -> tuple[int, dict, dict]:
    """``(memory, sizes, profiles)`` of a run: the resident bytes its process is expected to need (the
    queue's memory admission), and its stages' sizes and profiles (:func:`lca.scale.estimate.run_sizes`);
    ``shape`` the model's, when known."""
    from lca.data.corpus import task_examples
    from lca.runs.memory import process_bytes, shape_of_model

    shape = shape_of_model(config) if shape is False else shape
    tags = len({t for column in train.columns.values() for s in column for t in s}) or 50  # every column's: an upper bound
    memory = process_bytes(config, shape, train.n_words + test.n_words, tags)
    try:
        examples, held_out = task_examples(train, config.task), task_examples(test, config.task)
    except (InputError, KeyError, ValueError):  # the run itself says what is wrong
        return memory, {}, {}
    neurons = None
    if shape is not None:
        layout = shape.layout(config.site)
        per_layer = min(config.screen or layout.layer_size, layout.layer_size)
        neurons = per_layer * (len(config.layers) if config.layers else layout.n_layers)
        neurons *= 2 if examples.rows.ndim == 2 else 1
    sizes = run_sizes(config, len(examples), len(held_out), len(set(examples.labels)),
                      shape.n_params if shape is not None else None, neurons)
    return memory, sizes, run_profiles(config)


def extraction_rate(config: RunConfig) -> float | None:
    """Seconds to extract one word with ``config``'s model on this server: the queue's rate for the
    extraction stage (per word and parameter) times the model's parameters; None before a run extracted."""
    rate = JOBS.history.rate("extract", run_profiles(config)["extract"])
    try:
        shape = _model_shape(config.model, config.revision, config.trust_remote_code)
    except InputError:
        return None
    return None if rate is None or shape is None else rate * shape.n_params


def estimate_run(config: RunConfig, train: Corpus, test: Corpus) -> float | None:
    """Seconds the run of ``config`` on these corpora is expected to take on this server (the queue's history
    of finished runs); None until runs of its kind have finished here."""
    if not len(JOBS.history):
        return None
    try:
        shape = _model_shape(config.model, config.revision, config.trust_remote_code)
    except InputError:  # pressing Run says what is wrong with the model
        return None
    _, sizes, profiles = _run_plan(config, train, test, shape)
    if not sizes:
        return None
    expected = JOBS.history.expected(sizes, profiles)
    return None if any(v is None for v in expected.values()) else float(sum(expected.values()))


def start_job(token: str, train: Corpus, test: Corpus, config: RunConfig, meta: dict) -> SessionJob:
    """Queue the run (one at a time per session), or follow the identical run another session queued."""
    rid = run_id(config, train, test)
    current = job_for(token)
    if current is not None and current.running and current.rid != rid:
        raise InputError("a run is already in progress in this session: wait for it or cancel it")
    root = str(store().root)

    def give_to_watchers(job: Job) -> None:  # in the queue's thread: no Streamlit calls here
        runs = RunStore(root)
        for watcher in job.watchers:
            runs.claim(watcher, job.key)
        try:  # activations read from the cache say nothing about the extraction's rate
            reused = runs.load(job.key).activation_keys.reused
            if reused and all(reused) and job.info.get("sizes"):
                job.info["sizes"] = {**job.info["sizes"], "extract": 0.0}
        except Exception:  # noqa: BLE001 - an estimate is not worth failing the run for
            pass

    memory, sizes, profiles = _run_plan(config, train, test)
    job = JOBS.submit(token, rid, "run", execute_run, (rid, train, test, config, meta, root), memory=memory,
                      info={"config": config, "meta": meta, "sizes": sizes, "profiles": profiles},
                      on_done=give_to_watchers)
    return SessionJob(token, job)


def start_finetune(token: str, config, out: Path) -> SessionJob:
    """Queue a fine-tune into ``out`` (one at a time per session; the same settings and folder attach)."""
    current = job_for(token, "finetune")
    key = "finetune:" + hashlib.sha256(json.dumps([config.to_dict(), str(out)], sort_keys=True).encode()).hexdigest()[:16]
    if current is not None and current.running and current.rid != key:
        raise InputError("a fine-tune is already in progress in this session: wait for it or cancel it")
    job = JOBS.submit(token, key, "finetune", execute_finetune, (config.to_dict(), str(out)),
                      memory=2 * PROCESS_BYTES, info={"config": config, "out": str(out)})
    return SessionJob(token, job)


def launch(token: str, train: Corpus, test: Corpus, config: RunConfig, meta: dict) -> tuple[str, SessionJob | None]:
    """The run of ``config`` on these corpora: ``(run id, None)`` when an identical run is in the
    store (reopened, and now owned by the session), else ``(run id, job)`` started in the background."""
    rid, runs = run_id(config, train, test), store()
    if runs.exists(rid):
        runs.claim(token, rid)
        open_run(rid)
        return rid, None
    return rid, start_job(token, train, test, config, meta)


def grid_run(rid: str) -> str:
    """The run whose grid search stands behind ``rid``: its parent when ``rid`` was recomputed at a
    λ pair picked from that grid (and the parent is still stored), else ``rid`` itself."""
    parent = store().meta(rid).get("parent")
    try:
        return parent if parent and store().exists(parent) else rid
    except InputError:  # a malformed id in meta.json
        return rid


def _at_pair(rid: str, l1: float, l2: float) -> RunConfig:
    return dataclasses.replace(RunConfig.from_dict(load_run(rid).config), lambdas=(l1, l2))


def estimate_recompute(rid: str, l1: float, l2: float) -> float | None:
    """Seconds :func:`recompute_at` is expected to take on this server (see :func:`estimate_run`)."""
    if not len(JOBS.history) or not store().has_train_corpus(rid):
        return None
    return estimate_run(_at_pair(rid, l1, l2), load_train_corpus(rid), load_test_corpus(rid))


def recompute_at(token: str, rid: str, l1: float, l2: float) -> tuple[str, SessionJob | None]:
    """Run ``rid`` again, same config and data, with the oracle trained at ``(l1, l2)`` instead of
    the grid search's choice (see :func:`launch`); the new run's meta names the run whose grid the
    pair came from as ``parent``.  The pair that search chose reopens the searched run itself."""
    owner = grid_run(rid)
    searched = load_run(owner)
    if searched.config.get("lambdas") is None and (searched.lambdas.l1, searched.lambdas.l2) == (l1, l2):
        store().claim(token, owner)
        open_run(owner)
        return owner, None
    config = _at_pair(rid, l1, l2)
    meta = {k: v for k, v in store().meta(rid).items() if k in ("dataset", "train", "test", "model_label")}
    return launch(token, load_train_corpus(rid), load_test_corpus(rid), config,
                  {**meta, "config": config.to_dict(), "parent": owner})
