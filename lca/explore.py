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
from typing import Sequence

import numpy as np

from ._validation import InputError
from .data import EMPTY, Corpus, task_examples

__all__ = ["neuron_column", "neuron_scale", "normalize", "preferred_sign", "word_tags", "top_words",
           "dominant_tag", "top_sentences", "random_sentences", "sentence_values", "tag_distribution",
           "tokenize", "sentence_activations", "predict_words"]

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
    order = np.argsort(-sign * values, kind="stable")
    out, seen = [], set()
    for index in order:
        word = words[index]
        if unique and word in seen:
            continue
        seen.add(word)
        out.append({"word": word, "tag": tags[index], "activation": float(values[index]), "index": int(index)})
        if len(out) == k:
            break
    return out


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
    from .extract import extract_activations

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
