"""Mapping language-specific tags to the 12 universal tags of Petrov et al. (2012)."""
from __future__ import annotations

import pytest

from lca._validation import InputError
from lca.data import Corpus, read_conllu
from lca.formats import read_conll2000
from lca.universal_tags import TAGSETS, UNIVERSAL_TAGS, load_mapping, to_universal

UD_UPOS = ("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X").split()


@pytest.mark.parametrize("tagset", list(TAGSETS))
def test_tables_load_and_map_into_the_12_tags(tagset):
    mapping = load_mapping(tagset)
    assert len(mapping) >= 17
    assert set(mapping.values()) <= set(UNIVERSAL_TAGS)


@pytest.mark.parametrize("tagset, tag, universal", [
    ("en-ptb", "NNP", "NOUN"), ("en-ptb", "MD", "VERB"), ("en-ptb", "TO", "PRT"), ("en-ptb", "#", "."),
    ("en-ptb", "PRP$", "PRON"), ("en-ptb", "WDT", "DET"), ("en-ptb", "HYPH", "."),
    ("de-tiger", "APPRART", "ADP"), ("de-tiger", "PTKZU", "PRT"), ("de-tiger", "$(", "."), ("de-tiger", "PAV", "PRON"),
    ("fr-ftb", "CLS", "PRON"), ("fr-ftb", "NPP", "NOUN"), ("fr-ftb", "P+D", "ADP"),
    ("ud", "PROPN", "NOUN"), ("ud", "AUX", "VERB"), ("ud", "SCONJ", "CONJ"), ("ud", "PUNCT", "."),
])
def test_published_entries(tagset, tag, universal):
    assert load_mapping(tagset)[tag] == universal


def test_ud_table_covers_all_17_upos():
    assert set(UD_UPOS) <= set(load_mapping("ud"))


def test_to_universal_adds_upos_and_keeps_the_rest():
    corpus = Corpus((("The", "cats", "sleep"), ("Hi", "!")),
                    {"xpos": (("DT", "NNS", "VBP"), ("UH", "."))}, ((2, 3, 0), (0, 1)), "mine")
    mapped = to_universal(corpus, "en-ptb")
    assert mapped.columns["upos"] == (("DET", "NOUN", "VERB"), ("X", "."))
    assert mapped.columns["xpos"] == corpus.columns["xpos"]
    assert (mapped.sentences, mapped.heads, mapped.name) == (corpus.sentences, corpus.heads, "mine")
    assert "upos" not in corpus.columns  # the input is not changed


def test_ud_tagset_maps_upos_into_another_column():
    corpus = Corpus((("Paris", "is"),), {"upos": (("PROPN", "AUX"),)})
    assert to_universal(corpus, "ud", target="upos12").columns["upos12"] == (("NOUN", "VERB"),)
    assert to_universal(corpus, "ud").columns["upos"] == (("NOUN", "VERB"),)


def test_unknown_tags_are_named_with_their_place():
    corpus = Corpus((("a", "b"), ("c", "d")), {"xpos": (("DT", "FOO"), ("BAR", "FOO"))}, name="mine")
    with pytest.raises(InputError, match=r"mine: xpos tags not in the en-ptb table: 'FOO' \(sentence 1, word 2 'b'\), "
                                         r"'BAR' \(sentence 2, word 1 'c'\); is 'en-ptb' the tagset"):
        to_universal(corpus, "en-ptb")


def test_empty_xpos_hint():
    corpus = Corpus((("Je",),), {"xpos": (("_",),), "upos": (("PRON",),)}, name="fr")
    with pytest.raises(InputError, match=r"'_' \(sentence 1, word 1 'Je'\); fr has no xpos annotation: .*tagset='ud'"):
        to_universal(corpus, "fr-ftb")


@pytest.mark.parametrize("tagset, source, match", [
    ("en-xyz", None, r"tagset must be one of en-ptb, de-tiger, fr-ftb, ud or the path"),
    ("en-ptb", "chunk", r"mine has no 'chunk' column to map; its columns are xpos"),
])
def test_bad_arguments(tagset, source, match):
    corpus = Corpus((("a",),), {"xpos": (("DT",),)}, name="mine")
    with pytest.raises(InputError, match=match):
        to_universal(corpus, tagset, source=source)


def test_custom_map_file(tmp_path):
    path = tmp_path / "mine.map"
    path.write_text("# my tags\nN\tNOUN\nV\tVERB\n#\t.\n")
    corpus = Corpus((("run", "#"),), {"xpos": (("V", "#"),)})
    assert to_universal(corpus, str(path)).columns["upos"] == (("VERB", "."),)
    bad = tmp_path / "bad.map"
    bad.write_text("N\tNOUN\nV VERB\n")
    with pytest.raises(InputError, match=rf"{bad}, line 2: expected TAG<tab>UNIVERSAL .* found 'V VERB'"):
        load_mapping(str(bad))


@pytest.mark.parametrize("relative, tagset", [
    ("conll2000/test.txt", "en-ptb"),
    ("ud_english_ewt/en_ewt-ud-dev.conllu", "en-ptb"),
    ("ud_german_gsd/de_gsd-ud-test.conllu", "de-tiger"),
    ("ud_french_pud/fr_pud-ud-test.conllu", "ud"),
])
def test_real_corpora_map_completely(shared_data, relative, tagset):
    path = shared_data / relative
    corpus = read_conll2000(path) if path.suffix == ".txt" else read_conllu(path)
    mapped = to_universal(corpus, tagset, target="u12")
    tags = {t for s in mapped.columns["u12"] for t in s}
    assert {"NOUN", "VERB", "ADP", "DET", "."} <= tags <= set(UNIVERSAL_TAGS)
    if "upos" in corpus.columns and tagset != "ud":
        # Language-specific and UD tags, both folded to 12, mostly agree (they differ by design, e.g. PTB DT vs UD PRON).
        folded = to_universal(corpus, "ud", target="ud12").columns["ud12"]
        pairs = [(a, b) for s, t in zip(mapped.columns["u12"], folded) for a, b in zip(s, t)]
        assert sum(a == b for a, b in pairs) / len(pairs) > 0.9
