"""Shared test setup: no network access to the Hugging Face hub, and the shared corpora."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real corpora in ``../shared/data`` from the project root; skips the test if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


# ---- app fixtures (tests/test_app_*.py, test_explore.py, test_runs.py) ------------------------------------
APP_TAGS = {"the": "DT", "a": "DT", "cat": "NN", "mat": "NN", "dog": "NN", "garden": "NN", "offer": "NN",
            "sat": "VBD", "walked": "VBD", "ran": "VBD", "walking": "VBG", "running": "VBG", "singing": "VBG",
            "on": "IN", "in": "IN", "through": "IN", "1990": "CD", "three": "CD", "7": "CD", ".": "."}


def app_corpus(n_sentences: int = 24, seed: int = 0, name: str = "tiny"):
    """A small synthetic tagged corpus (xpos) whose words the tiny tokenizers know."""
    import numpy as np

    from lca.data import Corpus

    rng = np.random.default_rng(seed)
    words = sorted(w for w in APP_TAGS if w != ".")
    sentences = [tuple(rng.choice(words, size=int(rng.integers(4, 9))).tolist()) + (".",) for _ in range(n_sentences)]
    return Corpus(tuple(sentences), {"xpos": tuple(tuple(APP_TAGS[w] for w in s) for s in sentences)}, None, name)


def app_corpus_conllu(corpus) -> str:
    """The corpus as CoNLL-U text (xpos and upos columns; every word attached to the first)."""
    lines = []
    for k, (words, tags) in enumerate(zip(corpus.sentences, corpus.columns["xpos"])):
        lines.append(f"# sent_id = {k + 1}")
        for i, (w, t) in enumerate(zip(words, tags), start=1):
            lines.append(f"{i}\t{w}\t{w}\tX\t{t}\t_\t{0 if i == 1 else 1}\t{'root' if i == 1 else 'dep'}\t_\t_")
        lines.append("")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A tiny random BERT (2 blocks, 16 hidden: 48 neurons) saved in a local folder."""
    import tiny_models

    return str(tiny_models.build("bert", tmp_path_factory.mktemp("tiny_models")))


@pytest.fixture
def app_cache(tmp_path, monkeypatch) -> Path:
    """A fresh LCA_CACHE_DIR for one test, with the Streamlit caches emptied."""
    import streamlit as st

    monkeypatch.setenv("LCA_CACHE_DIR", str(tmp_path / "cache"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield tmp_path / "cache"
    st.cache_data.clear()


@pytest.fixture
def tiny_run(app_cache, tiny_bert):
    """A real (tiny) finished run owned by a fresh session token: ``(token, run id, result)``."""
    from lca.pipeline import run_lca
    from lca.result import RunConfig
    from lca.runs import RunStore, new_token, run_id

    train, test = app_corpus(40, seed=1, name="tiny/train"), app_corpus(12, seed=2, name="tiny/test")
    config = RunConfig(task="xpos", model=tiny_bert, grid=(0.0, 1e-3), epochs=3, device="cpu", drop_unseen=True)
    result = run_lca(train, test, config)
    store, token, rid = RunStore(app_cache / "runs"), new_token(), run_id(config, train, test)
    store.save(rid, result, test, {"dataset": "tiny"})
    store.claim(token, rid)
    return token, rid, result
