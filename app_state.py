"""The app's side of ``lca``: cached loaders, the session token, background runs and small widgets.

Only this module and the pages import streamlit.  The model is cached as a resource
(shared by every session, read-only); results, corpora and activations as data.
Runs go through the server-wide job queue (:data:`JOBS`, :mod:`lca.jobs`), each in its own process;
the page polls the job's progress, and a cancel raises from the progress callback in that process.
"""
from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
# transformers resolves its names lazily on first use, and two sessions doing that at once raced
# ("cannot import name 'AutoConfig' from 'transformers'"): resolve them here, under the import lock.
from transformers import AutoConfig, AutoModel, AutoTokenizer  # noqa: F401
from streamlit.runtime.pages_manager import PagesManager

from lca import explore, viz
from lca._validation import InputError
from lca.cache import ActivationCache, default_cache_dir
from lca.data import Corpus
from lca.datasets import load_dataset, sample_sentences
from lca.extract import load_model
from lca.formats import read_corpus
from lca.neurons import neuron_label
from lca.pipeline import STAGES, corpus_activations
from lca.result import LCAResult, RunConfig
from lca.job_targets import execute_finetune, execute_run
from lca.jobs import BASE_PROCESS_BYTES, Job, JobQueue
from lca.runs import RunStore, check_token, new_token, run_id


# app.py lists the pages with st.navigation.  Until a first st.navigation call, Streamlit treats a
# folder named pages/ as old-style auto-discovered pages and would run a page requested by URL
# (a permalink on a fresh server) without app.py; this turns that off for the whole process.
PagesManager.uses_pages_directory = False
_ENTRY = threading.local()  # .ran is True while app.py runs the current page

STAGE_TITLES = {"load": "Load the model", "extract": "Extract activations", "grid": "Grid search over λ1, λ2",
                "minimal": "Minimal neuron subset", "ablation": "Zero-out ablation", "probeless": "Probeless ranking",
                "retrain": "Retrain on subsets and on the control task",
                "selectivity": "Selectivity"}


# ---------------------------------------------------------------------------------------------------------------
# Cached loaders
@st.cache_resource(show_spinner=False, max_entries=3)
def get_model(name: str | None, device: str = "auto", revision: str | None = None):
    """The model and tokenizer, loaded once per process and shared (read-only) by every session."""
    return load_model(name, device, revision)


def store() -> RunStore:
    return RunStore(default_cache_dir() / "runs")


@st.cache_data(show_spinner=False, max_entries=32)
def load_run(rid: str) -> LCAResult:
    return store().load(rid)


@st.cache_data(show_spinner=False, max_entries=32)
def load_test_corpus(rid: str) -> Corpus:
    return store().load_test_corpus(rid)


@st.cache_data(show_spinner=False, max_entries=4)
def load_train_corpus(rid: str) -> Corpus:
    return store().load_train_corpus(rid)


@st.cache_data(show_spinner=False, max_entries=4)
def test_activations(rid: str) -> np.ndarray:
    """``(n_test_words, D)`` activations of the run's test corpus, from the disk cache (recomputed if evicted)."""
    result = load_run(rid)
    keys = result.activation_keys
    cache = ActivationCache(keys.get("cache_dir") or None)
    acts = cache.get(keys["test"])
    if acts is None:
        cfg = result.config
        loaded = get_model(cfg.get("model"), cfg.get("device", "auto"), cfg.get("revision"))
        held = result.activation_keys.get("columns")  # --layers / --screen: the matrices hold only those neurons
        acts, _, _ = corpus_activations(loaded, load_test_corpus(rid), cfg.get("aggregation", "last"), cache,
                                        site=result.site, columns=None if held is None else np.asarray(held))
    return np.asarray(acts)


def neuron_column(result: LCAResult, flat: int, n_columns: int) -> int:
    """The column of ``flat`` in the run's test activations (with --layers or --screen they hold only the
    neurons analysed)."""
    held = result.activation_keys.get("columns")
    if held is None:
        return explore.neuron_column(flat, n_columns)
    within = int(flat) % (result.n_layers * result.layer_size)
    index = int(np.searchsorted(held, within))
    if index >= len(held) or held[index] != within:
        why = (f"was screened out (the run kept {result.screen['per_layer']} neurons per layer)" if result.screen
               else "is in a layer the run did not analyse")
        raise InputError(f"neuron {neuron_name(result, flat)} {why}")
    return index


