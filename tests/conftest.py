"""Shared test setup: no network access to the Hugging Face hub, and the shared corpora."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The real corpora: $LCA_DATA_DIR, else ../shared/data beside the checkout (see the README's Tests section).
SHARED_DATA = Path(os.environ.get("LCA_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real corpora (``$LCA_DATA_DIR`` or ``../shared/data``); skips the test if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real corpora not found at {SHARED_DATA}: set LCA_DATA_DIR (see the README's Tests section)")
    return SHARED_DATA


# ---- app fixtures (tests/test_app_*.py, test_explore.py, test_runs.py) ------------------------------------
APP_TAGS = {"the": "DT", "a": "DT", "cat": "NN", "mat": "NN", "dog": "NN", "garden": "NN", "offer": "NN",
            "sat": "VBD", "walked": "VBD", "ran": "VBD", "walking": "VBG", "running": "VBG", "singing": "VBG",
            "on": "IN", "in": "IN", "through": "IN", "1990": "CD", "three": "CD", "7": "CD", ".": "."}


def app_corpus(n_sentences: int = 24, seed: int = 0, name: str = "tiny"):
    """A small synthetic tagged corpus (xpos) whose words the tiny tokenizers know."""
    import numpy as np

    from lca.data.corpus import Corpus

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
    monkeypatch.setenv("LCA_MAX_JOBS", "2")  # tests run a second session's job beside a slow one
    if "lca_app.jobs" in sys.modules:  # a fresh server-wide job queue for every test
        from lca.scale.jobs import JobQueue

        monkeypatch.setattr(sys.modules["lca_app.jobs"], "JOBS", JobQueue())
    st.cache_data.clear()
    st.cache_resource.clear()
    yield tmp_path / "cache"
    st.cache_data.clear()


def fake_run_result(loaded, train, test, cache, task: str = "xpos", seed: int = 0):
    """A consistent LCAResult over real activations of ``test``, without training (fast, pipeline-independent).

    Weights are the per-tag mean activations (centred), so the ranking, tags and neurons agree with the data.
    Random baselines have 3 draws; the 2 × 2 grid's points cost 0, 1, 2 and 3 dev points and have gaps of
    10, 15, 20 and 25 points; the chosen pair is (0, 1e-3).
    """
    import numpy as np

    from lca.data.corpus import task_examples
    from lca.runs.pipeline import corpus_activations
    from lca.method.rank import lca_ranking, tag_neurons
    from lca.runs.result import LCAResult, RunConfig

    acts_test, key_test, _ = corpus_activations(loaded, test, "last", cache)
    _, key_train, _ = corpus_activations(loaded, train, "last", cache)
    ex = task_examples(test, task)
    tags = sorted(set(ex.labels))
    X = np.asarray(acts_test, dtype=np.float32)
    pair = ex.rows.ndim == 2
    X = np.concatenate([X[ex.rows[:, 0]], X[ex.rows[:, 1]]], axis=1) if pair else X[ex.rows]
    means = np.stack([X[np.asarray(ex.labels) == t].mean(axis=0) for t in tags], axis=1)  # (D, T)
    weights = (means - means.mean(axis=1, keepdims=True)).astype(np.float32)
    D = weights.shape[0]
    ranking = lca_ranking(weights, 100)
    N = max(3, D // 4)
    minimal = ranking[:N]
    per_tag = dict(zip(tags, (n.tolist() for n in tag_neurons(weights, minimal, 100))))
    rng = np.random.default_rng(seed)
    curve = [{"fraction": f, "n_neurons": max(1, int(f * D)), "top": 0.5 + f / 2, "random": 0.3 + f / 2,
              "random_sd": 0.02, "random_draws": [0.28 + f / 2, 0.3 + f / 2, 0.32 + f / 2],
              "bottom": 0.1 + f / 2} for f in (0.01, 0.1, 0.5, 1.0)]
    grid = tuple({"l1": a, "l2": b, "score": float(rng.random()), "accuracy": 0.8 - 20 * a - 10 * b,
                  "accuracy_top": 0.7, "accuracy_bottom": 0.2, "zero_top": 0.6, "zero_random": 0.5 - 100 * a - 50 * b,
                  "gap": 0.1 + 100 * a + 50 * b} for a in (0.0, 1e-3) for b in (0.0, 1e-3))
    training_curve = tuple({"epoch": e, "step": 3 * e, "loss": 2.0 / e, "penalty": 0.1, "dev_accuracy": 0.5 + e / 20}
                           for e in range(1, 6))
    return LCAResult(
        model=loaded.name, task=task, n_layers=loaded.n_layers, layer_size=loaded.layer_size, n_neurons=D, pair=pair,
        tags=tuple(tags), n_train_words=train.n_words, n_test_words=test.n_words, lambdas={"l1": 0.0, "l2": 1e-3},
        grid=grid, oracle_accuracy=0.9, noreg_accuracy=0.88, majority_accuracy=0.3, ranking=tuple(ranking.tolist()),
        per_tag=per_tag, ablation={"top": 0.8, "random": 0.5, "random_sd": 0.03, "bottom": 0.2, "weight_magnitude": 0.55},
        retrain={"top": 0.85, "random": 0.6, "random_sd": 0.04, "random_draws": [0.56, 0.6, 0.64], "bottom": 0.3},
        minimal={"n_neurons": N, "fraction": N / D, "accuracy": 0.87, "neurons": minimal.tolist()},
        selectivity={"all": 0.3, "top": 0.4, "control_all": 0.6, "control_top": 0.45},
        probeless={"accuracy": 0.7, "n_neurons": N},
        layer_histogram=tuple(np.bincount(minimal // loaded.layer_size, minlength=loaded.n_layers * (2 if pair else 1)).tolist()),
        timings={"extract": 0.1}, config=RunConfig(task=task, model=loaded.name, device="cpu").to_dict(),
        activation_keys={"train": key_train, "test": key_test, "cache_dir": str(cache.directory.parent)},
        curve=tuple(curve), ablation_random_draws=(0.47, 0.5, 0.53), training_curve=training_curve, weights=weights)


@pytest.fixture
def tiny_run(app_cache, tiny_bert):
    """A finished run over the tiny BERT (real activations, made-up probe, both corpora stored) owned by a
    fresh token: ``(token, run id, result)``."""
    from lca.store.cache import ActivationCache
    from lca.models.extract import load_model
    from lca.runs.result import RunConfig
    from lca.runs.store import RunStore, new_token, run_id

    train, test = app_corpus(40, seed=1, name="tiny/train"), app_corpus(12, seed=2, name="tiny/test")
    result = fake_run_result(load_model(tiny_bert, "cpu"), train, test, ActivationCache(app_cache))
    store, token = RunStore(app_cache / "runs"), new_token()
    rid = run_id(RunConfig.from_dict(result.config), train, test)
    store.save(rid, result, test, {"dataset": "tiny"}, train=train)
    store.claim(token, rid)
    return token, rid, result

