"""Layer sites: hooks that read exactly the model's hidden states, rewrite them, and never leak."""
import numpy as np
import pytest
import torch

import tiny_models
from lca.models.blocks import layer_sites, on_layers
from lca.models.extract import load_model

KINDS = ("bert", "roberta", "gpt2", "xlnet")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("block_models")
    return {kind: load_model(str(tiny_models.build(kind, folder)), "cpu") for kind in KINDS}


def _states(loaded, text="dogs were running quickly"):
    ids = loaded.tokenizer([text], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        return loaded.model(input_ids=ids, output_hidden_states=True).hidden_states


@pytest.mark.parametrize("kind", KINDS)
def test_each_site_reads_its_hidden_state(models, kind):
    loaded = models[kind]
    sites = layer_sites(loaded)
    assert len(sites) == loaded.n_layers
    seen = {}
    with on_layers(sites, lambda layer, h: seen.__setitem__(layer, h.clone())):
        states = _states(loaded)
    for layer, state in enumerate(states):
        torch.testing.assert_close(seen[layer], state)


@pytest.mark.parametrize("kind", KINDS)
def test_rewriting_a_layer_changes_only_that_layer_and_those_above(models, kind):
    loaded = models[kind]
    sites = layer_sites(loaded)
    clean = _states(loaded)

    def silence(layer, h):
        h = h.clone()
        h[..., 3] = 0
        return h

    with on_layers(sites, silence, layers=[1]):
        hooked = _states(loaded)
    torch.testing.assert_close(hooked[0], clean[0])
    assert torch.all(hooked[1][..., 3] == 0)
    assert not torch.allclose(hooked[-1], clean[-1])


def test_hooks_are_removed_after_a_failed_forward_pass(models):
    loaded = models["bert"]
    sites = layer_sites(loaded)
    count = lambda: sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in loaded.model.modules())  # noqa: E731
    before = count()  # transformers keeps hooks of its own that record hidden_states

    def boom(layer, h):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        with on_layers(sites, boom):
            _states(loaded)
    assert count() == before


def test_decoder_families_with_a_final_norm():
    import transformers as tf

    for config_cls, model_cls in [(tf.LlamaConfig, tf.LlamaModel), (tf.Qwen2Config, tf.Qwen2Model),
                                  (tf.GemmaConfig, tf.GemmaModel)]:
        config = config_cls(vocab_size=100, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                            num_attention_heads=2, num_key_value_heads=1, head_dim=8)
        model = model_cls(config).eval()

        class Loaded:  # the two fields layer_sites reads besides the model
            n_layers, device = 3, torch.device("cpu")

            @staticmethod
            def tokenizer(texts, return_tensors):
                return {"input_ids": torch.tensor([[5, 6, 7, 8]])}

        Loaded.model = model
        sites = layer_sites(Loaded)
        assert sites[-1].module is model.norm and sites[0].where == "input"
        seen = {}
        with on_layers(sites, lambda layer, h: seen.__setitem__(layer, h.clone())):
            with torch.inference_mode():
                states = model(input_ids=torch.tensor([[9, 10, 11]]), output_hidden_states=True).hidden_states
        for layer, state in enumerate(states):
            np.testing.assert_allclose(seen[layer].numpy(), state.numpy(), atol=1e-5)
