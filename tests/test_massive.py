"""Massive activations: planted first-word and delimiter neurons are flagged, ordinary sparse neurons are not."""
from __future__ import annotations

import numpy as np
import pytest

from lca.report.massive import massive_neurons


def _corpus(n_sentences=30, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 12, size=n_sentences)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    vocab = ["the", "cat", "sat", "on", "mat", "dogs", "ran", "in", "paris"]
    words = []
    for n in lengths:
        words += [str(w) for w in rng.choice(vocab, size=n - 1)] + ["."]
    return offsets, words


def test_planted_massive_neurons_are_flagged_and_ordinary_ones_are_not():
    offsets, words = _corpus()
    n = len(words)
    rng = np.random.default_rng(1)
    acts = rng.normal(size=(n, 8)).astype(np.float32)  # columns 0-3 in layer 0, 4-7 in layer 1
    acts[offsets[:-1], 1] = 3e4  # the attention sink: every sentence's first word, 10^4 × the rest
    dots = np.array([w == "." for w in words])
    acts[dots, 5] = -900.0  # a delimiter neuron
    acts[:, 2] = 0.0
    acts[np.array([w == "cat" for w in words]), 2] = 4.0  # sparse but of ordinary size: not massive
    acts[:, 6] = rng.standard_t(2, size=n)  # heavy tails, spread over many words
    acts[offsets[:-1], 7] = 1e3  # huge on first words, but half its peak words are elsewhere
    acts[np.flatnonzero(~np.isin(np.arange(n), offsets[:-1]))[:len(offsets) - 1], 7] = 1e3
    flagged = massive_neurons(acts.astype(np.float16), offsets, [0, 0, 0, 0, 1, 1, 1, 1], words)
    assert [(m.column, m.kind) for m in flagged] == [(1, "first word"), (5, "few words")]
    sink, dot = flagged
    assert sink.layer == 0 and sink.n_peak_words == len(offsets) - 1 and sink.first_word_share == 1.0
    assert sink.peak == pytest.approx(3e4, rel=1e-3) and sink.rest < 10 and sink.ratio > 1e3
    assert dot.words == (".",) and dot.layer == 1 and dot.to_dict()["words"] == ["."]


def test_lengths_must_match():
    with pytest.raises(ValueError, match="layers must have 2 entries"):
        massive_neurons(np.zeros((3, 2)), [0, 3], [0], ["a", "b", "c"])
