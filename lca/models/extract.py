"""Word-level activations of every layer of a Hugging Face model, at one neuron site.

At the ``hidden`` site the embedding output and each block's output are concatenated per word:
``D = n_layers * layer_size`` neurons, layer 0 being the embeddings; at the ``mlp`` site each
block's MLP activation (see :mod:`lca.models.sites`, and :mod:`lca.neurons` for flat ids).  Subword
tokens fold into words through the fast tokenizer's ``word_ids()`` with one of
:data:`AGGREGATIONS`; each word is tokenized as in running text (:func:`lca.models.loading.word_prefix`).
Sentences longer than the model's limit are cut into overlapping windows of words; each word
takes its activation from the window where it sits farthest from an edge, so no word is dropped
or truncated.  A subset of the neurons (``columns``) can be read alone: only the blocks that hold
them run hooks, and at the MLP site the forward pass stops after the last block needed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .._validation import InputError, check_choice
from ..store.cache import Float16Overflow, as_stored
from .loading import DEFAULT_MODEL, LoadedModel, bundled_model_path, load_model, pick_device
from .sites import SITES, mlp_modules, on_mlp_inputs, site_layout, stop_early

__all__ = ["AGGREGATIONS", "DEFAULT_MODEL", "LoadedModel", "load_model", "extract_activations", "iter_activations",
           "plan_extraction", "run_batch", "pick_device", "bundled_model_path"]

AGGREGATIONS = ("first", "last", "average")
# Values one batch of word activations may hold (float32): tokens per batch shrink as D grows, so a
# 458,752-neuron MLP site runs ~146 tokens at a time on the CPU instead of needing 1.9 GB per batch.
_BATCH_VALUES = {"cpu": 2 ** 26, "cuda": 2 ** 28}

Progress = Callable[[int, int], None]


@dataclass
class _Unit:
    """A stretch of one sentence run through the model: its token ids and the words it writes."""

    input_ids: list[int]
    word_ids: np.ndarray  # (n_tokens,) word index within the stretch, -1 for special tokens
    targets: np.ndarray  # (n_words_in_stretch,) flat output row per word, -1 where another window owns it


def _encode(tokenizer, sentences: Sequence[Sequence[str]], limit: int | None = None, prefix: str = ""):
    words = [[w if i == 0 else prefix + w for i, w in enumerate(s)] for s in sentences]
    enc = tokenizer(words, is_split_into_words=True, add_special_tokens=True,
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


def _units(tokenizer, sentences, offsets: np.ndarray, max_tokens: int, prefix: str = "") -> list[_Unit]:
    units = []
    encoded = _encode(tokenizer, sentences, prefix=prefix)
    budget = max_tokens - tokenizer.num_special_tokens_to_add()
    for k, (sentence, (ids, word_ids)) in enumerate(zip(sentences, encoded)):
        if len(set(word_ids[word_ids >= 0].tolist())) < len(sentence):
            sentence = _fill_missing(tokenizer, sentence, word_ids)
            ids, word_ids = _encode(tokenizer, [sentence], prefix=prefix)[0]
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
            sub_ids, sub_words = _encode(tokenizer, [sentence[start:end]], limit=max_tokens, prefix=prefix)[0]
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


def _layer_units(columns: np.ndarray | None, n_layers: int, layer_size: int) -> dict[int, torch.Tensor | None]:
    """``{layer: units to keep (None = all)}`` for sorted flat ``columns`` (None = every neuron)."""
    if columns is None:
        return {layer: None for layer in range(n_layers)}
    layers = columns // layer_size
    out = {}
    for layer in np.unique(layers).tolist():
        units = columns[layers == layer] % layer_size
        out[layer] = None if len(units) == layer_size else torch.from_numpy(units)
    return out


@torch.inference_mode()
def run_batch(loaded: LoadedModel, batch: list[_Unit], aggregation: str, site: str,
               layer_units: dict) -> tuple[np.ndarray, torch.Tensor]:
    """``(rows, values)``: the corpus rows this batch owns and their ``(n, n_columns)`` float32 activations."""
    tok = loaded.tokenizer
    padded = tok.pad({"input_ids": [u.input_ids for u in batch]}, return_tensors="pt")
    input_ids = padded["input_ids"].to(loaded.device)
    mask = padded["attention_mask"].to(loaded.device)
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
    b_idx, pos, slot = (torch.from_numpy(np.concatenate(a)) for a in (b_idx, pos, slot))
    rows = np.concatenate(rows)
    parts: dict[int, torch.Tensor] = {}

    def keep(layer: int, h: torch.Tensor) -> None:  # h: (batch, tokens, width) -> (n_tokens, kept units)
        x = h[b_idx.to(h.device), pos.to(h.device)]
        units = layer_units[layer]
        parts[layer] = (x if units is None else x[:, units.to(h.device)]).to(loaded.device, torch.float32)

    if site == "hidden":
        states = loaded.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states
        for layer in layer_units:
            keep(layer, states[layer])
    else:
        modules = mlp_modules(loaded.model, loaded.n_layers - 1)
        seq_first = getattr(loaded.model.config, "model_type", "") == "xlnet"
        with stop_early(), on_mlp_inputs(modules, keep, sorted(layer_units), seq_first, stop_after_last=True):
            loaded.model(input_ids=input_ids, attention_mask=mask)
    # (n_tokens, n_columns): layers side by side in column order
    picked = torch.cat([parts[layer] for layer in sorted(layer_units)], dim=1)
    slot = slot.to(picked.device)
    words = torch.zeros(n_slots, picked.shape[1], device=picked.device).index_add_(0, slot, picked)
    words /= torch.bincount(slot, minlength=n_slots).clamp_min(1).unsqueeze(1)
    keep_rows = rows >= 0
    return rows[keep_rows], words[torch.from_numpy(keep_rows).to(words.device)].cpu()


def _check_columns(columns, n_neurons: int) -> np.ndarray | None:
    if columns is None:
        return None
    columns = np.asarray(columns, dtype=np.int64)
    if columns.ndim != 1 or not len(columns) or (np.diff(columns) <= 0).any() or columns[0] < 0 \
            or columns[-1] >= n_neurons:
        raise InputError(f"columns must be sorted, distinct neuron ids in [0, {n_neurons}); got {len(columns)} ids")
    return columns


def iter_activations(loaded: LoadedModel, sentences: Sequence[Sequence[str]], aggregation: str = "last",
                     site: str = "hidden", columns: Sequence[int] | None = None,
                     max_batch_tokens: int | None = None) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """Stream word activations batch by batch: ``(rows, values)`` with ``rows`` (n,) corpus word
    indices (corpus order: sentences concatenated) and ``values`` (n, len(columns)) float32.

    Each word is yielded once; batches come in order of length, not corpus order.
    """
    check_choice("aggregation", aggregation, AGGREGATIONS)
    batches, layer_units = plan_extraction(loaded, sentences, site, columns, max_batch_tokens)
    for batch in batches:
        yield run_batch(loaded, batch, aggregation, site, layer_units)


def plan_extraction(loaded: LoadedModel, sentences: Sequence[Sequence[str]], site: str = "hidden",
                    columns: Sequence[int] | None = None, max_batch_tokens: int | None = None):
    """``(batches, layer_units)``: the padded batches :func:`iter_activations` runs, in its order (lazily),
    and the neurons read at each layer.  Distributed extraction (:mod:`lca.scale.distributed`) shards this plan,
    which keeps its array bit for bit the one worker's."""
    check_choice("site", site, SITES)
    if not sentences or any(len(s) == 0 for s in sentences):
        raise InputError("sentences must be a non-empty list of non-empty word lists")
    layout = site_layout(loaded, site)
    columns = _check_columns(columns, layout.n_neurons)
    layer_units = _layer_units(columns, layout.n_layers, layout.layer_size)
    width = layout.n_neurons if columns is None else len(columns)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])])
    # On a CPU, small batches keep each layer's activations in cache: 1,024 tokens ran the bundled
    # model ~1.6× faster than 8,192 (bench/pipeline.py).  Wide sites get fewer tokens per batch.
    cuda = loaded.device.type == "cuda"
    budget = max_batch_tokens or min(32_768 if cuda else 1_024,
                                     max(16, _BATCH_VALUES["cuda" if cuda else "cpu"] // width))
    units = _units(loaded.tokenizer, sentences, offsets, loaded.max_tokens, loaded.word_prefix)
    return _batches(units, budget), layer_units


def extract_activations(loaded: LoadedModel, sentences: Sequence[Sequence[str]], aggregation: str = "last",
                        out: np.ndarray | None = None, max_batch_tokens: int | None = None,
                        progress: Progress | None = None, site: str = "hidden",
                        columns: Sequence[int] | None = None) -> np.ndarray:
    """Activations of every word of ``sentences``.

    Parameters
    ----------
    loaded : LoadedModel
    sentences : sequence of sequence of str
        Tokenized sentences (words, not subwords).
    aggregation : {'first', 'last', 'average'}
        How a word's subword tokens fold into one vector.  ``last`` follows the paper.
    out : ndarray of float16 or float32, shape (n_words, n_columns), optional
        Where to write (e.g. a memory-mapped file); allocated (float16) when absent.  A value beyond
        float16's range (±65,504) raises :class:`lca.store.cache.Float16Overflow` when writing into a
        float16 ``out`` that was given; an ``out`` allocated here turns float32 instead.
    progress : callable(done_words, total_words), optional
    site : {'hidden', 'mlp'}
        Which neurons (:mod:`lca.models.sites`).
    columns : sequence of int, optional
        Sorted flat ids of the site's neurons to read (default: all of them).

    Returns
    -------
    ndarray of float16 (float32 where float16 would overflow), shape (n_words, n_columns)
        Rows in corpus order; ``n_columns`` is ``len(columns)`` or the site's ``D`` (hidden:
        ``loaded.n_layers * loaded.layer_size``).
    """
    check_choice("site", site, SITES)
    total = sum(len(s) for s in sentences)
    width = site_layout(loaded, site).n_neurons if columns is None else len(columns)
    own = out is None
    if own:
        out = np.empty((total, width), dtype=np.float16)
    elif out.shape != (total, width):
        raise ValueError(f"out must have shape {(total, width)}, got {out.shape}")
    done = 0
    for rows, values in iter_activations(loaded, sentences, aggregation, site, columns, max_batch_tokens):
        try:
            out[rows] = as_stored(values.numpy(), out.dtype)
        except Float16Overflow:
            if not own:
                raise  # the caller's matrix (a cache file) is made again in float32
            out = out.astype(np.float32)  # rows written so far were within range: exact in float32 too
            out[rows] = values.numpy()
        done += len(rows)
        if progress is not None:
            progress(done, total)
    return out