@st.cache_data(show_spinner=False, max_entries=8)
def test_word_tags(rid: str) -> list[str]:
    return explore.word_tags(load_test_corpus(rid), load_run(rid).task)


def _holdout(corpus: Corpus, fraction: float = 0.2, seed: int = 0) -> tuple[Corpus, Corpus]:
    """Split a corpus by sentences: ``fraction`` of them (at least one) for testing."""
    n = len(corpus.sentences)
    if n < 3:
        raise InputError(f"{corpus.name} has {n} sentences: at least 3 are needed to hold out a test part; "
                         "upload a test file too")
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(fraction * n)))
    test, train = sorted(order[:n_test].tolist()), sorted(order[n_test:].tolist())
    return corpus.subset(train), corpus.subset(test)


@st.cache_data(show_spinner=False, max_entries=16)
def dataset(name: str, split: str, max_sentences: int | None = None, seed: int = 0) -> Corpus:
    """A registry dataset's split, sampled down to ``max_sentences`` sentences."""
    corpus = load_dataset(name, split)
    return sample_sentences(corpus, max_sentences, seed) if max_sentences else corpus


@st.cache_data(show_spinner=False, max_entries=8)
def dataset_holdout(name: str, split: str, max_train: int, max_test: int) -> tuple[Corpus, Corpus]:
    """A dataset with a single split: 80 % of its sentences train, 20 % test."""
    train, test = _holdout(load_dataset(name, split))
    return sample_sentences(train, max_train), sample_sentences(test, max_test)


def _read_files(files: tuple[tuple[str, bytes], ...], fmt: str, options: tuple) -> Corpus:
    opts = {k: (dict(v) if k == "label_columns" else v) for k, v in options}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, data in files:
            path = Path(tmp) / Path(name).name
            path.write_bytes(data)
            paths.append(str(path))
        try:
            return read_corpus(paths if fmt == "neurox" else paths[0], fmt, name=files[0][0], **opts)
        except InputError as err:  # name the uploaded file, not the temporary folder
            raise InputError(str(err).replace(tmp + "/", "")) from None


@st.cache_data(show_spinner=False, max_entries=16)
def read_upload(files: tuple[tuple[str, bytes], ...], fmt: str, options: tuple = ()) -> Corpus:
    """Read uploaded file(s) with ``lca.formats.read_corpus``; errors name the uploaded file and line."""
    return _read_files(files, fmt, options)


@st.cache_data(show_spinner=False, max_entries=8)
def upload_holdout(files: tuple[tuple[str, bytes], ...], fmt: str, options: tuple = ()) -> tuple[Corpus, Corpus]:
    """An upload without a test file: 80 % of its sentences train, 20 % test."""
    return _holdout(_read_files(files, fmt, options))


# ---------------------------------------------------------------------------------------------------------------
# Session token and current run
def session_token() -> str:
    """This browser session's token: from the URL (survives a reload), else new; always written back to the URL."""
    token = st.session_state.get("lca_token")
    url_token = st.query_params.get("s")
    if url_token and url_token != token:
        try:
            token = check_token(url_token)
        except InputError:
            st.warning("The session token in the address is malformed: a new session was started.")
            token = None
    token = token or new_token()
    st.session_state["lca_token"] = token
    if st.query_params.get("s") != token:
        st.query_params["s"] = token
    return token


def current_run_id() -> str | None:
    """The run this session is looking at (``run`` in the URL, else the last opened), if the session owns it."""
    token = session_token()
    wanted = st.query_params.get("run") or st.session_state.get("lca_run")
    owned = store().session_runs(token)
    rid = wanted if wanted in owned else None
    if wanted and rid is None and st.session_state.get("_lca_refused") != wanted:
        st.session_state["_lca_refused"] = wanted  # say it once, not on every rerun
        st.info(f"Run `{str(wanted)[:16]}` in the address is not one of this session's runs, so it was not opened: "
                "runs open only in the session that made them (its token is the `s` in the address): share the "
                "whole address to show someone a run.")
    st.session_state["lca_run"] = rid
    if rid and st.query_params.get("run") != rid:
        st.query_params["run"] = rid
    elif not rid and "run" in st.query_params:
        del st.query_params["run"]
    return rid


