"""A tiny random Llama written as a GGUF file with the ``gguf`` package, as llama.cpp's converter writes one.

The tokenizer is byte-level BPE (``tokenizer.ggml.model = gpt2``, SmolLM2's kind); the weights stay float32
(``F32`` tensors), so the model loaded back from the file must give the source model's activations exactly.
The query and key projections are permuted as llama.cpp stores them (transformers undoes it on loading).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's ``permute`` of a q/k projection (rows grouped by head, the two rotary halves interleaved)."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def build(folder: Path, n_layers: int = 2, hidden: int = 16, intermediate: int = 24, seed: int = 0) -> tuple[Path, Path]:
    """``(gguf file, source folder)``: a tiny random LlamaForCausalLM saved as a Hugging Face folder and as
    ``tiny-llama.F32.gguf`` beside it (the file alone in its own folder)."""
    import gguf
    import torch
    import transformers as tf

    from tiny_models import _bytelevel

    folder = Path(folder)
    source, gguf_dir = folder / "source", folder / "gguf"
    gguf_dir.mkdir(parents=True, exist_ok=True)
    tok = tf.GPT2TokenizerFast(tokenizer_object=_bytelevel(["<|endoftext|>"]), bos_token="<|endoftext|>",
                               eos_token="<|endoftext|>", unk_token="<|endoftext|>")
    n_head, n_kv, head_dim = 2, 1, hidden // 2
    config = tf.LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=intermediate,
                            num_hidden_layers=n_layers, num_attention_heads=n_head, num_key_value_heads=n_kv,
                            head_dim=head_dim, max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
                            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True,
                            initializer_range=0.2)
    torch.manual_seed(seed)
    model = tf.LlamaForCausalLM(config).eval()
    with torch.no_grad():  # norms away from 1, so that a weight read into the wrong place shows
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
    model.save_pretrained(source)
    tok.save_pretrained(source)

    path = gguf_dir / "tiny-llama.F32.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny llama")
    writer.add_context_length(64)
    writer.add_embedding_length(hidden)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(intermediate)
    writer.add_rope_dimension_count(head_dim)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(len(tok))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    vocab = tok.backend_tokenizer.get_vocab(with_added_tokens=True)
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    merges = [" ".join(m) if isinstance(m, (list, tuple)) else m
              for m in json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t == "<|endoftext|>" else gguf.TokenType.NORMAL for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tok.bos_token_id)
    writer.add_eos_token_id(tok.eos_token_id)
    writer.add_add_bos_token(False)
    state = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    writer.add_tensor("token_embd.weight", state["model.embed_tokens.weight"])
    for i in range(n_layers):
        pre = f"model.layers.{i}."
        blk = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
               "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
               "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
               "ffn_down": "mlp.down_proj"}
        for gg_name, hf_name in blk.items():
            w = state[pre + hf_name + ".weight"]
            if gg_name == "attn_q":
                w = _permute(w, n_head)
            elif gg_name == "attn_k":
                w = _permute(w, n_kv)
            writer.add_tensor(f"blk.{i}.{gg_name}.weight", np.ascontiguousarray(w))
    writer.add_tensor("output_norm.weight", state["model.norm.weight"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path, source
