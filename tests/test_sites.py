"""Neuron sites (hidden, mlp), decoder word alignment, the screen and the memory plan (issue 15)."""
import json

import numpy as np
import pytest
import torch

import tiny_decoders
import tiny_models
from lca._validation import InputError
from lca.store.cache import ActivationCache, activation_key
from lca.models.extract import extract_activations, load_model
from lca.runs.memory import ModelShape, check_plan, plan_run, shape_of_config
from lca.neurons import neuron_label, parse_neuron
from lca.runs.pipeline import corpus_activations, run_lca
from lca.runs.result import RunConfig, load_result, save_result
from lca.method.screen import keep_per_layer, screen_scores
from lca.models.sites import mlp_modules, on_mlp_inputs, site_layout
from test_pipeline import CONFIG, synthetic

SENTENCES = [["The", "unbelievable", "cats", "sat", "."], ["walking"],
             ["Paris", "in", "1990", "was", "considered", "biggest", ",", "they", "said"]]
DECODERS = ["llama", "gemma", "qwen2", "mistral"]
KINDS = ["gpt2", "bert", *DECODERS]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("sites")
    out = {}
    for kind in KINDS:
        torch.manual_seed(0)
        build = tiny_decoders.build if kind in DECODERS else tiny_models.build
        out[kind] = load_model(str(build(kind, root)), device="cpu")
    return out


def _mlp_by_hand(kind, block, x):
    """The MLP activation recomputed from the MLP's input ``x`` with the family's own formula."""
    if kind == "gpt2":
        return block.mlp.act(block.mlp.c_fc(x))
    if kind == "bert":
        return block.intermediate.intermediate_act_fn(block.intermediate.dense(x))
    return block.mlp.act_fn(block.mlp.gate_proj(x)) * block.mlp.up_proj(x)  # gated: act(gate) ⊙ up


def running_text_reference(loaded, kind, words, site):
    """Each word's last token over the sentence as running text, tokens mapped to words by character
    offsets (not by word_ids); the MLP site recomputed by hand from each MLP's input."""
    text = " ".join(words)
    ends = np.cumsum([len(w) + 1 for w in words]) - 1  # character after each word
    enc = loaded.tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")[0].tolist()
    model = loaded.model
    n_blocks = loaded.n_layers - 1
    blocks = model.h if kind == "gpt2" else (model.encoder.layer if kind == "bert" else model.layers)
    inputs, handles = {}, []
    try:
        for b, block in enumerate(blocks):
            mlp = block.intermediate if kind == "bert" else block.mlp
            handles.append(mlp.register_forward_pre_hook(lambda m, a, b=b: inputs.__setitem__(b, a[0])))
        with torch.no_grad():
            states = model(**enc, output_hidden_states=True).hidden_states
            acts = [_mlp_by_hand(kind, blocks[b], inputs[b]) for b in range(n_blocks)]
    finally:
        for h in handles:
            h.remove()
    stacked = torch.cat(list(states) if site == "hidden" else acts, dim=-1)[0].numpy()
    last = {}
    for t, (s, e) in enumerate(offsets):
        if e > s:  # special tokens have empty spans
            last[int(np.searchsorted(ends, e - 1, side="right"))] = t  # a lone space opens the next word
    assert sorted(last) == list(range(len(words))), (kind, offsets)
    return stacked[[last[w] for w in range(len(words))]]


def test_words_tokenize_as_in_running_text(models):
    prefixes = {kind: models[kind].word_prefix for kind in KINDS}
    # Gemma's "▁" replacement and the regex + byte-level pre-tokenizers need the space put back.
    assert prefixes == {"gpt2": "", "bert": "", "llama": "", "gemma": " ", "qwen2": " ", "mistral": " "}
    assert models["llama"].tokenizer.pad_token is not None and models["llama"].tokenizer.padding_side == "right"


@pytest.mark.parametrize("site", ["hidden", "mlp"])
@pytest.mark.parametrize("kind", KINDS)
def test_batched_extraction_matches_running_text(models, kind, site):
    loaded = models[kind]
    out = extract_activations(loaded, SENTENCES, "last", site=site)
    assert out.shape == (15, site_layout(loaded, site).n_neurons)
    start = 0
    for words in SENTENCES:  # padded batches (no pad token of their own for llama/qwen2) equal each sentence alone
        np.testing.assert_allclose(out[start:start + len(words)], running_text_reference(loaded, kind, words, site),
                                   atol=2e-2, rtol=1e-2)
        start += len(words)


