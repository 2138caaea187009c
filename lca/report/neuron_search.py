"""From a word, a pattern, a tag or a typed word to the neurons that respond to it, and the tables a run's
single-neuron statistics (:mod:`.neuron_stats`) fill: each neuron's best tag, the teaching table, the export.

A neuron here is a *feature* of the statistics (index ``f`` into ``stats.neurons``, its flat id); rows name it
by :func:`lca.neurons.neuron_label` and carry its LCA rank (1 = most salient).  Plain data out.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from .._validation import InputError
from ..neurons import flat_to_layer_unit, neuron_label
from .explore import top_words
from .neuron_stats import NeuronStats, neuron_stats

__all__ = ["p_text", "labeller", "lca_ranks", "neuron_rows", "tag_search", "word_search", "token_search", "best_tags",
           "teaching_table", "table_columns", "matching_words"]


def p_text(log10: float) -> str:
    """A p- or q-value from its log10, readable below float's range (strong detectors reach p < 1e-300).

    >>> p_text(-2.5), p_text(-1234.5), p_text(float("nan"))
    ('3.2e-03', '3.2e-1235', '–')
    """
    if not np.isfinite(log10):
        return "–"
    exponent = int(np.floor(log10))
    mantissa = 10.0 ** (log10 - exponent)
    if mantissa >= 9.95:  # rounds up to the next power
        mantissa, exponent = 1.0, exponent + 1
    return f"{mantissa:.1f}e{exponent:+03d}" if exponent > -100 else f"{mantissa:.1f}e{exponent}"


def labeller(result):
    """``flat id -> label`` in this run (``'3:120'``, ``'dep 3:120'``, ``'mlp 3:120'``)."""
    return lambda flat: neuron_label(int(flat), result.layer_size, result.n_layers, result.pair, result.site)


def lca_ranks(result, neurons: np.ndarray) -> np.ndarray:
    """(F,) 1-based LCA rank of each flat id (0 where the ranking lacks it)."""
    ranks = np.zeros(int(max(np.max(neurons, initial=0), max(result.ranking, default=0))) + 1, dtype=np.int64)
    ranks[np.asarray(result.ranking, dtype=np.int64)] = np.arange(1, len(result.ranking) + 1)
    return ranks[np.asarray(neurons, dtype=np.int64)]


def _weights(result, neurons: np.ndarray, t: int) -> np.ndarray | None:
    w = result.weights
    if w is None or t < 0 or np.max(neurons, initial=0) >= w.shape[0]:
        return None
    return np.asarray(w[np.asarray(neurons), t], dtype=np.float64)


def neuron_rows(stats: NeuronStats, features: Sequence[int], t: int, result, alpha: float = 0.05) -> list[dict]:
    """One row per feature for tag index ``t`` of ``stats``: the neuron, its statistics and its LCA rank.

    Returns ``{"neuron" (flat id), "label", "lca_rank", "weight", "tag", "auroc", "auroc_ci", "sign",
    "smd", "smd_ci", "mi", "p", "q", "log10_p", "log10_q", "significant", "control_auroc", "selectivity"}``
    (``p`` and ``q`` are 0.0 below float's range: :func:`p_text` of their log10 reads).
    """
    features = np.asarray(features, dtype=np.int64)
    flats = stats.neurons[features]
    name, ranks = labeller(result), lca_ranks(result, flats)
    tag = stats.tags[t]
    probe_t = list(result.tags).index(tag) if tag in result.tags else -1
    weights = _weights(result, flats, probe_t)
    sig = stats.significant(alpha)
    rows = []
    for k, f in enumerate(features):
        rows.append({"neuron": int(flats[k]), "label": name(flats[k]), "lca_rank": int(ranks[k]) or None,
                     "weight": None if weights is None else float(weights[k]), "tag": tag,
                     "auroc": float(stats.auroc[f, t]), "auroc_ci": (float(stats.auroc_lo[f, t]), float(stats.auroc_hi[f, t])),
                     "sign": int(stats.sign[f, t]), "smd": float(stats.smd[f, t]),
                     "smd_ci": (float(stats.smd_lo[f, t]), float(stats.smd_hi[f, t])), "mi": float(stats.mi[f, t]),
                     "p": float(10.0 ** stats.log10_p[f, t]), "q": float(10.0 ** stats.log10_q[f, t]),
                     "log10_p": float(stats.log10_p[f, t]), "log10_q": float(stats.log10_q[f, t]),
                     "significant": bool(sig[f, t]), "control_auroc": float(stats.control_auroc[f, t]),
                     "selectivity": float(stats.selectivity[f, t])})
    return rows


def _strongest(stats: NeuronStats, t: int, k: int, sign: int | None = None) -> np.ndarray:
    """Features by strength for tag ``t`` (ties: smaller p first), only those of ``sign`` when given."""
    strength = np.nan_to_num(stats.strength[:, t], nan=0.0)
    keep = np.arange(len(strength)) if sign is None else np.flatnonzero(stats.sign[:, t] == sign)
    order = keep[np.lexsort((np.nan_to_num(stats.log10_p[keep, t], nan=0.0), -strength[keep]))]
    return order[:k]


def tag_search(stats: NeuronStats, tag: str, result, k: int = 20, sign: int | None = None,
               alpha: float = 0.05) -> list[dict]:
    """The ``k`` neurons that best separate ``tag`` from the rest (either direction, or ``sign`` +1/−1 only)."""
    if tag not in stats.tags:
        raise InputError(f"tag must be one of the run's tags ({', '.join(stats.tags[:20])}"
                         f"{', ...' if len(stats.tags) > 20 else ''}); got {tag!r}")
    t = stats.tags.index(tag)
    return neuron_rows(stats, _strongest(stats, t, k, sign), t, result, alpha)


def matching_words(words: Sequence[str], pattern: str, regex: bool = False) -> np.ndarray:
    """Bool mask of the words a plain word (case-insensitive, whole word) or a regular expression
    (``re.search``, case as written; ``(?i)`` for any case) matches.

    >>> matching_words(["biggest", "big", "Best"], "est$", regex=True).tolist()
    [True, False, True]
    >>> matching_words(["The", "the", "then"], "the").tolist()
    [True, True, False]
    """
    if not pattern or not pattern.strip():
        raise InputError("type a word or a pattern to search for")
    if regex:
        try:
            compiled = re.compile(pattern)
        except re.error as err:
            raise InputError(f"pattern {pattern!r} is not a valid regular expression: {err}") from None
        return np.fromiter((bool(compiled.search(w)) for w in words), dtype=bool, count=len(words))
    wanted = pattern.strip().casefold()
    return np.fromiter((w.casefold() == wanted for w in words), dtype=bool, count=len(words))


def word_search(acts: np.ndarray, words: Sequence[str], pattern: str, result, regex: bool = False, k: int = 20,
                neurons: np.ndarray | None = None, alpha: float = 0.05) -> tuple[list[dict], dict]:
    """The neurons that best separate the words matching ``pattern`` (:func:`matching_words`) from every other
    word of the corpus whose ``(n_words, C)`` activations are ``acts``: the same statistics as for a tag, the
    pattern standing in for the tag (Benjamini–Hochberg over the C neurons).

    Returns ``(rows as neuron_rows, {"n_matches", "types": most frequent matched words})``.
    """
    mask = matching_words(words, pattern, regex)
    n_match = int(mask.sum())
    if n_match == 0 or n_match == len(words):
        raise InputError(f"{pattern!r} matches {'no' if n_match == 0 else 'every'} word of the corpus: "
                         "nothing to compare with")
    label = f"“{pattern}”"
    stats = neuron_stats(acts, np.where(mask, label, "").tolist(), [label],
                         neurons=neurons if neurons is not None else np.arange(acts.shape[1]))
    types, counts = np.unique(np.asarray(words)[mask], return_counts=True)
    top = [str(types[i]) for i in np.argsort(-counts, kind="stable")[:12]]
    return neuron_rows(stats, _strongest(stats, 0, k), 0, result, alpha), {"n_matches": n_match, "types": top}


def token_search(values: np.ndarray, stats: NeuronStats, result, k: int = 20, alpha: float = 0.05) -> list[dict]:
    """The neurons a typed word moves furthest from their usual value: ``z = (value − mean) / sd`` over the
    corpus (``values``: the word's ``(C,)`` activations; a pair run compares with its head half), each with its
    best tag's statistics (:func:`best_tags`) and ``z``."""
    values = np.asarray(values, dtype=np.float64)
    C = len(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(stats.sd[:C] > 0, (values - stats.mean[:C]) / stats.sd[:C], 0.0)
    order = np.argsort(-np.abs(z), kind="stable")[:k]
    best, _ = best_tags(stats, alpha)
    rows = []
    for f in order:
        row = neuron_rows(stats, [f], int(best[f]), result, alpha)[0]
        rows.append({**row, "z": float(z[f]), "activation": float(values[f])})
    return rows


def best_tags(stats: NeuronStats, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's best tag (index, by strength among its significant tags, else among all) and that strength
    ((F,) each; strength NaN where no tag could be tested)."""
    strength = np.nan_to_num(stats.strength, nan=0.0)
    sig = stats.significant(alpha)
    scored = np.where(sig, strength + 1.0, strength)  # a significant tag first
    best = scored.argmax(axis=1)
    value = stats.strength[np.arange(len(best)), best]
    return best, value


def teaching_table(stats: NeuronStats, acts: np.ndarray, words: Sequence[str], word_tags: Sequence[str], result,
                   k_words: int = 8, alpha: float = 0.05) -> list[dict]:
    """Per tag, the best single-neuron detector: its row (:func:`neuron_rows`) and its top ``k_words`` words at the
    end that fires for the tag, with the share of them carrying the tag.  Significant detectors first, strongest
    first (a tag of one or two words reaches AUROC 1 by chance and is not significant); tags without examples are
    left out."""
    out = []
    C = acts.shape[1]
    for t, tag in enumerate(stats.tags):
        if not stats.n_pos[t]:
            continue
        f = int(_strongest(stats, t, 1)[0])
        row = neuron_rows(stats, [f], t, result, alpha)[0]
        top = top_words(acts, f % C, words, word_tags, k=k_words, sign=row["sign"])
        out.append({**row, "n_pos": int(stats.n_pos[t]), "top_words": [w["word"] for w in top],
                    "top_tagged": sum(w["tag"] == tag for w in top) / len(top) if top else 0.0})
    return sorted(out, key=lambda r: (not r["significant"], -max(r["auroc"], 1 - r["auroc"]), r["tag"]))


def table_columns(stats: NeuronStats, result, alpha: float = 0.05) -> dict[str, np.ndarray | list]:
    """The whole neuron × tag table as columns of equal length ``F × T`` (neuron-major): what the CSV/JSON
    export writes (``lca neurons --export``, the app's download)."""
    F, T = stats.auroc.shape
    flats = stats.neurons
    half, layer, unit = flat_to_layer_unit(flats, result.layer_size, result.n_layers if result.pair else None)
    name = labeller(result)
    labels = [name(f) for f in flats]
    rep = lambda a: np.repeat(np.asarray(a), T)  # noqa: E731
    flat_of = lambda a: np.asarray(a, dtype=np.float64).ravel()  # noqa: E731
    probe = [list(result.tags).index(t) if t in result.tags else -1 for t in stats.tags]
    weights = (np.asarray(result.weights, np.float64)[flats][:, probe] if result.weights is not None
               and np.max(flats, initial=0) < result.weights.shape[0] and min(probe, default=0) >= 0 else None)
    columns = {"neuron": rep(labels).tolist(), "flat_id": rep(flats), "layer": rep(layer), "unit": rep(unit),
               "lca_rank": rep(lca_ranks(result, flats)), "tag": list(stats.tags) * F,
               "n_tag": np.tile(stats.n_pos, F), "auroc": flat_of(stats.auroc), "auroc_lo": flat_of(stats.auroc_lo),
               "auroc_hi": flat_of(stats.auroc_hi), "sign": stats.sign.ravel(), "strength": flat_of(stats.strength),
               "smd": flat_of(stats.smd), "smd_lo": flat_of(stats.smd_lo), "smd_hi": flat_of(stats.smd_hi),
               "mi_bits": flat_of(stats.mi), "control_auroc": flat_of(stats.control_auroc),
               "control_mi_bits": flat_of(stats.control_mi), "selectivity": flat_of(stats.selectivity),
               "p": 10.0 ** flat_of(stats.log10_p), "q_bh": 10.0 ** flat_of(stats.log10_q),
               "log10_p": flat_of(stats.log10_p), "log10_q": flat_of(stats.log10_q),
               "significant": stats.significant(alpha).ravel()}
    if result.pair:
        columns["half"] = np.where(rep(half) == 1, "dep", "head").tolist()
    if weights is not None:
        columns["probe_weight"] = weights.ravel()
    return columns