def open_run(rid: str) -> None:
    st.session_state["lca_run"] = rid
    st.query_params["run"] = rid


def require_run() -> tuple[str, LCAResult]:
    """The current run and its result, or an info box and stop when there is none."""
    rid = current_run_id()
    if rid is None:
        st.info("No run yet: start one on the **Run** page (or open an earlier run there).")
        st.stop()
    try:
        return rid, load_run(rid)
    except (InputError, OSError, ValueError) as err:
        st.error(f"Run {rid} cannot be read: {err}")
        st.stop()


def run_label(meta: dict) -> str:
    """What tells two runs apart: task, model, data, then search mode, seed, λ pair and site when set, the time it
    was made and a short id (a quick and a paper run of the same task used to read the same)."""
    import datetime as dt

    config = meta.get("config") or {}
    model = Path(str(meta.get("model", "?"))).name
    fixed = config.get("lambdas")  # a run at a λ pair picked from another run's grid
    when = dt.datetime.fromtimestamp(meta["created"]).strftime("%d %b %H:%M") if meta.get("created") else None
    parts = [meta.get("task", "?"), model, meta.get("dataset", "?"), config.get("mode"),
             f"seed {config['seed']}" if config.get("seed") else None,
             f"λ {fixed[0]:g}, {fixed[1]:g}" if fixed else None,
             "MLP neurons" if config.get("site") == "mlp" else None, when, meta.get("run_id", "")[:6]]
    return " · ".join(str(p) for p in parts if p)


def neuron_name(result: LCAResult, flat: int) -> str:
    return neuron_label(flat, result.layer_size, result.n_layers, result.pair, result.site)


# ---------------------------------------------------------------------------------------------------------------
# Background runs
#
# One queue for the whole server (lca.jobs): a few runs at a time, the rest wait in order; a session
# that starts a run identical to a queued or running one follows that job instead of computing again.
JOBS = JobQueue()


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

    @property
    def seen(self) -> bool:
        return self.rid in st.session_state.setdefault("_lca_seen_runs", set())

    def mark_seen(self) -> None:
        st.session_state.setdefault("_lca_seen_runs", set()).add(self.rid)

    def cancel(self) -> None:
        JOBS.detach(self.token, self.job.kind)


_FREEZE = {"lock": threading.Lock(), "modules": 0}  # len(sys.modules) at the last freeze


def freeze_imported_objects() -> None:
    """Take the objects of newly imported modules out of the garbage collector's view (called after
    each full script run; cheap unless modules were imported since the last call).

    Streamlit runs ``gc.collect(2)`` after every script run, fragment reruns included
    (``runner.postScriptGC``). Over the ~300,000 objects of torch, transformers, pandas and plotly
    that took 0.1-0.3 s of CPU each time, and the Run page's progress panel reruns every second in
    every waiting session: in the 10-session load test the server took both cores and the one shared
    job never finished. Pressing Run imports ~1,200 more modules (160,000 objects), hence "after each
    run". Collected first, so no garbage is frozen; then a collection takes well under a millisecond.
    """
    with _FREEZE["lock"]:
        if len(sys.modules) > _FREEZE["modules"]:
            gc.collect()
            gc.freeze()
            _FREEZE["modules"] = len(sys.modules)


def job_for(token: str, kind: str = "run") -> SessionJob | None:
    job = JOBS.job_for(token, kind)
    return None if job is None else SessionJob(token, job)


def _run_memory(config: RunConfig, train: Corpus, test: Corpus) -> int:
    """Resident bytes the run's process is expected to need (the queue's memory admission)."""
    from lca.memory import _shape_of_model, plan_run

    shape = _shape_of_model(config)
    if shape is None:
        return BASE_PROCESS_BYTES
    tags = len({t for column in train.columns.values() for s in column for t in s}) or 50
    plan = plan_run(shape, config.site, train.n_words + test.n_words, tags, config.layers, config.screen,
                    config.task == "dep-pair", False)
    return BASE_PROCESS_BYTES + plan.ram_bytes


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

    job = JOBS.submit(token, rid, "run", execute_run, (None, rid, train, test, config, meta, root),
                      memory=_run_memory(config, train, test), info={"config": config, "meta": meta},
                      on_done=give_to_watchers)
    return SessionJob(token, job)