def test_site_layouts(models):
    shapes = {kind: (site_layout(models[kind], "mlp").n_layers, site_layout(models[kind], "mlp").layer_size)
              for kind in KINDS}
    assert shapes == {"gpt2": (2, 64), "bert": (2, 32), **{k: (2, 24) for k in DECODERS}}
    assert site_layout(models["gpt2"], "hidden").n_neurons == 3 * 16


def test_some_columns_read_alone_and_stop_early(models):
    loaded = models["llama"]
    full = extract_activations(loaded, SENTENCES, site="mlp")
    columns = np.array([0, 5, 23])  # all in block 0
    modules = mlp_modules(loaded.model, 2)
    calls = []
    handle = modules[1].register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        part = extract_activations(loaded, SENTENCES, site="mlp", columns=columns)
    finally:
        handle.remove()
    np.testing.assert_array_equal(part, full[:, columns])
    assert calls == []  # the forward pass stopped after block 0's MLP
    both = np.array([3, 24 + 7])
    np.testing.assert_array_equal(extract_activations(loaded, SENTENCES, site="mlp", columns=both), full[:, both])
    with pytest.raises(InputError, match="sorted, distinct"):
        extract_activations(loaded, SENTENCES, site="mlp", columns=[5, 3])


def test_mlp_hooks_are_removed_after_a_failed_forward_pass(models):
    loaded = models["gpt2"]
    modules = mlp_modules(loaded.model, 2)
    before = [len(m._forward_pre_hooks) for m in modules]

    def boom(layer, x):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        with on_mlp_inputs(modules, boom):
            loaded.model(input_ids=torch.tensor([[1, 2, 3]]))
    assert [len(m._forward_pre_hooks) for m in modules] == before


def test_cache_key_covers_the_site(models, tmp_path):
    hidden = activation_key("m", "0" * 64, "last", version="0.1.0")
    assert hidden == activation_key("m", "0" * 64, "last", version="0.1.0", site="hidden")  # old keys stay valid
    assert activation_key("m", "0" * 64, "last", version="0.1.0", site="mlp") != hidden
    cache = ActivationCache(tmp_path)
    corpus = synthetic(6, 0)
    a, key_h, _ = corpus_activations(models["gpt2"], corpus, cache=cache)
    b, key_m, hit = corpus_activations(models["gpt2"], corpus, cache=cache, site="mlp")
    assert key_h != key_m and not hit and a.shape[1] == 48 and b.shape[1] == 128
    assert corpus_activations(models["gpt2"], corpus, cache=cache, site="mlp")[2]  # reused


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_whole_pipeline_on_both_sites(models, kind, tmp_path):
    loaded = models[kind]
    for site in ("hidden", "mlp"):
        config = RunConfig(**{**CONFIG.to_dict(), "site": site, "grid": (0.0,)})
        result = run_lca(synthetic(80, 0), synthetic(30, 1), config, loaded=loaded, cache=ActivationCache(tmp_path))
        layout = site_layout(loaded, site)
        assert (result.site, result.n_layers, result.layer_size) == (site, layout.n_layers, layout.layer_size)
        assert sorted(result.ranking) == list(range(layout.n_neurons))
        assert len(result.layer_histogram) == layout.n_layers
        assert sum(result.layer_histogram) == result.minimal.n_neurons
        assert result.oracle_accuracy > result.majority_accuracy
        saved = load_result(save_result(result, tmp_path / site).parent)
        assert saved.site == site and saved.config["site"] == site
        assert json.loads((tmp_path / site / "result.json").read_text())["site"] == site


