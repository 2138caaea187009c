"""Interventions: hooks that silence neurons inside the model (identity, locality, no leak), batched
conditions, layer-matched baselines, information flow, the LM check and the CLI."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import tiny_models
from conftest import app_corpus
from lca.models.blocks import layer_sites
from lca.models.extract import extract_activations, load_model
from lca.causal.intervene import extract_silenced, matched_bottom, matched_random, mean_activations, parse_neuron_set, silence, silenced

KINDS = ("bert", "gpt2", "xlnet")
SENTENCES = [["the", "cat", "sat", "on", "the", "mat"], ["dogs", "were", "running", "quickly"], ["walking"]]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("intervene_models")
    return {kind: load_model(str(tiny_models.build(kind, folder)), "cpu") for kind in KINDS}


def _hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize("kind", KINDS)
def test_silencing_nothing_changes_no_activation(models, kind):
    loaded = models[kind]
    clean = extract_activations(loaded, SENTENCES)
    silenced_acts = extract_silenced(loaded, SENTENCES, [[], []])
    np.testing.assert_array_equal(silenced_acts[0], clean)
    np.testing.assert_array_equal(silenced_acts[1], clean)


@pytest.mark.parametrize("kind", KINDS)
def test_silencing_layer_l_leaves_lower_layers_untouched(models, kind):
    loaded = models[kind]
    S = loaded.layer_size
    clean = extract_activations(loaded, SENTENCES)
    acts = extract_silenced(loaded, SENTENCES, [[1 * S + 3, 1 * S + 7]])[0]
    assert np.all(acts[:, [S + 3, S + 7]] == 0)
    np.testing.assert_array_equal(acts[:, :S], clean[:, :S])  # layer 0 is computed before layer 1
    others = np.setdiff1d(np.arange(S, 2 * S), [S + 3, S + 7])
    np.testing.assert_array_equal(acts[:, others], clean[:, others])  # the same layer's other neurons
    assert not np.allclose(acts[:, 2 * S:], clean[:, 2 * S:], atol=1e-3)  # the change flows up


@pytest.mark.parametrize("kind", KINDS)
def test_hooks_removed_after_an_exception(models, kind):
    loaded = models[kind]
    before = _hook_count(loaded.model)
    ids = loaded.tokenizer(["the cat sat"], return_tensors="pt")["input_ids"]
    with pytest.raises(RuntimeError, match="stop here"):
        with silenced(loaded, [0, 5]):
            assert _hook_count(loaded.model) > before
            raise RuntimeError("stop here")
    assert _hook_count(loaded.model) == before
    with pytest.raises(ValueError, match="cannot be split among 2 silencing sets"):  # fails inside the forward pass
        with silence(layer_sites(loaded), [[0], [1]], loaded.layer_size):
            loaded.model(input_ids=ids)
    assert _hook_count(loaded.model) == before


def test_stacked_conditions_equal_one_at_a_time(models):
    loaded = models["bert"]
    S = loaded.layer_size
    sets = [[0, 1, 2], [S + 4], [2 * S + 1, 5]]
    together = extract_silenced(loaded, SENTENCES, sets, max_stack=3)
    for k, neurons in enumerate(sets):
        alone = extract_silenced(loaded, SENTENCES, [neurons])[0]
        np.testing.assert_allclose(together[k].astype(np.float32), alone.astype(np.float32), atol=2e-3)


def test_mean_mode_writes_the_mean(models):
    loaded = models["gpt2"]
    S = loaded.layer_size
    means = mean_activations(extract_activations(loaded, SENTENCES))
    acts = extract_silenced(loaded, SENTENCES, [[S + 2]], values=means)[0]
    np.testing.assert_allclose(acts[:, S + 2].astype(np.float32), means[S + 2], atol=2e-3)
    with pytest.raises(ValueError, match="needs the neurons' mean activations"):
        with silenced(loaded, [1], mode="mean"):
            pass


def test_layer_matched_baselines():
    ranking = np.arange(12)  # 3 layers × 4 neurons, most salient first
    draws = matched_random([0, 1, 9], 4, 3, draws=5, seed=0)
    for d in draws:
        assert np.bincount(d // 4, minlength=3).tolist() == [2, 0, 1] and len(set(d.tolist())) == 3
    assert any(not np.array_equal(np.sort(d), np.sort(draws[0])) for d in draws[1:])  # draws differ
    assert matched_bottom([0, 1, 9], ranking, 4, 3).tolist() == [2, 3, 11]


def test_parse_neuron_set(tiny_run):
    _, _, result = tiny_run
    name, ids = parse_neuron_set("top", result)
    assert ids.tolist() == list(result.minimal.neurons) and name.startswith("minimal")
    assert parse_neuron_set("top:3", result)[1].tolist() == list(result.ranking[:3])
    tag = next(t for t, n in result.per_tag.items() if n)
    assert parse_neuron_set(f"tag:{tag}", result)[1].tolist() == list(result.per_tag[tag])
    assert parse_neuron_set("1:3, 0:2", result)[1].tolist() == [2, result.layer_size + 3]


@pytest.mark.parametrize("spec, message", [("tag:ZZZ", "no tag 'ZZZ'"), ("top:0", "top:N needs"),
                                           ("9:1", "layer must be in"), ("5000", "flat ids must be in")])
def test_parse_neuron_set_errors(tiny_run, spec, message):
    with pytest.raises(ValueError, match=message):
        parse_neuron_set(spec, tiny_run[2])


def _flow(tiny_bert, result, sets, min_steps=None, read_layer=None, **kw):
    from lca.store.cache import ActivationCache
    from lca.causal.effects import clean_layer_probe, information_flow, read_layer_of
    from lca.runs.pipeline import corpus_activations

    loaded = load_model(tiny_bert, "cpu")
    train, test = app_corpus(40, seed=1, name="tiny/train"), app_corpus(12, seed=2, name="tiny/test")
    acts, _, _ = corpus_activations(loaded, train, "last", ActivationCache())
    layer = read_layer_of(result, read_layer)
    probe = clean_layer_probe(acts, train, result, layer, min_steps)
    return information_flow(loaded, result, test, probe, sets, read_layer=layer, **kw)


def test_information_flow_compares_top_random_bottom(tiny_run, tiny_bert):
    _, _, result = tiny_run
    S = result.layer_size
    everything_below = np.arange(2 * S)  # all of layers 0 and 1: the top layer sees the same input for every word
    flow = _flow(tiny_bert, result, {"minimal": result.minimal.neurons, "all": everything_below},
                 draws=3, heatmap_tags=3, min_steps=50)
    assert flow.read_layer == 2 and 0 < flow.clean.accuracy <= 1
    minimal, all_below = flow.sets
    assert all(n < 2 * S for n in minimal.neurons)  # only neurons below the read layer are silenced
    assert len(minimal.random) == 3
    for draw in minimal.to_dict()["random"]["draws"]:
        assert 0 <= draw <= 1
    # embeddings zeroed: every word's top-layer vector is the same up to position, so one tag wins
    assert all_below.top.accuracy < flow.clean.accuracy
    assert all_below.top.accuracy <= max(flow.counts.values()) / flow.n_words + 0.2
    heat = flow.heatmap
    assert len(heat["tags"]) == len(heat["own"]) == len(heat["random"]) <= 3
    json.dumps(flow.to_dict())


def test_the_condition_plan_is_built_in_one_place():
    # Information flow, the LM check and the classifier check compare a set with the same random and bottom
    # sets: they take lca.causal.intervene.condition_plan, and no other module draws them.
    import ast

    import lca.causal

    drawers = {path.name for path in Path(lca.causal.__file__).parent.glob("*.py")
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
               in ("matched_random", "matched_bottom")}
    assert drawers == {"intervene.py"}


def test_information_flow_rejects_a_bad_read_layer(tiny_run, tiny_bert):
    with pytest.raises(ValueError, match="read layer must be in"):
        _flow(tiny_bert, tiny_run[2], {"x": [0]}, read_layer=0)


# ---- the model's own predictions --------------------------------------------------------------------------

def _with_head(kind: str, folder: Path) -> Path:
    """A tiny random model of ``kind`` saved with its LM head (weights of the head random but present)."""
    import transformers as tf

    base = tiny_models.build(kind, folder)
    config = tf.AutoConfig.from_pretrained(base)
    model = (tf.BertForMaskedLM if kind == "bert" else tf.GPT2LMHeadModel)(config)
    torch.manual_seed(0)
    model.save_pretrained(base)
    return base


@pytest.fixture(scope="module")
def head_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("head_models")
    return {kind: load_model(str(_with_head(kind, folder)), "cpu") for kind in ("bert", "gpt2")}


def test_no_head_no_lm_check(models, tmp_path):
    import dataclasses

    import transformers as tf

    from lca.causal.lm import load_lm_head

    assert load_lm_head(models["bert"]) is None  # a base model: a head would be random
    # a checkpoint that claims a masked-LM head but holds no head weights is refused too
    folder = tiny_models.build("bert", tmp_path)
    model = tf.BertModel.from_pretrained(folder)
    model.config.architectures = ["BertForMaskedLM"]
    model.save_pretrained(folder)
    assert load_lm_head(dataclasses.replace(models["bert"], path=str(folder))) is None


@pytest.mark.parametrize("kind, expected", [("bert", "masked"), ("gpt2", "causal")])
def test_lm_scores_match_a_direct_computation(head_models, kind, expected):
    from lca.causal.lm import MASK_EVERY, lm_word_scores, load_lm_head

    loaded = head_models[kind]
    model, got = load_lm_head(loaded)
    assert got == expected
    sentence = SENTENCES[1]
    loss, right = lm_word_scores(loaded, model, got, [sentence], [[], [0, 1, 2, 3, 4, 5]])
    tok = loaded.tokenizer
    enc = tok(sentence, is_split_into_words=True)
    ids, wid = torch.tensor([enc["input_ids"]]), enc.word_ids()
    word = 2  # "running"
    positions = [i for i, w in enumerate(wid) if w == word]
    with torch.inference_mode():
        if got == "masked":
            masked = ids.clone()
            masked[0, [i for i, w in enumerate(wid) if w is not None and w % MASK_EVERY == word % MASK_EVERY]] = \
                tok.mask_token_id
            logits = model(input_ids=masked).logits[0]
            ce = [torch.nn.functional.cross_entropy(logits[p], ids[0, p]).item() for p in positions]
        else:
            full = torch.cat([torch.tensor([[tok.bos_token_id]]), ids], dim=1)
            logits = model(input_ids=full).logits[0]
            ce = [torch.nn.functional.cross_entropy(logits[p], full[0, p + 1]).item() for p in positions]
    assert loss[0, word] == pytest.approx(np.mean(ce), rel=1e-4)
    assert not np.allclose(loss[1], loss[0])  # silencing changed the predictions


def test_lm_effects_per_tag(head_models, tiny_run):
    from lca.causal.lm import lm_effects, load_lm_head

    loaded = head_models["bert"]
    result = tiny_run[2]
    test = app_corpus(6, seed=3)
    out = lm_effects(loaded, load_lm_head(loaded), result, test, {"minimal": result.minimal.neurons}, draws=2,
                     heatmap_tags=["NN", "DT"])
    assert out["kind"] == "masked" and set(out["clean"]["per_tag"]) <= set(result.tags)
    s = out["sets"][0]
    assert len(s["random"]["loss_draws"]) == 2 and s["top"]["loss"] != out["clean"]["loss"]
    assert len(out["heatmap"]["own"]) == 2
    json.dumps(out)


def test_lm_effects_on_a_partly_annotated_corpus(head_models, tiny_run):
    """Words labelled ``_`` are left out of the task's examples; the LM check still scores them, in no tag
    (it refused such corpora as "not word-level" when it compared the label count with the word count)."""
    import dataclasses

    from lca.causal.lm import lm_effects, load_lm_head

    loaded, result = head_models["bert"], tiny_run[2]
    test = app_corpus(6, seed=3)
    column = test.columns[result.task]
    blanked = dataclasses.replace(test, columns={**test.columns, result.task: (("_",) + column[0][1:],) + column[1:]})
    head, sets = load_lm_head(loaded), {"minimal": result.minimal.neurons}
    full = lm_effects(loaded, head, result, test, sets, draws=1)
    with pytest.warns(UserWarning, match="no xpos annotation"):
        part = lm_effects(loaded, head, result, blanked, sets, draws=1)
    assert part["clean"]["loss"] == full["clean"]["loss"]  # the same words are scored
    counts = lambda out: sum(v["n"] for v in out["clean"]["per_tag"].values())  # noqa: E731
    assert counts(part) <= counts(full) and set(part["clean"]["per_tag"]) <= set(full["clean"]["per_tag"])


# ---- command line ------------------------------------------------------------------------------------------

def test_cli_writes_intervention_json(tiny_run, app_cache, capsys):
    from lca.cli.main import main

    _, rid, result = tiny_run
    run_dir = app_cache / "runs" / rid
    code = main(["intervene", str(run_dir), "--neurons", "top", "--neurons", "top:5", "--mode", "mean",
                 "--draws", "2", "--heatmap-tags", "2", "--min-steps", "20"])
    out = capsys.readouterr().out
    assert code == 0, out
    data = json.loads((run_dir / "intervention.json").read_text())
    assert data["mode"] == "mean" and [s["name"] for s in data["flow"]["sets"]][1] == "top 5"
    assert data["lm"] is None and "no pretrained LM head" in out
    assert data["cost"]["flow_conditions"] == 1 + 2 * (2 + 2) + 2 * len(data["flow"]["heatmap"]["tags"])
    assert "random" in out and "±" in out


def test_cli_bad_neurons_exit_2(tiny_run, app_cache, capsys):
    from lca.cli.main import main

    _, rid, _ = tiny_run
    assert main(["intervene", str(app_cache / "runs" / rid), "--neurons", "tag:NOPE"]) == 2
    assert "no tag 'NOPE'" in capsys.readouterr().err
