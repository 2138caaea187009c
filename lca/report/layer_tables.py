"""The numbers behind the layer figures, as plain data: layer names, tag × layer counts, tag overlaps and
the layers that hold most neurons.  :mod:`lca.report.viz` draws them; the Layers page's CSVs and captions read them.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..neurons import flat_to_layer_unit

__all__ = ["layer_labels", "tag_layer_table", "tag_overlap_table", "densest_layers"]


def layer_labels(n_layers: int, pair: bool = False, site: str = "hidden") -> list[str]:
    """The label of each entry of a layer histogram (pair tasks: head layers, then dependent layers).

    >>> layer_labels(2), layer_labels(2, pair=True), layer_labels(1, site="mlp")
    (['0', '1'], ['head 0', 'head 1', 'dep 0', 'dep 1'], ['mlp 0'])
    """
    base = [f"mlp {i}" if site == "mlp" else str(i) for i in range(n_layers)]
    return [f"{h} {b}" for h in ("head", "dep") for b in base] if pair else base


def _by_size(per_tag: Mapping[str, Sequence[int]]) -> list[str]:
    return sorted(per_tag, key=lambda t: (-len(per_tag[t]), t))


def tag_layer_table(per_tag: Mapping[str, Sequence[int]], layer_size: int, n_layers: int, pair: bool = False,
                    site: str = "hidden") -> dict:
    """How many of each tag's salient neurons sit in each layer: the numbers of :func:`lca.report.viz.tag_layer_heatmap`.

    Returns
    -------
    dict
        ``{"tags": [T], "layers": [L], "counts": [[T × L] ints]}``: tags with the most neurons first,
        layers labelled by :func:`layer_labels` (``L = n_layers``, twice that for a pair task).

    >>> tag_layer_table({"A": [0, 1, 5], "B": [4]}, 2, 3)
    {'tags': ['A', 'B'], 'layers': ['0', '1', '2'], 'counts': [[2, 0, 1], [0, 0, 1]]}
    """
    labels = layer_labels(n_layers, pair, site)
    tags = _by_size(per_tag)
    counts = []
    for tag in tags:
        half, layer, _ = flat_to_layer_unit(np.asarray(per_tag[tag], dtype=np.int64), layer_size, n_layers)
        counts.append(np.bincount(half * n_layers + layer, minlength=len(labels)).tolist())
    return {"tags": tags, "layers": labels, "counts": counts}


def tag_overlap_table(per_tag: Mapping[str, Sequence[int]]) -> dict:
    """Tag × tag overlap of salient-neuron sets: the numbers of :func:`lca.report.viz.tag_overlap`.

    Returns
    -------
    dict
        ``{"tags": [T], "shared": [[T × T] ints], "jaccard": [[T × T] floats]}``: tags with the most
        neurons first; ``shared`` counts the neurons two tags both picked (the diagonal: the tag's own
        count); ``jaccard`` is shared ÷ picked by either (1.0 on the diagonal).

    >>> t = tag_overlap_table({"A": [1, 2, 3], "B": [3, 4]})
    >>> t["shared"], [[round(v, 2) for v in row] for row in t["jaccard"]]
    ([[3, 1], [1, 2]], [[1.0, 0.25], [0.25, 1.0]])
    """
    tags = _by_size(per_tag)
    sets = [set(per_tag[t]) for t in tags]
    shared = [[len(a & b) for b in sets] for a in sets]
    jaccard = [[(len(a & b) / len(a | b)) if a | b else 0.0 for b in sets] for a in sets]
    return {"tags": tags, "shared": shared, "jaccard": jaccard}


def densest_layers(counts: Sequence[int], share: float = 0.5) -> tuple[int, int, float]:
    """The fewest adjacent layers that together hold at least ``share`` of the neurons.

    ``counts``: neurons per layer.  Among windows of that length, the one holding the most wins.

    Returns
    -------
    (first, last, fraction)
        Layer indices (inclusive) and the fraction of all neurons they hold (0.0 for no neurons).

    >>> densest_layers([1, 1, 6, 5, 1])
    (2, 3, 0.7857)
    >>> densest_layers([1, 1, 6, 5, 1], share=0.4)
    (2, 2, 0.4286)
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return 0, max(len(counts) - 1, 0), 0.0
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    for width in range(1, len(counts) + 1):
        held = cumulative[width:] - cumulative[:-width]  # window sums, by first layer
        best = int(np.argmax(held))
        if held[best] >= share * total:
            return best, best + width - 1, round(float(held[best]) / total, 4)
    return 0, len(counts) - 1, 1.0
