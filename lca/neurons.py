"""Stable names for layers and neurons, converted in one place.

A neuron is identified by ``(layer, unit)``, where layer 0 is the embedding output and
layer ``k`` the output of transformer block ``k``; its flat index in the concatenated
activation matrix is ``layer * layer_size + unit``.  For the dependency-pair task the
feature vector is ``[head activations | dependent activations]``, so flat ids in
``[n_neurons, 2 * n_neurons)`` belong to the dependent.

At the ``mlp`` site (:mod:`lca.models.sites`) layer ``k`` is block ``k``'s MLP activation, numbered from 0
as in the model's module names, and names carry the site: ``'mlp 12:4031'``.  Hidden-site names
stay as they were (``'3:120'``).
"""
from __future__ import annotations

import re

import numpy as np

__all__ = ["neuron_label", "flat_to_layer_unit", "layer_unit_to_flat", "parse_neuron"]

_PARSE = re.compile(r"^\s*(?:(head|dep)[\s:/]+)?(?:(hidden|mlp)[\s:/]+)?(\d+)\s*[:/,]\s*(\d+)\s*$")


def flat_to_layer_unit(flat, layer_size: int, n_layers: int | None = None):
    """Split flat neuron ids into ``(half, layer, unit)`` arrays.

    ``half`` is 0 for ordinary features and for the head half of a pair task, 1 for the
    dependent half (only when ``n_layers`` is given and the id lies past ``n_layers * layer_size``).

    >>> [a.tolist() for a in flat_to_layer_unit(np.array([0, 385, 2700]), 384, 7)]
    [[0, 0, 1], [0, 1, 0], [0, 1, 12]]
    """
    flat = np.asarray(flat, dtype=np.int64)
    per_half = None if n_layers is None else n_layers * layer_size
    half = np.zeros_like(flat) if per_half is None else flat // per_half
    within = flat if per_half is None else flat % per_half
    return half, within // layer_size, within % layer_size


def layer_unit_to_flat(layer: int, unit: int, layer_size: int, n_layers: int, half: int = 0) -> int:
    """The flat id of ``(layer, unit)``; raises ``ValueError`` when out of range.

    >>> layer_unit_to_flat(1, 1, 384, 7)
    385
    """
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer must be in [0, {n_layers - 1}], got {layer}")
    if not 0 <= unit < layer_size:
        raise ValueError(f"unit must be in [0, {layer_size - 1}], got {unit}")
    return half * n_layers * layer_size + layer * layer_size + unit


def neuron_label(flat: int, layer_size: int, n_layers: int, pair: bool = False, site: str = "hidden") -> str:
    """Human label of a flat id: ``'3:120'``, ``'dep 3:120'`` for pair tasks, ``'mlp 3:120'`` at the MLP site.

    >>> neuron_label(385, 384, 7), neuron_label(3073, 3072, 12, site="mlp")
    ('1:1', 'mlp 1:1')
    """
    half, layer, unit = (int(v) for v in flat_to_layer_unit(flat, layer_size, n_layers))
    core = f"{'mlp ' if site == 'mlp' else ''}{layer}:{unit}"
    return f"{('head', 'dep')[half]} {core}" if pair else core


def parse_neuron(text: str, layer_size: int, n_layers: int, site: str = "hidden") -> int:
    """Parse ``'layer:unit'`` (optionally prefixed ``head``/``dep``, then the site) into a flat id.

    >>> parse_neuron("1:1", 384, 7), parse_neuron("dep 0:0", 384, 7), parse_neuron("mlp 1:1", 3072, 12, "mlp")
    (385, 2688, 3073)
    """
    match = _PARSE.match(str(text))
    if not match:
        example = "mlp 3:120" if site == "mlp" else "3:120"
        raise ValueError(f"neuron must look like 'layer:unit' (e.g. {example!r}), got {text!r}")
    if match.group(2) and match.group(2) != site:
        raise ValueError(f"neuron {text!r} names the {match.group(2)} site, but these neurons are at the {site} site")
    half = 1 if match.group(1) == "dep" else 0
    return layer_unit_to_flat(int(match.group(3)), int(match.group(4)), layer_size, n_layers, half)
