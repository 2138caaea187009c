"""The app's side of ``lca``: cached loaders, the session token, background runs and small widgets.

Only this module and the pages import streamlit.  The model is cached as a resource
(shared by every session, read-only); results, corpora and activations as data.
Runs execute in a background process per browser session (:func:`start_job`); the page
polls the job's progress, and a cancel raises from the progress callback in that process.
"""
from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import queue
import re
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st
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
from lca.runs import RunStore, check_token, execute_run, new_token, run_id


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
        acts, _, _ = corpus_activations(loaded, load_test_corpus(rid), cfg.get("aggregation", "last"), cache)
    return np.asarray(acts)


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
    acc = meta.get("oracle_accuracy")
    model = Path(str(meta.get("model", "?"))).name
    fixed = (meta.get("config") or {}).get("lambdas")  # a run at a λ pair picked from another run's grid
    return (f"{meta.get('task', '?')} · {model} · {meta.get('dataset', '?')}"
            + (f" · λ {fixed[0]:g}, {fixed[1]:g}" if fixed else "")
            + (f" · {100 * acc:.1f} %" if isinstance(acc, (int, float)) else "") + f" · {meta.get('run_id', '')[:6]}")


def neuron_name(result: LCAResult, flat: int) -> str:
    return neuron_label(flat, result.layer_size, result.n_layers, result.pair)


# ---------------------------------------------------------------------------------------------------------------
# Background runs
#
# Each run executes in its own process (spawned: a fresh interpreter), so a long probe training never
# competes with the server's threads for the GIL and a crash cannot take the server down.  A watcher
# thread per run copies the child's progress messages into the Job the pages poll.
_MP = multiprocessing.get_context("spawn")


@dataclass
class Job:
    token: str
    rid: str
    config: RunConfig
    meta: dict
    stages: dict = field(default_factory=lambda: {s: 0.0 for s in STAGES})
    stage: str = "load"
    status: str = "running"  # running | done | failed | cancelled
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: object = field(default_factory=_MP.Event)  # .set() from the Cancel button, seen by the child
    seen: bool = False  # the page has shown the final status once

    @property
    def running(self) -> bool:
        return self.status == "running"


_JOBS: dict[str, Job] = {}
_JOBS_LOCK = threading.Lock()
CANCEL_GRACE_S = 20.0  # a child that ignores a cancel this long is terminated


def job_for(token: str) -> Job | None:
    with _JOBS_LOCK:
        return _JOBS.get(token)


def _apply(job: Job, message: tuple) -> None:
    kind = message[0]
    if kind == "progress":
        _, stage, fraction = message
        job.stage, job.stages[stage] = stage, max(job.stages.get(stage, 0.0), min(1.0, fraction))
    elif kind == "done":
        job.status = "done"
    elif kind == "cancelled":
        job.status = "cancelled"
    elif kind == "failed":
        job.status, job.error = "failed", message[1]


def _watch(job: Job, process, messages) -> None:
    cancelled_at = None
    try:
        while job.running:
            try:
                _apply(job, messages.get(timeout=0.3))
                continue
            except queue.Empty:
                pass
            if job.cancel.is_set():
                cancelled_at = cancelled_at or time.time()
                if time.time() - cancelled_at > CANCEL_GRACE_S:
                    process.terminate()
                    job.status = "cancelled"
            if not process.is_alive():
                try:  # the last messages may still be in the pipe
                    while job.running:
                        _apply(job, messages.get(timeout=1.0))
                except queue.Empty:
                    job.status = "failed"
                    job.error = f"the run's process ended without a result (exit code {process.exitcode})"
    finally:
        job.finished = time.time()
        process.join(timeout=5)


def start_job(token: str, train: Corpus, test: Corpus, config: RunConfig, meta: dict) -> Job:
    """Start the run in a background process for this session (one at a time per session)."""
    with _JOBS_LOCK:
        old = _JOBS.get(token)
        if old is not None and old.running:
            raise InputError("a run is already in progress in this session: wait for it or cancel it")
        job = Job(token, run_id(config, train, test), config, meta)
        _JOBS[token] = job
    messages = _MP.Queue()
    process = _MP.Process(target=execute_run, name=f"lca-run-{job.rid}", daemon=True,
                          args=(messages, job.cancel, token, job.rid, train, test, config, meta,
                                str(store().root)))
    process.start()
    threading.Thread(target=_watch, args=(job, process, messages), name=f"lca-watch-{job.rid}", daemon=True).start()
    return job


def launch(token: str, train: Corpus, test: Corpus, config: RunConfig, meta: dict) -> tuple[str, Job | None]:
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


def recompute_at(token: str, rid: str, l1: float, l2: float) -> tuple[str, Job | None]:
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

