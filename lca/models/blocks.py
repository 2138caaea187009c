"""Where each analysed layer lives inside a model, and hooks that read or rewrite it.

Layer ``l`` of :mod:`lca.models.extract` is ``hidden_states[l]``: the input of the first transformer
block for ``l = 0`` (the embeddings, after whatever scaling or dropout the family applies), the
output of block ``l - 1`` otherwise, except that decoders (GPT-2, Llama, Qwen2, Gemma) put a final
norm on the last one.  Family names change between transformers releases, so the sites are found
by matching, not by name: :func:`layer_sites` runs one short input with hooks on the block list and
keeps the candidates whose tensors equal the model's own ``hidden_states``.

Hooks go first (``prepend=True``): transformers 5 records ``hidden_states`` with hooks of its own
installed at load time, and those must see the rewritten tensor.  XLNet runs sequence-first
(``tokens, batch, size``); its sites say so and :func:`on_layers` hands ``fn`` batch-first views.
Every hook is removed in ``finally`` (:func:`on_layers`), also when the forward pass fails.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch

from .._validation import InputError

__all__ = ["LayerSite", "layer_sites", "transformer_blocks", "on_layers"]

# fn(layer, hidden) -> a replacement tensor of the same shape, or None to leave it as it is
LayerFn = Callable[[int, torch.Tensor], "torch.Tensor | None"]


@dataclass(frozen=True, eq=False)
class LayerSite:
    """The module whose first input (``where="input"``) or first output (``"output"``) is a layer."""

    module: torch.nn.Module
    where: str
    seq_first: bool = False  # XLNet: the module's tensor is (tokens, batch, size)


def transformer_blocks(model: torch.nn.Module, n_blocks: int) -> torch.nn.ModuleList:
    """The model's list of transformer blocks: the first ``ModuleList`` of length ``n_blocks``."""
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_blocks:
            return module
    raise InputError(f"cannot find the {n_blocks} transformer blocks of {type(model).__name__}; "
                     "hooks (interventions, MLP neurons) support BERT-, RoBERTa-, XLNet-, GPT-2- and Llama-style models")


def _first(value):
    """The hidden-state tensor inside a module's output (a tensor, a tuple or a ModelOutput)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        value = tuple(value.values())
    return value[0] if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor) else None


def _replace_first(value, tensor: torch.Tensor):
    if isinstance(value, torch.Tensor):
        return tensor
    if isinstance(value, dict):  # a ModelOutput: its first field
        value[next(iter(value))] = tensor
        return value
    return (tensor, *value[1:]) if isinstance(value, tuple) else [tensor, *value[1:]]


_INPUT_NAMES = ("hidden_states", "output_h", "x")


def _batch_first(fn: LayerFn, seq_first: bool) -> LayerFn:
    if not seq_first:
        return fn

    def wrapped(layer, hidden):
        new = fn(layer, hidden.transpose(0, 1))
        return None if new is None else new.transpose(0, 1)
    return wrapped


def _input_hook(layer: int, fn: LayerFn):
    def hook(module, args, kwargs):
        if args:
            new = fn(layer, args[0])
            return None if new is None else ((new, *args[1:]), kwargs)
        name = next(n for n in _INPUT_NAMES if n in kwargs)
        new = fn(layer, kwargs[name])
        return None if new is None else (args, {**kwargs, name: new})
    return hook


def _output_hook(layer: int, fn: LayerFn):
    def hook(module, args, output):
        new = fn(layer, _first(output))
        return None if new is None else _replace_first(output, new)
    return hook


@contextmanager
def on_layers(sites: Sequence[LayerSite], fn: LayerFn, layers: Sequence[int] | None = None) -> Iterator[None]:
    """Call ``fn(layer, hidden)`` on each of ``layers`` (default: all) during every forward pass inside.

    ``hidden`` is ``(batch, tokens, layer_size)``; a tensor returned by ``fn`` replaces it for the
    rest of the forward pass, so what later layers compute depends on it.
    """
    handles = []
    try:
        for layer in (range(len(sites)) if layers is None else layers):
            site = sites[layer]
            site_fn = _batch_first(fn, site.seq_first)
            if site.where == "input":
                handles.append(site.module.register_forward_pre_hook(_input_hook(layer, site_fn), with_kwargs=True,
                                                                        prepend=True))
            else:
                handles.append(site.module.register_forward_hook(_output_hook(layer, site_fn), prepend=True))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _close(a: torch.Tensor | None, b: torch.Tensor) -> bool:
    return a is not None and a.shape == b.shape and torch.allclose(a.float(), b.float(), atol=1e-4, rtol=1e-3)


@torch.inference_mode()
def layer_sites(loaded) -> list[LayerSite]:
    """One :class:`LayerSite` per layer of ``loaded`` (a :class:`lca.models.extract.LoadedModel`), checked.

    Raises :class:`InputError` when a site cannot be matched to the model's ``hidden_states``.
    """
    model, n_layers = loaded.model, loaded.n_layers
    blocks = transformer_blocks(model, n_layers - 1)
    seq_first = getattr(model.config, "model_type", "") == "xlnet"
    sites = [LayerSite(blocks[0], "input", seq_first)] + [LayerSite(b, "output", seq_first) for b in blocks]
    ids = loaded.tokenizer(["the cat sat on the mat"], return_tensors="pt")["input_ids"].to(loaded.device)
    seen: dict[int, torch.Tensor] = {}

    def keep(layer, hidden):
        seen[layer] = hidden.clone()

    with on_layers(sites, keep):
        states = model(input_ids=ids, output_hidden_states=True).hidden_states
    if len(states) != n_layers:
        raise InputError(f"{type(model).__name__} returned {len(states)} hidden states, expected {n_layers}")
    if not _close(seen.get(n_layers - 1), states[-1]):
        sites[-1] = _final_norm(model, blocks, ids, states[-1])
    for layer in range(n_layers - 1):
        if not _close(seen.get(layer), states[layer]):
            raise InputError(f"cannot match layer {layer} of {type(model).__name__} to a module's input or output")
    return sites


def _final_norm(model, blocks, ids, last: torch.Tensor) -> LayerSite:
    """The module after the blocks whose output is the last hidden state (GPT-2's ``ln_f``, Llama's ``norm``)."""
    inside = {id(m) for m in blocks.modules()}
    candidates = [m for m in model.modules() if id(m) not in inside and m is not model]
    outputs: dict[int, torch.Tensor] = {}
    handles = [m.register_forward_hook(lambda mod, a, out: outputs.__setitem__(id(mod), _first(out)))
               for m in candidates]
    try:
        model(input_ids=ids)
    finally:
        for handle in handles:
            handle.remove()
    for module in reversed(candidates):
        if _close(outputs.get(id(module)), last):
            return LayerSite(module, "output")
    raise InputError(f"cannot find the module whose output is the last hidden state of {type(model).__name__}")
