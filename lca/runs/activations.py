"""A finished run's activation matrices: from the cache its ``result.json`` names, recomputed when evicted.

The one way a finished run's train or test activations are read back (the app's explorer and the
neuron statistics of :mod:`lca.report.neuron_stats`): the key and cache folder come from
``result.activation_keys``; a matrix no longer in the cache is extracted again with the run's
model, site, aggregation and held columns (``--layers`` / ``--screen``), under the same key.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .._validation import InputError, check_choice
from ..data.corpus import Corpus
from ..store.cache import ActivationCache

__all__ = ["SPLITS", "run_activations", "feature_neurons"]

SPLITS = ("test", "train")


def run_activations(result, corpus: Corpus, split: str = "test", load: Callable | None = None,
                    cache: ActivationCache | None = None) -> np.ndarray:
    """``(n_words, C)`` activations (float16 memory map, read-only) of the run's ``split`` corpus.

    ``C`` is every neuron of the site, or the held columns (``result.activation_keys.columns``).
    ``load(run_config)`` returns the loaded model when the matrix must be recomputed (default:
    :func:`lca.models.loading.load_model`); ``corpus`` must be the run's own ``split`` corpus.
    """
    check_choice("split", split, SPLITS)
    keys = result.activation_keys
    cache = cache or ActivationCache(keys.cache_dir or None)
    acts = cache.get(keys.test if split == "test" else keys.train)
    if acts is None:
        from ..models.loading import load_model
        from .pipeline import corpus_activations

        cfg = result.run_config
        loaded = (load or load_model)(cfg)
        held = keys.columns
        acts, _, _ = corpus_activations(loaded, corpus, cfg.aggregation, cache, site=result.site,
                                        columns=None if held is None else np.asarray(held))
    if acts.shape[0] != corpus.n_words:
        raise InputError(f"the run's {split} activations have {acts.shape[0]} rows but its {split} corpus has "
                         f"{corpus.n_words} words: give the run's own corpus")
    return acts


def feature_neurons(result, n_columns: int) -> np.ndarray:
    """Flat neuron id of each feature the probe saw: the site's neuron of each activation column (its held
    columns, else all), and for a pair task the same again shifted into the dependent half.

    >>> from types import SimpleNamespace as NS
    >>> r = NS(activation_keys=NS(columns=(1, 3)), pair=True, n_layers=2, layer_size=2)
    >>> feature_neurons(r, 2).tolist()
    [1, 3, 5, 7]
    """
    held = result.activation_keys.columns
    within = np.arange(n_columns, dtype=np.int64) if held is None else np.asarray(held, dtype=np.int64)
    return np.concatenate([within, within + result.n_layers * result.layer_size]) if result.pair else within