def test_screened_run_keeps_k_per_layer(models, tmp_path):
    loaded = models["llama"]  # MLP site: 2 blocks × 24
    config = RunConfig(**{**CONFIG.to_dict(), "site": "mlp", "screen": 5, "grid": (0.0,)})
    result = run_lca(synthetic(80, 0), synthetic(30, 1), config, loaded=loaded, cache=ActivationCache(tmp_path))
    kept = np.array(result.screen.columns)
    assert len(kept) == 10 and result.screen.n_screened == 48 and result.screen.per_layer == 5
    assert np.bincount(kept // 24).tolist() == [5, 5]
    assert set(result.ranking[:10]) == set(kept.tolist()) and sorted(result.ranking) == list(range(48))
    assert set(result.minimal.neurons) <= set(kept.tolist()) and result.minimal.analysed_neurons == 10
    assert not np.delete(result.weights, kept, axis=0).any()
    # The cached matrices hold only the kept columns, equal to the full site's.
    held = ActivationCache(tmp_path).get(result.activation_keys.test)
    full = extract_activations(loaded, synthetic(30, 1).sentences, site="mlp")
    np.testing.assert_array_equal(held, full[:, kept])


def test_chosen_blocks_are_the_only_ones_read(models, tmp_path):
    loaded = models["llama"]
    config = RunConfig(**{**CONFIG.to_dict(), "site": "mlp", "layers": (1,), "grid": (0.0,)})
    result = run_lca(synthetic(60, 0), synthetic(20, 1), config, loaded=loaded, cache=ActivationCache(tmp_path))
    assert result.activation_keys.columns == tuple(range(24, 48)) and set(result.ranking[:24]) == set(range(24, 48))
    assert ActivationCache(tmp_path).get(result.activation_keys.train).shape[1] == 24  # block 0 never stored
    with pytest.raises(InputError, match=r"layers \[2\] do not exist: .* has mlp: 2 blocks \(0 to 1\) × 24"):
        run_lca(synthetic(60, 0), synthetic(20, 1), RunConfig(**{**config.to_dict(), "layers": (2,)}), loaded=loaded,
                cache=ActivationCache(tmp_path))


def test_screen_finds_a_planted_neuron_among_louder_ones():
    rng = np.random.default_rng(0)
    n, width = 3000, 40  # 2 layers of 20
    labels = rng.integers(0, 3, n)
    values = rng.normal(0, 10, (n, width)).astype(np.float32)  # loud noise
    values[:, 27] = labels * 1.0 + rng.normal(0, 0.3, n)  # quiet, but tells the tags apart (layer 1)
    values[:, 3] += labels * 8.0  # layer 0: a signal in loud noise
    chunks = [(np.arange(s, s + 500), torch.from_numpy(values[s:s + 500])) for s in range(0, n, 500)]
    scores = screen_scores(chunks, np.arange(n), labels, n, 3, width)
    one = screen_scores([(np.arange(n), torch.from_numpy(values))], np.arange(n), labels, n, 3, width)
    np.testing.assert_allclose(scores, one, rtol=1e-5)  # streaming in batches changes nothing
    assert keep_per_layer(scores, np.arange(width), 20, 1).tolist() == [3, 27]


def test_memory_plan_and_refusal_with_numbers():
    llama8b = ModelShape(8_030_261_248, 32, 4096, 14336)
    plan = plan_run(llama8b, "mlp", 100_000, 50)
    assert plan.n_analysed == 458_752 and plan.disk_bytes == 100_000 * 458_752 * 2
    with pytest.raises(InputError, match=r"needs about \d+\.\d GB of memory but 22\.0 GB are available.*--screen K"):
        check_plan(plan, ".", ram=22 * 10**9, disk=10**13)
    screened = plan_run(llama8b, "mlp", 100_000, 50, screen=256)
    assert screened.n_analysed == 32 * 256 and screened.disk_bytes < 2e9
    with pytest.raises(InputError, match=r"activation files need 1\.6 GB of disk .* but 1\.0 GB are free"):
        check_plan(screened, ".", ram=10**12, disk=10**9)
    check_plan(plan_run(ModelShape(124_439_808, 12, 768, 3072), "mlp", 50_000, 50), ".", ram=22 * 10**9, disk=10**11)


def test_a_run_that_cannot_fit_is_refused_before_loading(models, monkeypatch, tmp_path):
    monkeypatch.setattr("lca.runs.memory.available_memory", lambda: 10**6)
    stages = []
    config = RunConfig(**{**CONFIG.to_dict(), "site": "mlp", "model": models["gpt2"].path})
    with pytest.raises(InputError, match=r"needs about .* GB of memory but 0\.0 GB are available"):
        run_lca(synthetic(20, 0), synthetic(10, 1), config, cache=ActivationCache(tmp_path),
                progress=lambda stage, f: stages.append(stage))
    assert stages == []  # refused before the model was loaded


def test_shape_from_config_counts_parameters(models):
    loaded = models["qwen2"]
    shape = shape_of_config(loaded.model.config)
    assert shape.n_params == sum(p.numel() for p in loaded.model.parameters())
    assert (shape.n_blocks, shape.hidden, shape.mlp_width) == (2, 16, 24)


def test_neuron_names_carry_the_site():
    assert neuron_label(64 + 3, 64, 2, site="mlp") == "mlp 1:3"
    assert neuron_label(128 + 5, 64, 2, pair=True, site="mlp") == "dep mlp 0:5"
    assert parse_neuron("mlp 1:3", 64, 2, "mlp") == parse_neuron("1:3", 64, 2, "mlp") == 67
    with pytest.raises(ValueError, match="names the mlp site, but these neurons are at the hidden site"):
        parse_neuron("mlp 1:3", 16, 3)


@pytest.mark.parametrize("changes, match", [({"site": "attention"}, "site must be one of 'hidden', 'mlp'"),
                                            ({"screen": 0}, "screen must be > 0")])
def test_config_validation(changes, match):
    with pytest.raises(InputError, match=match):
        RunConfig(**changes)
    assert RunConfig.from_dict(RunConfig(site="mlp", screen=8).to_dict()) == RunConfig(site="mlp", screen=8)


@pytest.mark.parametrize("screen", [None, 6])
def test_app_explorer_and_layers_show_mlp_neurons(app_cache, tiny_bert, screen):
    pytest.importorskip("streamlit")
    from conftest import app_corpus
    from lca.runs.store import RunStore, new_token, run_id
    from test_app_pages import open_app, texts

    train, test = app_corpus(40, seed=1, name="tiny/train"), app_corpus(12, seed=2, name="tiny/test")
    config = RunConfig(**{**CONFIG.to_dict(), "site": "mlp", "screen": screen, "grid": (0.0,), "model": tiny_bert,
                          "drop_unseen": True})
    result = run_lca(train, test, config, loaded=load_model(tiny_bert, "cpu"), cache=ActivationCache(app_cache))
    store, token = RunStore(app_cache / "runs"), new_token()
    rid = run_id(config, train, test)
    store.save(rid, result, test, {"dataset": "tiny"}, train=train)
    store.claim(token, rid)
    name = neuron_label(result.ranking[0], result.layer_size, result.n_layers, site="mlp")  # e.g. "mlp 1:7"
    at = open_app(token, rid, "pages/explorer.py", neuron=name)
    assert not at.exception and not at.error
    assert next(m.value for m in at.markdown if m.value.startswith("### Neuron")).startswith(f"### Neuron {name} ")
    at = open_app(token, rid, "pages/layers.py")
    assert not at.exception and not at.error and "MLP neurons" in texts(at)


def test_run_page_passes_the_site_and_screen_to_the_run(app_cache, tiny_bert, monkeypatch):
    pytest.importorskip("streamlit")
    from lca_app import jobs
    from test_app_run import fill, new_session, recording_start

    started = []
    monkeypatch.setattr(jobs, "start_job", recording_start(started))
    at = fill(new_session(), tiny_bert)
    assert at.radio(key="run_site").value == "hidden"
    at.radio(key="run_site").set_value("mlp")
    at.number_input(key="run_screen").set_value(256).run()
    at.button(key="run_go").click().run()
    assert not at.exception
    assert [(c.site, c.screen) for c in started] == [("mlp", 256)]


def test_a_returned_tensor_replaces_the_mlp_activation(models):
    loaded = models["llama"]
    modules = mlp_modules(loaded.model, 2)
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        plain = loaded.model(input_ids=ids).last_hidden_state
        with on_mlp_inputs(modules, lambda layer, h: h.clone()):
            same = loaded.model(input_ids=ids).last_hidden_state
        seen = {}

        def silence(layer, h):
            out = h.clone()
            out[..., 3] = 0  # silence unit 3 of both blocks
            return out

        # Hooks go first (prepend): the one registered last, the silencer, runs before the reader.
        with on_mlp_inputs(modules, lambda l, h: seen.__setitem__(l, h.clone())), on_mlp_inputs(modules, silence):
            changed = loaded.model(input_ids=ids).last_hidden_state
    torch.testing.assert_close(same, plain)
    assert not torch.allclose(changed, plain)
    assert all(float(seen[layer][..., 3].abs().max()) == 0 for layer in (0, 1))
    assert all(float(seen[layer][..., 2].abs().max()) > 0 for layer in (0, 1))
