"""Cached loaders: the model (a resource shared by every session, read-only), runs, corpora and activations (data).

``lca`` never imports streamlit; these are its only ``st.cache_*`` wrappers.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import streamlit as st
# transformers resolves its names lazily on first use, and two sessions doing that at once raced
# ("cannot import name 'AutoConfig' from 'transformers'"): resolve them here, under the import lock.
from transformers import AutoConfig, AutoModel, AutoTokenizer  # noqa: F401

from lca.report import explore, massive
from lca._validation import InputError
from lca.store.cache import default_cache_dir
from lca.data.corpus import Corpus
from lca.data.datasets import holdout, load_dataset, sample_sentences
from lca.data.formats import read_corpus
from lca.models.loading import LoadedModel, load_model
from lca.neurons import neuron_label
from lca.report.neuron_cache import run_neuron_stats
from lca.report.neuron_stats import NeuronStats
from lca.runs.activations import run_activations
from lca.runs.result import LCAResult
from lca.runs.store import RunStore


@st.cache_resource(show_spinner=False, max_entries=3)
def get_model(name: str | None, device: str = "auto", revision: str | None = None) -> LoadedModel:
    """The model and tokenizer, loaded once per process and shared (read-only) by every session.

    The app never trusts a model's remote code.
    """
    return load_model(name, device, revision, trust_remote_code=False)


def store() -> RunStore:
    """The server's run store (``$LCA_CACHE_DIR/runs``)."""
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
    return np.asarray(run_activations(load_run(rid), load_test_corpus(rid), "test",
                                      load=lambda cfg: get_model(cfg.model, cfg.device, cfg.revision)))


@st.cache_data(show_spinner=False, max_entries=4)
def neuron_stats(rid: str) -> tuple[NeuronStats, dict]:
    """The run's neuron × tag statistics and how they were had (:func:`lca.report.neuron_cache.run_neuron_stats`:
    kept in the run's folder, computed on the first visit)."""
    train = load_train_corpus(rid) if store().has_train_corpus(rid) else None
    return run_neuron_stats(load_run(rid), load_test_corpus(rid), train, store().path(rid), acts=test_activations(rid))


def neuron_column(result: LCAResult, flat: int, n_columns: int) -> int:
    """The column of ``flat`` in the run's test activations (with --layers or --screen they hold only the
    neurons analysed)."""
    held = result.activation_keys.columns
    if held is None:
        return explore.neuron_column(flat, n_columns)
    within = int(flat) % (result.n_layers * result.layer_size)
    index = int(np.searchsorted(held, within))
    if index >= len(held) or held[index] != within:
        why = (f"was screened out (the run kept {result.screen.per_layer} neurons per layer)" if result.screen
               else "is in a layer the run did not analyse")
        name = neuron_label(flat, result.layer_size, result.n_layers, result.pair, result.site)
        raise InputError(f"neuron {name} {why}")
    return index


@st.cache_data(show_spinner=False, max_entries=8)
def massive_neurons(rid: str) -> dict[int, massive.MassiveNeuron]:
    """The run's massive-activation neurons (:func:`lca.report.massive.massive_neurons` on its test activations),
    by their column in those activations."""
    result, acts, corpus = load_run(rid), test_activations(rid), load_test_corpus(rid)
    held = result.activation_keys.columns
    within = np.arange(acts.shape[1]) if held is None else np.asarray(held)  # site neuron of each column
    words = [w for sentence in corpus.sentences for w in sentence]
    flagged = massive.massive_neurons(acts, corpus.sentence_offsets(), within // result.layer_size, words)
    return {m.column: m for m in flagged}


@st.cache_data(show_spinner=False, max_entries=8)
def test_word_tags(rid: str) -> list[str]:
    return explore.word_tags(load_test_corpus(rid), load_run(rid).task)


@st.cache_data(show_spinner=False, max_entries=16)
def dataset(name: str, split: str, max_sentences: int | None = None, seed: int = 0) -> Corpus:
    """A registry dataset's split, sampled down to ``max_sentences`` sentences."""
    corpus = load_dataset(name, split)
    return sample_sentences(corpus, max_sentences, seed) if max_sentences else corpus


@st.cache_data(show_spinner=False, max_entries=8)
def dataset_holdout(name: str, split: str, max_train: int, max_test: int) -> tuple[Corpus, Corpus]:
    """A dataset with a single split, cut by :func:`lca.data.datasets.holdout` (80 % train, 20 % test)."""
    train, test = holdout(load_dataset(name, split))
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
    """Read uploaded file(s) with ``lca.data.formats.read_corpus``; errors name the uploaded file and line."""
    return _read_files(files, fmt, options)


@st.cache_data(show_spinner=False, max_entries=8)
def upload_holdout(files: tuple[tuple[str, bytes], ...], fmt: str, options: tuple = ()) -> tuple[Corpus, Corpus]:
    """An upload without a test file, cut by :func:`lca.data.datasets.holdout` (80 % train, 20 % test)."""
    return holdout(_read_files(files, fmt, options))


@st.cache_data(show_spinner=False, max_entries=16)
def neuron_word_search(rid: str, pattern: str, regex: bool, k: int, alpha: float) -> tuple[list[dict], dict]:
    """:func:`lca.report.neuron_search.word_search` over the run's test words (a rank test per neuron, once per query)."""
    from lca.report.neuron_search import word_search

    acts, stats = test_activations(rid), neuron_stats(rid)[0]
    words = [w for sentence in load_test_corpus(rid).sentences for w in sentence]
    return word_search(acts, words, pattern, load_run(rid), regex, k, stats.neurons[:acts.shape[1]], alpha)
