"""What one neuron does over a corpus, and what the probe says about typed text.

Plain arrays in, plain lists and dicts out: the app's neuron explorer and playground
render these.  ``acts`` is always a corpus's ``(n_words, D)`` activation matrix; a neuron
is a flat id (see :mod:`lca.neurons`).  For the dependency-pair task the probe sees ``2 * D``
features, head then dependent, and both halves of a neuron read the same word column
(:func:`neuron_column`): over running text a neuron is shown on every word.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Mapping, Sequence

import numpy as np

from .._validation import InputError
from ..data.corpus import EMPTY, Corpus, task_examples

__all__ = ["neuron_column", "neuron_scale", "normalize", "preferred_sign", "weight_sign", "word_tags", "top_words",
           "dominant_tag", "tag_purity", "neuron_tags", "tag_neuron_rows", "top_sentences", "random_sentences",
           "sentence_values", "tag_distribution", "tokenize", "sentence_activations", "predict_words"]

_WORD = re.compile(r"\d+(?:[.,]\d+)*|\w+(?:[-'’]\w+)*|[^\w\s]")


def neuron_column(flat: int, n_columns: int) -> int:
    """The activation column of a flat neuron id (pair tasks: both halves map to the word's column).

    >>> neuron_column(5, 4), neuron_column(2, 4)
    (1, 2)
    """
    if flat < 0:
        raise InputError(f"neuron id must be >= 0; got {flat}")
    return int(flat) % int(n_columns)


def neuron_scale(acts: np.ndarray, column: int) -> float:
    """Largest absolute activation of the neuron over the corpus (1.0 for a neuron that is always 0).

    >>> neuron_scale(np.array([[1.0], [-3.0]]), 0)
    3.0
    """
    values = np.asarray(acts[:, column], dtype=np.float32)
    scale = float(np.abs(values).max()) if len(values) else 0.0
    return scale if scale > 0 else 1.0


def normalize(values, scale: float) -> np.ndarray:
    """``values / scale`` clipped to [-1, 1]: the same neuron is comparable across sentences.

    >>> normalize([2.0, -8.0], 4.0).tolist()
    [0.5, -1.0]
    """
    return np.clip(np.asarray(values, dtype=np.float32) / float(scale), -1.0, 1.0)


def preferred_sign(acts: np.ndarray, column: int) -> int:
    """+1 if the neuron's largest excursion over the corpus is positive, else -1.

    >>> preferred_sign(np.array([[1.0], [-3.0]]), 0)
    -1
    """
    values = np.asarray(acts[:, column], dtype=np.float32)
    return 1 if values.max() >= -values.min() else -1


def weight_sign(weights: np.ndarray, neuron: int, tag_index: int) -> int:
    """+1 if the probe's weight from ``neuron`` to the tag is positive, else -1: the end of the
    neuron whose activations argue for the tag.

    Looking there, rather than at the neuron's larger extreme, doubled the share of a tag's
    own words among its top neurons' top-10 words on the demo (14 % against 8 %, base rate 2.5 %;
    docs/fidelity.md).

    >>> weight_sign(np.array([[0.5, -2.0]]), 0, 1)
    -1
    """
    return 1 if weights[neuron, tag_index] > 0 else -1


def word_tags(corpus: Corpus, task: str) -> list[str]:
    """The task's label of every word of the corpus, in flat word order.

    For ``dep-pair`` a word gets the relation of the arc where it is the dependent
    (``root`` for the root); a word without a label (``_`` in its column) gets ``_``.
    """
    examples = task_examples(corpus, task)
    pair = examples.rows.ndim == 2
    tags = ["root" if pair else EMPTY] * corpus.n_words
    for row, label in zip(examples.rows[:, 1] if pair else examples.rows, examples.labels):
        tags[int(row)] = label
    return tags


def dominant_tag(tags: Sequence[str]) -> tuple[str, float]:
    """The most frequent tag and its share.

    >>> dominant_tag(["VBG", "VBG", "NN", "VBG"])
    ('VBG', 0.75)
    """
    if not tags:
        return "", 0.0
    tag, count = Counter(tags).most_common(1)[0]
    return tag, count / len(tags)


def top_words(acts: np.ndarray, column: int, words: Sequence[str], tags: Sequence[str], k: int = 10,
              sign: int = 1, unique: bool = True) -> list[dict]:
    """The ``k`` words where the neuron fires most in direction ``sign`` (+1 or -1).

    With ``unique``, each word type appears once, at its strongest occurrence.

    Returns
    -------
    list of dict
        ``{"word", "tag", "activation", "index"}``, strongest first; ``index`` is the flat word index.

    >>> acts = np.array([[0.1], [0.9], [0.5], [0.9]])
    >>> [(w["word"], w["tag"]) for w in top_words(acts, 0, ["a", "b", "c", "b"], ["X", "Y", "Z", "Y"], k=2)]
    [('b', 'Y'), ('c', 'Z')]
    """
    if sign not in (1, -1):
        raise InputError(f"sign must be 1 or -1; got {sign!r}")
    values = np.asarray(acts[:, column], dtype=np.float32)
    key = -sign * values
    pool = min(len(key), max(8 * k, 64))
    while True:
        # Every word at least as strong as the pool-th strongest, in stable order: the same words and
        # order as a full stable sort, without sorting the whole corpus for each neuron.
        if pool < len(key):
            cut = np.partition(key, pool - 1)[pool - 1]
            candidates = np.flatnonzero(key <= cut)
            order = candidates[np.argsort(key[candidates], kind="stable")]
        else:
            order = np.argsort(key, kind="stable")
        out, seen = [], set()
        for index in order:
            word = words[index]
            if unique and word in seen:
                continue
            seen.add(word)
            out.append({"word": word, "tag": tags[index], "activation": float(values[index]), "index": int(index)})
            if len(out) == k:
                return out
        if pool >= len(key):
            return out
        pool = min(len(key), 4 * pool)  # repeated words used up the pool: look further


def tag_purity(acts: np.ndarray, column: int, words: Sequence[str], tags: Sequence[str], tag: str, k: int = 10,
               sign: int = 1) -> float:
    """Share of the neuron's ``k`` top-activating words (:func:`top_words`, direction ``sign``) tagged ``tag``.

    The purity of a neuron for the tag it was picked for: 1.0 when every top word carries the tag.

    >>> acts = np.array([[0.1], [0.9], [0.5], [0.8]])
    >>> tag_purity(acts, 0, ["a", "b", "c", "d"], ["X", "Y", "Z", "Y"], "Y", k=2)
    1.0
    >>> tag_purity(acts, 0, ["a", "b", "c", "d"], ["X", "Y", "Z", "Y"], "Y", k=4)
    0.5
    """
    top = top_words(acts, column, words, tags, k=k, sign=sign)
    return sum(t["tag"] == tag for t in top) / len(top) if top else 0.0


def showcase_neuron(ranking: Sequence[int], per_tag: Mapping[str, Sequence[int]], weights: np.ndarray | None,
                    tags: Sequence[str], acts: np.ndarray, column_of, words: Sequence[str], word_tags: Sequence[str],
                    top: int = 20, k: int = 10) -> tuple[int, str, float, int] | None:
    """``(neuron, tag, purity, rank)``: of the ``top`` ranked neurons, the one whose ``k`` top words most often
    carry a tag that picked it (:func:`tag_purity` at the end that argues for the tag), the better rank on a tie;
    None when none has a tag and a column (``column_of(flat)``, None for a neuron the matrix lacks)."""
    best = None
    for rank, n in enumerate(ranking[:top], start=1):
        column = column_of(int(n))
        for row in neuron_tags(int(n), per_tag, weights, tags) if column is not None else ():
            sign = (preferred_sign(acts, column) if weights is None
                    else weight_sign(weights, int(n), list(tags).index(row["tag"])))
            purity = tag_purity(acts, column, words, word_tags, row["tag"], k=k, sign=sign)
            if best is None or purity > best[2]:
                best = (int(n), row["tag"], purity, rank)
    return best


def neuron_tags(neuron: int, per_tag: Mapping[str, Sequence[int]], weights: np.ndarray | None,
                tags: Sequence[str]) -> list[dict]:
    """The tags that picked ``neuron`` as salient, each with the probe's signed weight, largest ``|weight|`` first.

    A positive weight makes the neuron's activation evidence *for* the tag (the higher, the more
    likely the tag); a negative one evidence *against* it.  ``weight`` is None without weights.

    Returns
    -------
    list of dict
        ``{"tag", "weight"}``.

    >>> w = np.array([[0.5, -2.0, 0.1]])
    >>> neuron_tags(0, {"A": [0], "B": [0], "C": [1]}, w, ["A", "B", "C"])
    [{'tag': 'B', 'weight': -2.0}, {'tag': 'A', 'weight': 0.5}]
    """
    index = {t: i for i, t in enumerate(tags)}
    rows = [{"tag": t, "weight": None if weights is None else float(weights[neuron, index[t]])}
            for t, members in per_tag.items() if neuron in set(members)]
    return sorted(rows, key=lambda r: -abs(r["weight"] or 0.0))


def tag_neuron_rows(tag: str, neurons: Sequence[int], ranking: Sequence[int], weights: np.ndarray | None,
                    tags: Sequence[str], acts: np.ndarray | None = None, columns: Sequence[int | None] | None = None,
                    words: Sequence[str] | None = None, word_tags: Sequence[str] | None = None,
                    k: int = 10) -> list[dict]:
    """The neurons a tag picked, most salient (lowest rank) first, with their signed weight and purity.

    Parameters
    ----------
    neurons : the tag's flat neuron ids (``LCAResult.per_tag[tag]``).
    ranking : ``LCAResult.ranking``; rank 1 is its first entry.
    acts, columns, words, word_tags : optional
        The test corpus's ``(n_words, D)`` activations, each neuron's column in them (None for a neuron
        the matrix lacks), and the corpus's words and tags: with them each row gets ``purity``,
        :func:`tag_purity` of the neuron's top ``k`` words at the end whose activations argue for the tag
        (:func:`weight_sign`); else ``purity`` is None.

    Returns
    -------
    list of dict
        ``{"neuron", "rank", "weight", "purity"}``; ``weight`` is None without weights.

    >>> w = np.array([[0.1], [-0.9], [0.5]])
    >>> [(r["neuron"], r["rank"], r["weight"]) for r in tag_neuron_rows("A", [1, 2], [2, 0, 1], w, ["A"])]
    [(2, 1, 0.5), (1, 3, -0.9)]
    """
    rank = {int(n): i + 1 for i, n in enumerate(ranking)}
    t = list(tags).index(tag)
    rows = []
    for i, n in enumerate(neurons):
        n = int(n)
        weight = None if weights is None else float(weights[n, t])
        column = None if columns is None else columns[i]
        purity = None
        if acts is not None and column is not None and words is not None and word_tags is not None:
            sign = weight_sign(weights, n, t) if weights is not None else preferred_sign(acts, column)
            purity = tag_purity(acts, column, words, word_tags, tag, k=k, sign=sign)
        rows.append({"neuron": n, "rank": rank.get(n), "weight": weight, "purity": purity})
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["neuron"]))


def top_sentences(acts: np.ndarray, column: int, offsets: np.ndarray, k: int = 5, sign: int = 1) -> list[int]:
    """Indices of the ``k`` sentences with the strongest activation in direction ``sign``.

    ``offsets`` is ``Corpus.sentence_offsets()`` (n_sentences + 1,).

    >>> top_sentences(np.array([[0.0], [1.0], [5.0], [2.0]]), 0, np.array([0, 2, 3, 4]), k=2)
    [1, 2]
    """
    values = sign * np.asarray(acts[:, column], dtype=np.float32)
    peaks = np.maximum.reduceat(values, offsets[:-1]) if len(values) else np.zeros(0)
    return np.argsort(-peaks, kind="stable")[:k].tolist()


def random_sentences(n_sentences: int, k: int = 5, seed: int = 0) -> list[int]:
    """``k`` distinct sentence indices drawn by ``seed``, in corpus order."""
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(n_sentences, size=min(k, n_sentences), replace=False).tolist())


def sentence_values(acts: np.ndarray, column: int, offsets: np.ndarray, indices: Sequence[int]) -> list[np.ndarray]:
    """The neuron's activation over each word of each sentence in ``indices`` (float32 arrays)."""
    return [np.asarray(acts[offsets[i]:offsets[i + 1], column], dtype=np.float32) for i in indices]


