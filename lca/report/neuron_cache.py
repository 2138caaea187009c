"""A finished run's single-neuron statistics (:mod:`.neuron_stats`), computed once and kept beside its ``result.json``.

``RUN_DIR/neuron_stats.npz`` holds the arrays (``numpy.savez``; read with ``allow_pickle=False``) and
``RUN_DIR/neuron_stats.json`` what they were computed from: a key over the activation matrix (its
cache key), the task's labels, the control task's seed, the bins and this module's version.  A file
whose key differs from the run's (another split, an older version) is recomputed, never served.
Both are written atomically (:mod:`lca.store.atomic`).

Over the run's ``test`` corpus by default (the words the explorer shows, never trained on); the
control task is the run's own (:func:`lca.data.corpus.control_labels` of train and test with the
run's seed), or, for a run saved without its training corpus, one drawn over the test words alone.
"""
from __future__ import annotations

import hashlib
import json
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from .._validation import InputError
from ..data.corpus import Corpus, control_labels, task_examples
from ..runs.activations import SPLITS, feature_neurons, run_activations
from ..store.atomic import atomic_write, write_json_atomic
from .neuron_stats import NeuronStats, neuron_stats

__all__ = ["VERSION", "FILE", "run_neuron_stats", "load_neuron_stats", "stats_key"]

VERSION = 1
FILE = "neuron_stats"  # .npz and .json


def stats_key(result, split: str, labels, control_source: str, bins: int) -> str:
    """What the statistics depend on, hashed: the matrix (its cache key), the labels, the control task, bins, version."""
    keys = result.activation_keys
    digest = hashlib.sha256()
    for part in (VERSION, keys.test if split == "test" else keys.train, result.task, "\x1f".join(result.tags),
                 "\x1f".join(labels), control_source, result.run_config.seed, bins):
        digest.update(str(part).encode("utf-8") + b"\x1e")
    return digest.hexdigest()


def load_neuron_stats(folder, key: str | None = None) -> NeuronStats | None:
    """The statistics kept in ``folder``, or None when absent, unreadable or (with ``key``) computed from other inputs."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / f"{FILE}.json").read_text(encoding="utf-8"))
        if key is not None and meta.get("key") != key:
            return None
        with np.load(folder / f"{FILE}.npz", allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        return NeuronStats.from_arrays(meta["tags"], arrays, meta["n_examples"], meta["n_tests"], meta["bins"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save(stats: NeuronStats, folder: Path, meta: dict) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **stats.arrays())

    atomic_write(folder / f"{FILE}.npz", write)
    write_json_atomic(folder / f"{FILE}.json", {**meta, **stats.to_dict()})  # last: it marks the pair complete


def _control(result, test_examples, train: Corpus | None, split: str) -> tuple[list[str], str]:
    """The control labels of the examples and where they come from (``run``: the run's own control task)."""
    seed = result.run_config.seed
    if train is None:
        return list(control_labels(test_examples, seed=seed)[0]), "drawn over these words alone"
    ex_train = task_examples(train, result.task)
    if split == "train":
        return list(control_labels(ex_train, seed=seed)[0]), "drawn over the training words"
    return list(control_labels(ex_train, [test_examples], seed=seed)[1]), "run"


def run_neuron_stats(result, test: Corpus, train: Corpus | None = None, folder=None, acts: np.ndarray | None = None,
                     split: str = "test", bins: int = 16, load: Callable | None = None,
                     progress: Callable[[int, int], None] | None = None) -> tuple[NeuronStats, dict]:
    """The run's neuron × tag statistics over its ``split`` corpus, from ``folder`` when kept there, else computed
    (and kept there).  Returns ``(stats, meta)``; ``meta`` says where they came from and how long they took.

    Parameters
    ----------
    result : LCAResult
    test, train : the run's corpora (``train`` gives the run's own control task; needed for ``split="train"``).
    folder : the run's folder (``RUN_DIR`` or the store's), or None to keep nothing.
    acts : the ``split`` activations if the caller has them (else :func:`lca.runs.activations.run_activations`).
    load : loads the run's model should its activations have left the cache.
    """
    if split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    corpus = test if split == "test" else train
    if corpus is None:
        raise InputError("the training corpus is needed for statistics over it; this run was saved without it")
    examples = task_examples(corpus, result.task)
    labels = list(examples.labels)
    control, control_source = _control(result, examples, train, split)
    key = stats_key(result, split, labels, control_source, bins)
    if folder is not None:
        kept = load_neuron_stats(folder, key)
        if kept is not None:
            meta = json.loads((Path(folder) / f"{FILE}.json").read_text(encoding="utf-8"))
            return kept, {**meta, "cached": True}
    start = time.perf_counter()
    if acts is None:
        acts = run_activations(result, corpus, split, load=load)
    rows = examples.rows
    stats = neuron_stats(acts, labels, result.tags, rows, control, feature_neurons(result, acts.shape[1]), bins=bins,
                         progress=progress)
    meta = {"key": key, "split": split, "control": control_source, "corpus": corpus.name,
            "seconds": round(time.perf_counter() - start, 3), "version": VERSION}
    if folder is not None:
        try:
            _save(stats, Path(folder), meta)
        except OSError as err:  # a read-only run folder: the statistics still come back
            warnings.warn(f"could not keep the neuron statistics in {folder}: {err}")
    return stats, {**meta, **stats.to_dict(), "cached": False}
