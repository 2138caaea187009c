"""Tiny random decoder models (Llama, Qwen2, Gemma, Mistral) with local tokenizers of their kinds.

- ``llama``: SentencePiece-style BPE, normalizer ``Prepend("▁") + Replace(" ", "▁")`` (every word
  gets a leading ``▁``), BOS ``<s>``, no pad token.
- ``gemma``: SentencePiece-style BPE, normalizer ``Replace(" ", "▁")`` only (no leading space on
  the first word, none on a word tokenized alone), BOS ``<bos>``, a pad token.
- ``qwen2`` / ``mistral``: a regex split + byte-level BPE without a prefix space (Llama-3, Qwen2),
  no BOS, no pad token.
"""
from __future__ import annotations

from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from tiny_models import TEXT

_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def _sentencepiece(bos: str, prepend: bool, specials):
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    # Trained on words (no merge across a "▁"), then run as SentencePiece does: on the whole text.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(vocab_size=220, special_tokens=specials,
                                                      initial_alphabet=list("▁.,0123456789")))
    tok.pre_tokenizer = None
    tok.normalizer = normalizers.Sequence(([normalizers.Prepend("▁")] if prepend else [])
                                          + [normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.Fuse()])
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))])
    return tok


def _regex_bytelevel(specials):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(vocab_size=320, special_tokens=specials,
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def build(kind: str, folder: Path, n_layers: int = 2, hidden: int = 16, intermediate: int = 24) -> Path:
    """Save a tiny random ``kind`` decoder (llama | gemma | qwen2 | mistral) and its tokenizer under ``folder``."""
    import transformers as tf

    folder = Path(folder) / kind
    if kind == "llama":
        tok = tf.PreTrainedTokenizerFast(tokenizer_object=_sentencepiece("<s>", True, ["<unk>", "<s>", "</s>"]),
                                         bos_token="<s>", eos_token="</s>", unk_token="<unk>", padding_side="left")
    elif kind == "gemma":
        tok = tf.PreTrainedTokenizerFast(
            tokenizer_object=_sentencepiece("<bos>", False, ["<pad>", "<eos>", "<bos>", "<unk>"]),
            bos_token="<bos>", eos_token="<eos>", unk_token="<unk>", pad_token="<pad>")
    elif kind in ("qwen2", "mistral"):
        tok = tf.PreTrainedTokenizerFast(tokenizer_object=_regex_bytelevel(["<|endoftext|>"]),
                                         eos_token="<|endoftext|>", unk_token=None)
    else:
        raise ValueError(kind)
    config_cls, model_cls = {"llama": (tf.LlamaConfig, tf.LlamaModel), "gemma": (tf.GemmaConfig, tf.GemmaModel),
                             "qwen2": (tf.Qwen2Config, tf.Qwen2Model),
                             "mistral": (tf.MistralConfig, tf.MistralModel)}[kind]
    config = config_cls(vocab_size=400, hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=n_layers,
                        num_attention_heads=2, num_key_value_heads=1, head_dim=hidden // 2,
                        max_position_embeddings=64, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id, initializer_range=0.2)  # 0.02 leaves MLP activations ~1e-3
    model = model_cls(config)
    tok.save_pretrained(folder)
    model.save_pretrained(folder)
    return folder