def tag_distribution(acts: np.ndarray, column: int, tags: Sequence[str], order: Sequence[str] | None = None,
                     max_per_tag: int = 2000, seed: int = 0) -> dict[str, np.ndarray]:
    """The neuron's activations grouped by tag (each group sampled down to ``max_per_tag``).

    >>> d = tag_distribution(np.array([[1.0], [2.0], [3.0]]), 0, ["A", "B", "A"])
    >>> {k: v.tolist() for k, v in d.items()}
    {'A': [1.0, 3.0], 'B': [2.0]}
    """
    values = np.asarray(acts[:, column], dtype=np.float32)
    tags = np.asarray(tags)
    rng = np.random.default_rng(seed)
    out = {}
    for tag in (order if order is not None else sorted(set(tags.tolist()))):
        group = values[tags == tag]
        if len(group) > max_per_tag:
            group = np.sort(rng.choice(group, size=max_per_tag, replace=False))
        if len(group):
            out[str(tag)] = group
    return out


def tokenize(text: str) -> list[str]:
    """Split typed text into words: numbers, words (with inner hyphens and apostrophes), punctuation.

    >>> tokenize("The well-known cat's 3.5 naps, mostly.")
    ['The', 'well-known', "cat's", '3.5', 'naps', ',', 'mostly', '.']
    """
    return _WORD.findall(text or "")


