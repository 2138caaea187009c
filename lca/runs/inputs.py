"""The activation matrices a run reads: the one definition of their cache keys, used by the run
(:mod:`.pipeline`), by sweeps (:mod:`lca.scale.sweep`: which runs are finished, which extractions to
share) and by distributed extraction (:mod:`lca.scale.distributed`).

A run of a :class:`~lca.runs.result.RunConfig` reads one matrix per corpus, keyed
(:func:`lca.store.cache.activation_key`) by

- the model: its identity and the precision it runs in (:class:`ModelKey`; a sweep, which has not
  loaded it, tries each precision :func:`lca.models.loading.compute_dtypes` allows, bfloat16 included);
- the corpus's content, the aggregation and the neuron site;
- the neurons the matrix holds (:func:`held_columns`): every neuron of the site, those of
  ``config.layers``, or the columns a screen (``config.screen``) kept.  A screen's columns are known
  only once it has run; a finished run lists what its matrices hold (``activation_keys.columns``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .._validation import InputError
from ..data.corpus import Corpus
from ..models.sites import SiteLayout
from ..store.cache import activation_key, model_identity

__all__ = ["ModelKey", "corpus_key", "held_columns", "layer_columns"]


@dataclass(frozen=True)
class ModelKey:
    """What the activation cache knows a model by: its ``identity`` (:func:`lca.store.cache.model_identity`)
    and ``compute``, the precision it runs in (``float32`` on the CPU; ``float16`` or ``bfloat16`` on a GPU).
    ``name`` (as the run asked for it) only labels the cache entry."""

    name: str
    identity: str
    compute: str

    @classmethod
    def of(cls, loaded) -> "ModelKey":
        """The key of a loaded model (:class:`lca.models.loading.LoadedModel`)."""
        identity = model_identity(loaded.name, loaded.path, loaded.revision,
                                  getattr(loaded.model.config, "_commit_hash", None))
        return cls(loaded.name, identity, str(loaded.dtype).removeprefix("torch."))


def layer_columns(layers: Sequence[int], layout: SiteLayout, name: str = "the model") -> np.ndarray:
    """Flat ids of every neuron of ``layers`` (sorted layer numbers of the site), in order.

    >>> layer_columns([0, 2], SiteLayout("hidden", 3, 2)).tolist()
    [0, 1, 4, 5]
    """
    bad = [layer for layer in layers if layer >= layout.n_layers]
    if bad:
        raise InputError(f"layers {bad} do not exist: {name} has {layout.describe()}")
    return np.concatenate([np.arange(layer * layout.layer_size, (layer + 1) * layout.layer_size) for layer in layers])


def held_columns(config, layout: SiteLayout, screened: np.ndarray | None = None,
                 name: str = "the model") -> np.ndarray | None:
    """Sorted flat ids of the site's neurons a run's matrices hold: the columns a screen kept (``screened``),
    else those of ``config.layers``, else None (every neuron)."""
    if screened is not None:
        return np.asarray(screened, dtype=np.int64)
    return None if config.layers is None else layer_columns(config.layers, layout, name)


def corpus_key(model: ModelKey, corpus: Corpus, aggregation: str, site: str = "hidden",
               columns: np.ndarray | None = None) -> tuple[str, dict]:
    """``(cache key, meta)`` of ``corpus``'s activations under ``model``, holding ``columns`` (None: all of the site).

    >>> from lca.data.corpus import Corpus
    >>> m, c = ModelKey("m", "hub:m@main", "float32"), Corpus((("A", "cat"),))
    >>> corpus_key(m, c, "last")[0] == corpus_key(m, c, "last", columns=[0, 1])[0]
    False
    """
    held = "all" if columns is None else "columns:" + hashlib.sha256(np.asarray(columns, np.int64)).hexdigest()
    key = activation_key(model.identity, corpus.content_hash(), aggregation, layers=held, compute=model.compute,
                         site=site)
    return key, {"model": model.name, "corpus": corpus.name, "aggregation": aggregation, "compute": model.compute,
                 "site": site}