def start_finetune(token: str, config, out: Path) -> SessionJob:
    """Queue a fine-tune into ``out`` (one at a time per session; the same settings and folder attach)."""
    current = job_for(token, "finetune")
    key = "finetune:" + hashlib.sha256(json.dumps([config.to_dict(), str(out)], sort_keys=True).encode()).hexdigest()[:16]
    if current is not None and current.running and current.rid != key:
        raise InputError("a fine-tune is already in progress in this session: wait for it or cancel it")
    job = JOBS.submit(token, key, "finetune", execute_finetune, (config.to_dict(), str(out)),
                      memory=2 * BASE_PROCESS_BYTES, info={"config": config, "out": str(out)})
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


def recompute_at(token: str, rid: str, l1: float, l2: float) -> tuple[str, SessionJob | None]:
    """Run ``rid`` again, same config and data, with the oracle trained at ``(l1, l2)`` instead of
    the grid search's choice (see :func:`launch`); the new run's meta names the run whose grid the
    pair came from as ``parent``.  The pair that search chose reopens the searched run itself."""
    owner = grid_run(rid)
    searched = load_run(owner)
    if searched.config.get("lambdas") is None and (searched.lambdas["l1"], searched.lambdas["l2"]) == (l1, l2):
        store().claim(token, owner)
        open_run(owner)
        return owner, None
    config = dataclasses.replace(RunConfig.from_dict(load_run(rid).config), lambdas=(l1, l2))
    meta = {k: v for k, v in store().meta(rid).items() if k in ("dataset", "train", "test", "model_label")}
    return launch(token, load_train_corpus(rid), load_test_corpus(rid), config,
                  {**meta, "config": config.to_dict(), "parent": owner})


# ---------------------------------------------------------------------------------------------------------------
# Rendering helpers
@contextmanager
def entry_point():
    """app.py runs the selected page inside this, so that pages know they were reached through app.py."""
    _ENTRY.ran = True
    try:
        yield
    finally:
        _ENTRY.ran = False


def intro(title: str, text: str) -> None:
    """Every page opens with its title and two sentences on what it shows and which part of the paper."""
    if not getattr(_ENTRY, "ran", False):  # reached without app.py (see PagesManager above): run it
        tries = st.session_state.get("_lca_reroute", 0)
        if tries < 2:
            st.session_state["_lca_reroute"] = tries + 1
            PagesManager.uses_pages_directory = False
            st.rerun()
        st.error("Open the app from its start page (streamlit run app.py).")
        st.stop()
    st.session_state["_lca_reroute"] = 0
    st.title(title)
    st.markdown(text)


_PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d", "zoomIn2d", "zoomOut2d",
                                                                     "autoScale2d", "toggleSpikelines"],
                  "toImageButtonOptions": {"format": "png", "scale": 2}}  # the camera button saves a PNG in the browser


def safe_name(name: str) -> str:
    """A file name made of letters, digits, ``-``, ``_`` and ``.`` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "file"


def chart(fig, name: str, key: str | None = None) -> None:
    """Render a plotly figure with a download button for it as a standalone HTML file."""
    name = safe_name(name)
    st.plotly_chart(fig, width="stretch", key=f"chart_{key or name}", config=_PLOTLY_CONFIG)
    st.download_button("Download chart (HTML)", data=lambda: viz.figure_html(fig), file_name=f"{name}.html",
                       mime="text/html", key=f"dl_{key or name}", on_click="ignore", icon=":material/download:")


def csv_button(frame, name: str, label: str = "Download table (CSV)", key: str | None = None) -> None:
    st.download_button(label, data=frame.to_csv(index=False).encode(), file_name=f"{safe_name(name)}.csv", mime="text/csv",
                       key=f"csv_{key or name}", on_click="ignore", icon=":material/download:")


def result_json_button(rid: str, key: str = "result_json") -> None:
    path = store().path(rid) / "result.json"
    st.download_button("Download result.json", data=lambda: path.read_bytes(), file_name=f"lca-{rid}-result.json",
                       mime="application/json", key=key, on_click="ignore", icon=":material/download:")


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]