def _typed_acts(loaded, words: Sequence[str], aggregation: str, site: str = "hidden") -> np.ndarray:
    from ..models.extract import extract_activations

    if not words:
        raise InputError("type a sentence: no words found")
    if len(words) > 400:
        raise InputError(f"the sentence has {len(words)} words; type at most 400")
    return np.asarray(extract_activations(loaded, [list(words)], aggregation, site=site), dtype=np.float32)


def sentence_activations(loaded, words: Sequence[str], neurons: Sequence[int], aggregation: str = "last",
                         site: str = "hidden") -> np.ndarray:
    """``(n_words, len(neurons))`` activations of the given flat neurons (of ``site``) over one typed sentence."""
    acts = _typed_acts(loaded, words, aggregation, site)
    return acts[:, [neuron_column(n, acts.shape[1]) for n in neurons]]


def predict_words(loaded, words: Sequence[str], weights: np.ndarray, tags: Sequence[str],
                  aggregation: str = "last", intercept: np.ndarray | None = None, site: str = "hidden") -> list[dict]:
    """The oracle probe's tag for each typed word.

    Parameters
    ----------
    weights : ndarray, shape (D, T)
        ``LCAResult.weights`` (columns in ``tags`` order); word-level tasks only.
    intercept : ndarray, shape (T,), optional
        The probe's bias; without it the scores are ``x @ weights`` alone.

    Returns
    -------
    list of dict
        ``{"word", "tag", "probability"}`` per word.
    """
    acts = _typed_acts(loaded, words, aggregation, site)
    weights = np.asarray(weights, dtype=np.float32)
    if weights.shape != (acts.shape[1], len(tags)):
        raise InputError(f"weights must have shape (D, T) = {(acts.shape[1], len(tags))} for this model and "
                         f"tag set; got {weights.shape} (a pair task's probe cannot tag single words)")
    scores = acts @ weights + (0.0 if intercept is None else np.asarray(intercept, dtype=np.float32))
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    best = probs.argmax(axis=1)
    return [{"word": w, "tag": tags[b], "probability": float(probs[i, b])} for i, (w, b) in enumerate(zip(words, best))]
