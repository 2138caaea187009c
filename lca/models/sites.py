"""Neuron sites: which tensor of a model its "neurons" are the units of.

``hidden`` (the paper's): layer ``l`` is ``hidden_states[l]``, the embeddings for ``l = 0`` and
the output of block ``l - 1`` otherwise (:mod:`lca.models.blocks`); ``n_blocks + 1`` layers of the
hidden size.

``mlp``: layer ``l`` is the input of block ``l``'s MLP down-projection, i.e. the activation after
the nonlinearity (``act(x W_in)``; for gated MLPs ``act(x W_gate) ⊙ x W_up``), numbered from 0 as
in the model's own module names (``h.11.mlp``, ``layers.31.mlp``); ``n_blocks`` layers of the MLP
width (GPT-2 small: 12 × 3,072; Llama-3-8B: 32 × 14,336).  It is read by a forward pre-hook on
the down-projection, so what is read is exactly what the model multiplies by ``W_out``.  Every
hook is removed in ``finally``, also when the forward pass fails.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch

from .._validation import InputError, check_choice
from .blocks import transformer_blocks

__all__ = ["SITES", "SiteLayout", "site_layout", "mlp_modules", "on_mlp_inputs"]

SITES = ("hidden", "mlp")

# The down-projection of each family's MLP, as a path inside one block; its input is the MLP site.
_DOWN_PROJECTIONS = (
    "mlp.c_proj",  # GPT-2 (a Conv1D: weight is (in, out))
    "mlp.down_proj",  # Llama, Mistral, Qwen2, Gemma, Phi-3 (gated: act(gate) * up)
    "mlp.dense_4h_to_h",  # GPT-NeoX, Pythia
    "mlp.fc2", "fc2",  # Phi, OPT
    "output.dense",  # BERT, RoBERTa, XLM-R, MiniLM, ELECTRA (the block's own output, not attention.output)
    "ff.layer_2",  # XLNet
    "ffn.lin2",  # DistilBERT
)


@dataclass(frozen=True)
class SiteLayout:
    """The neurons of one site: ``n_layers`` layers of ``layer_size`` units, flat id ``layer * layer_size + unit``.

    >>> SiteLayout("mlp", 12, 3072).n_neurons
    36864
    """

    site: str
    n_layers: int
    layer_size: int

    def __post_init__(self):
        check_choice("site", self.site, SITES)

    @property
    def n_neurons(self) -> int:
        return self.n_layers * self.layer_size

    def describe(self) -> str:
        """``'hidden: 13 layers (0 = embeddings) × 768'`` or ``'mlp: 12 blocks × 3072'``."""
        if self.site == "hidden":
            return f"hidden: {self.n_layers} layers (0 = embeddings) × {self.layer_size}"
        return f"mlp: {self.n_layers} blocks (0 to {self.n_layers - 1}) × {self.layer_size}"


def _in_features(module: torch.nn.Module) -> int:
    if isinstance(module, torch.nn.Linear):
        return module.in_features
    return int(module.weight.shape[0])  # transformers' Conv1D (GPT-2) stores (in, out)


def mlp_modules(model: torch.nn.Module, n_blocks: int) -> list[torch.nn.Module]:
    """Each block's MLP down-projection, in block order.

    Raises :class:`InputError` naming the families supported when a block has none of them.
    """
    blocks = transformer_blocks(model, n_blocks)
    found = []
    for index, block in enumerate(blocks):
        module = None
        for path in _DOWN_PROJECTIONS:
            try:
                module = block.get_submodule(path)
                break
            except AttributeError:
                continue
        if module is None or not hasattr(module, "weight"):
            raise InputError(f"block {index} of {type(model).__name__} has no MLP down-projection that LCA knows "
                             f"({', '.join(_DOWN_PROJECTIONS)}); use --site hidden")
        found.append(module)
    return found


def site_layout(loaded, site: str) -> SiteLayout:
    """The :class:`SiteLayout` of ``site`` in ``loaded`` (a :class:`lca.models.extract.LoadedModel`)."""
    check_choice("site", site, SITES)
    if site == "hidden":
        return SiteLayout("hidden", loaded.n_layers, loaded.layer_size)
    modules = mlp_modules(loaded.model, loaded.n_layers - 1)
    widths = {_in_features(m) for m in modules}
    if len(widths) != 1:  # e.g. a model whose blocks differ in MLP width: flat ids need one layer size
        raise InputError(f"{loaded.name}: the MLP widths differ between blocks ({sorted(widths)}); use --site hidden")
    return SiteLayout("mlp", len(modules), widths.pop())


class _Stop(Exception):
    """Raised by a hook once the last layer needed has been read: the rest of the forward pass is skipped."""


# fn(layer, activation (batch, tokens, width)) -> None to read, or a tensor of that shape to replace it
MlpFn = Callable[[int, torch.Tensor], "torch.Tensor | None"]


@contextmanager
def on_mlp_inputs(modules: Sequence[torch.nn.Module], fn: MlpFn, layers: Sequence[int] | None = None,
                  seq_first: bool = False, stop_after_last: bool = False) -> Iterator[None]:
    """Call ``fn(layer, activation)`` with the input of each of ``layers``' down-projections.

    ``activation`` is ``(batch, tokens, width)``; with ``seq_first`` (XLNet) the module's tensor is
    ``(tokens, batch, width)`` and ``fn`` gets it transposed.  A tensor returned by ``fn`` replaces the
    activation for the rest of the forward pass (e.g. to silence MLP neurons).  With ``stop_after_last``, the forward
    pass stops once the last of ``layers`` is read; run it inside :func:`stop_early` to swallow the stop.
    """
    layers = list(range(len(modules)) if layers is None else layers)
    last = max(layers) if layers else -1
    handles = []

    def make(layer):
        def hook(module, args):
            new = fn(layer, args[0].transpose(0, 1) if seq_first else args[0])
            if stop_after_last and layer == last:
                raise _Stop
            return None if new is None else ((new.transpose(0, 1) if seq_first else new), *args[1:])
        return hook

    try:
        for layer in layers:
            handles.append(modules[layer].register_forward_pre_hook(make(layer), prepend=True))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def stop_early() -> Iterator[None]:
    """Swallow the stop raised by :func:`on_mlp_inputs` (``stop_after_last=True``)."""
    try:
        yield
    except _Stop:
        pass
