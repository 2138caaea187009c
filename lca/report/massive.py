"""Massive activations: neurons whose activation a few words dominate, by orders of magnitude.

Decoder LLMs put huge values in a few hidden units at a few positions (Sun et al. 2024, "Massive
activations in large language models"): on the first token, the "attention sink", or on delimiters
such as ``.``.  In SmolLM2-135M some units of layers 12–29 reach ~22,600 on the first word of every
sentence against a few hundred anywhere else.  Such a neuron's colour scale, statistics and probe
weight say more about position 0 than about the word: :func:`massive_neurons` flags them so that the
explorer can show them apart and scale its heatmap without their peak words.

A neuron is flagged when its largest ``|activation|`` (the *peak*) is at least ``ratio`` times its
*typical* value: its median ``|activation|`` over the corpus, or its layer's median where that is
larger (a sparse neuron, mostly 0, is not massive for firing at an ordinary size), and when the words
within a tenth of its peak are dominated by one of two things: the first word of a sentence (at least
``first_share`` of them), or a handful of word types (at most ``few``).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

__all__ = ["MassiveNeuron", "massive_neurons"]

_CHUNK = 1024  # columns read at a time: bounded memory on a float16 memory map


@dataclass(frozen=True)
class MassiveNeuron:
    """One flagged neuron.

    Attributes
    ----------
    column : int
        Its column in the activation matrix.
    layer : int
        Its layer (as given to :func:`massive_neurons`).
    peak : float
        Largest ``|activation|`` over the corpus.
    typical : float
        The larger of its median ``|activation|`` and its layer's.
    rest : float
        Largest ``|activation|`` outside its peak words: a colour scale that its peak does not swamp.
    n_peak_words : int
        Words within a tenth of the peak.
    first_word_share : float
        Share of those that begin a sentence.
    words : tuple of str
        The commonest of those words, up to five.
    kind : {'first word', 'few words'}
        What dominates it.
    """

    column: int
    layer: int
    peak: float
    typical: float
    rest: float
    n_peak_words: int
    first_word_share: float
    words: tuple[str, ...]
    kind: str

    @property
    def ratio(self) -> float:
        return self.peak / self.typical if self.typical > 0 else float("inf")

    def to_dict(self) -> dict:
        return {**asdict(self), "words": list(self.words), "ratio": self.ratio}


def massive_neurons(acts: np.ndarray, offsets: Sequence[int], layers: Sequence[int], words: Sequence[str],
                    ratio: float = 100.0, first_share: float = 0.9, few: int = 5) -> list[MassiveNeuron]:
    """The neurons of ``acts`` that a few words dominate (see the module docstring), largest ratio first.

    Parameters
    ----------
    acts : ndarray, shape (n_words, n_columns)
        A corpus's activations (float16 or float32; a memory map is read in blocks of columns).
    offsets : sequence of int, length n_sentences + 1
        ``Corpus.sentence_offsets()``: row ``offsets[i]`` is the first word of sentence ``i``.
    layers : sequence of int, length n_columns
        The layer of each column: the typical value of a neuron is never taken below its layer's.
    words : sequence of str, length n_words
        The corpus's words, in row order.

    >>> rng = np.random.default_rng(0)
    >>> acts = rng.normal(size=(40, 3)).astype(np.float32)
    >>> acts[::8, 1] = 500.0                      # column 1 explodes on each sentence's first word
    >>> flagged = massive_neurons(acts, range(0, 41, 8), [0, 0, 0], ["w"] * 40)
    >>> [(m.column, m.kind, m.n_peak_words, m.first_word_share) for m in flagged]
    [(1, 'first word', 5, 1.0)]
    """
    n_words, n_columns = acts.shape
    layers = np.asarray(layers, dtype=np.int64)
    if len(layers) != n_columns or len(words) != n_words:
        raise ValueError(f"layers must have {n_columns} entries and words {n_words}; got {len(layers)} and {len(words)}")
    first = np.zeros(n_words, dtype=bool)
    first[np.asarray(offsets, dtype=np.int64)[:-1]] = True
    peak, median, layer_abs = np.zeros(n_columns), np.zeros(n_columns), {}
    for start in range(0, n_columns, _CHUNK):
        block = np.abs(np.asarray(acts[:, start:start + _CHUNK], dtype=np.float32))
        peak[start:start + _CHUNK] = block.max(axis=0) if n_words else 0.0
        median[start:start + _CHUNK] = np.median(block, axis=0) if n_words else 0.0
        for layer in np.unique(layers[start:start + _CHUNK]).tolist():  # a sample of the layer's values
            own = block[:, layers[start:start + _CHUNK] == layer]
            layer_abs.setdefault(layer, []).append(own[::max(1, own.size // 200_000 or 1)].ravel())
    layer_median = {layer: float(np.median(np.concatenate(parts))) for layer, parts in layer_abs.items()}
    typical = np.maximum(median, np.array([layer_median[int(layer)] for layer in layers]))
    candidates = np.flatnonzero((typical > 0) & (peak >= ratio * typical))  # typical 0: no scale to compare with
    out = []
    for column in candidates.tolist():
        values = np.abs(np.asarray(acts[:, column], dtype=np.float32))
        top = values >= peak[column] / 10
        top_words = Counter(words[i] for i in np.flatnonzero(top))
        share = float(first[top].mean())
        kind = "first word" if share >= first_share else "few words" if len(top_words) <= few else None
        if kind is None:
            continue
        rest = float(values[~top].max()) if (~top).any() else 0.0
        out.append(MassiveNeuron(int(column), int(layers[column]), float(peak[column]), float(typical[column]), rest,
                                 int(top.sum()), share, tuple(w for w, _ in top_words.most_common(5)), kind))
    return sorted(out, key=lambda m: (-m.ratio, m.column))
