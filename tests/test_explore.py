"""lca.report.explore: top words, sentences, per-tag distributions, typed text."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import app_corpus
from lca.report import explore
from lca._validation import InputError
from lca.data.corpus import Corpus


@pytest.fixture
def acts():
    # 6 words, 2 neurons: neuron 0 fires on the -ing words, neuron 1 is negative on the last sentence.
    return np.array([[0.1, 0.0], [3.0, 0.2], [0.0, 0.1], [2.0, -1.0], [-0.5, -4.0], [0.2, -0.5]], dtype=np.float16)


WORDS = ["the", "walking", "cat", "singing", "Paris", "."]
TAGS = ["DT", "VBG", "NN", "VBG", "NNP", "."]
OFFSETS = np.array([0, 3, 6])


def test_top_words_and_dominant_share(acts):
    top = explore.top_words(acts, 0, WORDS, TAGS, k=3)
    assert [t["word"] for t in top] == ["walking", "singing", "."]
    assert explore.dominant_tag([t["tag"] for t in top[:2]]) == ("VBG", 1.0)
    neg = explore.top_words(acts, 1, WORDS, TAGS, k=1, sign=-1)
    assert neg[0]["word"] == "Paris" and neg[0]["activation"] == pytest.approx(-4.0)
    with pytest.raises(InputError, match="sign"):
        explore.top_words(acts, 0, WORDS, TAGS, sign=0)


def test_unique_words_keep_strongest():
    acts = np.array([[1.0], [5.0], [2.0]])
    top = explore.top_words(acts, 0, ["a", "a", "b"], ["X", "X", "Y"], k=5)
    assert [(t["word"], t["index"]) for t in top] == [("a", 1), ("b", 2)]


def test_sentences_scale_and_sign(acts):
    assert explore.top_sentences(acts, 0, OFFSETS, k=2) == [0, 1]
    assert explore.top_sentences(acts, 1, OFFSETS, k=1, sign=-1) == [1]
    assert explore.neuron_scale(acts, 1) == pytest.approx(4.0)
    assert explore.preferred_sign(acts, 1) == -1 and explore.preferred_sign(acts, 0) == 1
    assert explore.normalize([2.0, -8.0], 4.0).tolist() == [0.5, -1.0]
    assert explore.neuron_scale(np.zeros((3, 1)), 0) == 1.0
    values = explore.sentence_values(acts, 0, OFFSETS, [1])
    assert values[0].tolist() == pytest.approx([2.0, -0.5, 0.2], abs=1e-3)
    assert sorted(explore.random_sentences(2, k=5)) == [0, 1]


def test_tag_distribution_order_and_sampling(acts):
    dist = explore.tag_distribution(acts, 0, TAGS, order=["VBG", "DT", "JJ"])
    assert list(dist) == ["VBG", "DT"]  # JJ has no word
    assert dist["VBG"].tolist() == pytest.approx([3.0, 2.0])
    big = explore.tag_distribution(np.arange(100.0)[:, None], 0, ["A"] * 100, max_per_tag=10)
    assert len(big["A"]) == 10


def test_pair_neurons_map_to_word_columns():
    assert explore.neuron_column(2688 + 5, 2688) == 5
    with pytest.raises(InputError):
        explore.neuron_column(-1, 10)


def test_word_tags_for_word_and_pair_tasks():
    c = app_corpus(2, 0)
    assert explore.word_tags(c, "xpos") == [t for s in c.columns["xpos"] for t in s]
    pair = Corpus((("she", "runs"),), {"deprel": (("nsubj", "root"),)}, ((2, 0),))
    assert explore.word_tags(pair, "dep-pair") == ["nsubj", "root"]


@pytest.mark.parametrize("text, words", [
    ("The cat's well-known 3.5 naps, mostly.", ["The", "cat's", "well-known", "3.5", "naps", ",", "mostly", "."]),
    ("  ", []), ("Hello!!", ["Hello", "!", "!"]), ("1,000 people", ["1,000", "people"]),
])
def test_tokenize(text, words):
    assert explore.tokenize(text) == words


def test_typed_sentence_prediction_and_activations(tiny_bert):
    from lca.models.extract import extract_activations, load_model

    loaded = load_model(tiny_bert, "cpu")
    words = ["the", "cat", "sat"]
    acts = np.asarray(extract_activations(loaded, [words]), dtype=np.float32)
    D = acts.shape[1]
    weights = np.zeros((D, 2), dtype=np.float32)
    weights[7] = [1.0, -1.0]  # tag A wherever neuron 7 is positive
    preds = explore.predict_words(loaded, words, weights, ["A", "B"])
    assert [p["tag"] for p in preds] == ["A" if v > 0 else "B" for v in acts[:, 7]]
    assert all(0.5 <= p["probability"] <= 1 for p in preds)
    got = explore.sentence_activations(loaded, words, [7, D + 7])
    assert got.shape == (3, 2) and np.allclose(got[:, 0], acts[:, 7], atol=1e-3) and np.allclose(got[:, 1], got[:, 0])
    with pytest.raises(InputError, match="weights must have shape"):
        explore.predict_words(loaded, words, np.zeros((2 * D, 2)), ["A", "B"])
    with pytest.raises(InputError, match="no words"):
        explore.sentence_activations(loaded, [], [0])


def test_weight_sign_looks_at_the_end_that_argues_for_the_tag():
    # Neuron 0 is very negative on NN words (the probe's weight for NN is negative) but its largest
    # excursion is a positive outlier on a DT word: auto by extremes would show the outlier.
    acts = np.array([[-2.0], [-2.1], [5.0], [0.1], [0.0]])
    words, tags = ["cat", "dog", "the", "ran", "a"], ["NN", "NN", "DT", "VBD", "DT"]
    weights = np.array([[-1.5, 0.2, 0.0]])  # tags NN, DT, VBD
    assert explore.preferred_sign(acts, 0) == 1
    sign = explore.weight_sign(weights, 0, 0)
    top = explore.top_words(acts, 0, words, tags, k=2, sign=sign)
    assert sign == -1 and [w["tag"] for w in top] == ["NN", "NN"]


def test_purity_counts_the_tags_own_words_among_the_top_ones(acts):
    # neuron 0's top 3 words: walking, singing (VBG) and "." ; its negative end: Paris (NNP)
    assert explore.tag_purity(acts, 0, WORDS, TAGS, "VBG", k=3) == pytest.approx(2 / 3)
    assert explore.tag_purity(acts, 0, WORDS, TAGS, "VBG", k=2) == 1.0
    assert explore.tag_purity(acts, 0, WORDS, TAGS, "NNP", k=1, sign=-1) == 1.0
    assert explore.tag_purity(acts, 0, WORDS, TAGS, "NN", k=2) == 0.0


def test_top_words_without_sorting_everything_matches_a_full_sort():
    rng = np.random.default_rng(3)
    for n, types in ((5, 3), (500, 4), (3000, 300)):  # few types: the candidate pool must grow
        acts = rng.integers(-4, 5, size=(n, 1)).astype(np.float32)  # many ties
        words = [str(w) for w in rng.integers(0, types, n)]
        for sign in (1, -1):
            order = np.argsort(-sign * acts[:, 0], kind="stable")
            expected, seen = [], set()
            for i in order:
                if words[i] not in seen:
                    seen.add(words[i])
                    expected.append(int(i))
            got = [w["index"] for w in explore.top_words(acts, 0, words, words, k=20, sign=sign)]
            assert got == expected[:20]


def test_neuron_tags_and_a_tags_rows_carry_the_signed_weight():
    weights = np.array([[0.5, -2.0], [0.1, 0.0], [-0.3, 0.4]])  # 3 neurons, tags A, B
    per_tag = {"A": [2, 0], "B": [0]}
    assert explore.neuron_tags(0, per_tag, weights, ["A", "B"]) == [{"tag": "B", "weight": -2.0},
                                                                     {"tag": "A", "weight": 0.5}]
    assert explore.neuron_tags(1, per_tag, weights, ["A", "B"]) == []
    assert explore.neuron_tags(0, per_tag, None, ["A", "B"])[0]["weight"] is None
    acts = np.array([[1.0, 0.0, -2.0], [0.0, 0.0, 1.0], [2.0, 0.0, -1.0]])  # words x, y, z
    rows = explore.tag_neuron_rows("A", per_tag["A"], [0, 1, 2], weights, ["A", "B"], acts, [2, 0], ["x", "y", "z"],
                                   ["A", "B", "A"], k=1)
    assert [(r["neuron"], r["rank"], r["weight"]) for r in rows] == [(0, 1, 0.5), (2, 3, -0.3)]  # by rank
    # neuron 0 (weight +) looks at its top: z (A); neuron 2 (weight -) at its bottom: x (A)
    assert [r["purity"] for r in rows] == [1.0, 1.0]
    assert explore.tag_neuron_rows("A", [2], [0, 1, 2], None, ["A", "B"])[0]["purity"] is None


def test_showcase_is_the_purest_of_the_top_ranks_and_the_better_rank_on_a_tie(acts):
    # neuron 1 (rank 1) was picked by NNP (weight -1: its low end argues for NNP, 1 of its 2 lowest words is
    # NNP); neuron 0 (rank 2) by VBG (weight +1: both of its 2 highest words are VBG): neuron 0 is the purer
    weights = np.array([[1.0, 0.0], [0.0, -1.0]])  # (D, T) over tags VBG, NNP
    per_tag = {"VBG": [0], "NNP": [1]}
    found = explore.showcase_neuron([1, 0], per_tag, weights, ["VBG", "NNP"], acts, lambda n: n, WORDS, TAGS, k=2)
    assert found == (0, "VBG", 1.0, 2)
    assert explore.showcase_neuron([1, 0], per_tag, weights, ["VBG", "NNP"], acts, lambda n: n, WORDS, TAGS, k=2,
                                   top=1) == (1, "NNP", 0.5, 1)
    assert explore.showcase_neuron([1, 0], {}, weights, ["VBG", "NNP"], acts, lambda n: n, WORDS, TAGS) is None
