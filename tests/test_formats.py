"""Readers of column, CoNLL-2000, PMB and CoNLL-U files; their errors; the size limits."""
from __future__ import annotations

import re

import pytest

from lca._validation import InputError
from lca.data.corpus import Corpus, read_conllu
from lca.data.formats import check_file_size, check_limits, read_columns, read_conll2000, read_corpus, read_pmb

DEMO_HEADER = "# columns = form xpos upos sem chunk\n"
PMB_HEADER = "# newdoc id = p00/d0001\n# tok:gold\ttok:gold\tsym:gold\tsem:gold\tcat:gold\tsns:gold\trol:gold\n"


def write(tmp_path, text: str | bytes, name: str = "corpus.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def located(path, line: int | None = None) -> str:
    """A regex for an error message that names ``path`` (and ``line``)."""
    return re.escape(str(path)) + (f", line {line}:" if line else "")


def conllu_row(i: int, form: str, head: int | str, rel: str = "dep") -> str:
    return f"{i}\t{form}\t{form.lower()}\tNOUN\tNN\t_\t{head}\t{rel}\t_\t_"


# --- column files ---------------------------------------------------------------------------

def test_columns_by_header_name_and_default_tasks(tmp_path):
    path = write(tmp_path, DEMO_HEADER + "The\tDT\tDET\tDEF\tB-NP\ncat\tNN\tNOUN\tCON\tI-NP\n\n"
                                         "# sent_id = 2\nHi\tUH\tINTJ\tGRE\tO\n")
    corpus = read_columns(path, "form")
    assert corpus.sentences == (("The", "cat"), ("Hi",))
    assert set(corpus.columns) == {"xpos", "upos", "sem", "chunk"}
    assert corpus.columns["sem"] == (("DEF", "CON"), ("GRE",))
    only = read_columns(path, 0, {"chunk": "chunk", "xpos": 1})
    assert only.columns == {"chunk": (("B-NP", "I-NP"), ("O",)), "xpos": (("DT", "NN"), ("UH",))}


def test_columns_space_separated_without_header(tmp_path):
    path = write(tmp_path, "The  DT B-NP\ncat NN   I-NP\n")
    corpus = read_columns(path, 0, {"xpos": 1, "chunk": "2"})
    assert corpus.sentences == (("The", "cat"),) and corpus.columns["chunk"] == (("B-NP", "I-NP"),)


def test_columns_tab_file_keeps_spaces_in_words_and_hash_words(tmp_path):
    path = write(tmp_path, "# a comment\nNew York\tNNP\n#\t#\n# inside a sentence\tSYM\n")
    corpus = read_columns(path, 0, {"xpos": 1})
    assert corpus.sentences == (("New York", "#", "# inside a sentence"),)


@pytest.mark.parametrize("kwargs, match", [
    ({"word_column": "word"}, r"word_column = 'word' is not a column of .*; its columns are form, xpos"),
    ({"label_columns": {"pos": 1}}, r"label_columns keys must be tasks among .*got 'pos'"),
    ({"label_columns": {"xpos": 7}}, r"label_columns\['xpos'\] is column 7 \(0-based\), but .*only 5 columns"),
    ({"word_column": -1}, r"word_column must be a 0-based column index >= 0; got -1"),
    ({"sep": "comma"}, r"sep must be one of 'auto', 'tab', 'space'; got 'comma'"),
])
def test_columns_bad_arguments(tmp_path, kwargs, match):
    path = write(tmp_path, DEMO_HEADER + "The\tDT\tDET\tDEF\tB-NP\n")
    with pytest.raises(InputError, match=match):
        read_columns(path, **kwargs)


def test_columns_names_need_a_header(tmp_path):
    path = write(tmp_path, "The\tDT\n")
    with pytest.raises(InputError, match=r"names column 'xpos', but .* has no '# columns = \.\.\.' header"):
        read_columns(path, 0, {"xpos": "xpos"})
    with pytest.raises(InputError, match=r"has no '# columns = \.\.\.' header line: give label_columns"):
        read_columns(path)
    with pytest.raises(InputError, match=r"line 1 has only 2 columns"):
        read_columns(path, 0, {"xpos": 2})


def test_columns_space_line_in_tab_file_gets_a_hint(tmp_path):
    path = write(tmp_path, "The\tDT\ncat NN\n")
    with pytest.raises(InputError, match=located(path, 2) + r" expected 2 tab-separated .* found 1.*looks space-separated"):
        read_columns(path, 0, {"xpos": 1})


def test_columns_empty_field(tmp_path):
    path = write(tmp_path, "The\tDT\tB-NP\ncat\t\tI-NP\n")
    with pytest.raises(InputError, match=located(path, 2) + r" column 2 is empty"):
        read_columns(path, 0, {"xpos": 1, "chunk": 2})


def test_columns_only_comments(tmp_path):
    path = write(tmp_path, DEMO_HEADER + "# nothing else\n")
    with pytest.raises(InputError, match=located(path) + r": no sentences found"):
        read_columns(path, "form")


# --- malformed files, every format ----------------------------------------------------------

def _read_columns(path):
    return read_columns(path, "form")


CASES = [
    # reader, content, line of the error (None: file-level), message after the location
    (_read_columns, DEMO_HEADER + "The\tDT\tDET\tDEF\tB-NP\tX\n", 2, r" expected 5 tab-separated columns .* found 6"),
    (_read_columns, DEMO_HEADER + "The\tDT\tDET\tDEF\tB-NP\ncat\tNN\tNOUN\tCON\n", 3,
     r" expected 5 tab-separated columns \(header: form xpos upos sem chunk\), found 4"),
    (_read_columns, DEMO_HEADER.encode() + b"caf\xe9\tNN\tNOUN\tCON\tI-NP\n", 2, r" not valid UTF-8 \(byte 0xe9"),
    (_read_columns, "", None, r": the file is empty"),
    (read_conll2000, "Confidence NN B-NP\nin IN B-PP PP\n", 2, r" expected 3 space-separated columns \(word POS chunk\), found 4"),
    (read_conll2000, "Confidence NN B-NP\nin IN\n", 2, r" expected 3 space-separated columns \(word POS chunk\), found 2"),
    (read_conll2000, "Confidence NN B-NP\nin B-PP IN\n", 2, r" expected a chunk tag \(O, B-X or I-X\) in column 3, found 'IN'"),
    (read_conll2000, b"Confidence NN B-NP\n\nna\xefve JJ I-NP\n", 3, r" not valid UTF-8 \(byte 0xef"),
    (read_conll2000, "\n\n", None, r": the file is empty"),
    (read_pmb, PMB_HEADER + "A\tA\ta\tDIS\tnp/n\tO\t[]\tX\n", 3, r" expected 7 tab-separated columns \(tok tok sym sem cat sns rol\), found 8"),
    (read_pmb, PMB_HEADER + "A\tA\ta\tDIS\tnp/n\tO\t[]\ngirl\tgirl\tgirl\tCON\n", 4, r" expected 7 tab-separated columns .* found 4"),
    (read_pmb, PMB_HEADER.encode() + b"A\tA\ta\tDIS\tnp/n\tO\t[]\n\xff\t\xff\n", 4, r" not valid UTF-8 \(byte 0xff"),
    (read_pmb, "", None, r": the file is empty"),
    (read_conllu, "\n".join([conllu_row(1, "A", 2), conllu_row(2, "cat", 0)[:-4]]) + "\n", 2,
     r" expected 10 tab-separated CoNLL-U columns, found 8"),
    (read_conllu, "\n".join([conllu_row(1, "A", 2), conllu_row(2, "cat", 3)]) + "\n", 2,
     r" head '3' is out of range: the sentence has 2 words"),
    (read_conllu, "\n".join([conllu_row(1, "A", 0), conllu_row(1, "cat", 1)]) + "\n", 2, r" duplicate token id"),
    (read_conllu, "\n".join([conllu_row(1, "A", 0), conllu_row(3, "cat", 1)]) + "\n", 2,
     r" missing token id: expected id 2, found 3"),
    (read_conllu, b"1\tcaf\xe9\t_\tNOUN\tNN\t_\t0\troot\t_\t_\n", 1, r" not valid UTF-8"),
    (read_conllu, "", None, r": the file is empty"),
]


@pytest.mark.parametrize("reader, content, line, message", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_malformed_files_name_file_and_line(tmp_path, reader, content, line, message):
    path = write(tmp_path, content)
    with pytest.raises(InputError, match=located(path, line) + message):
        reader(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"no such file"):
        read_pmb(tmp_path / "absent.conll")


# --- CoNLL-2000 and PMB ---------------------------------------------------------------------

def test_conll2000_reads_hash_as_a_word(tmp_path):
    path = write(tmp_path, "# # B-NP\n1.8 CD I-NP\n\nHe PRP B-NP\n. . O\n")
    corpus = read_conll2000(path)
    assert corpus.sentences == (("#", "1.8"), ("He", "."))
    assert corpus.columns == {"xpos": (("#", "CD"), ("PRP", ".")), "chunk": (("B-NP", "I-NP"), ("B-NP", "O"))}


def test_pmb_multiword_units_are_one_word_with_spaces(tmp_path):
    text = ("### Generated by the command:\n" + PMB_HEADER + "# raw sent = Charles de Gaulle came.\n"
            "Charles~de~Gaulle\tCharles~de~Gaulle\tcharles~de~gaulle\tPER\tn\tmale.n.02\t[]\n"
            "came\tcame\tcome~upon\tEPS\ts:dcl\\np\tcome_upon.v.01\t[Agent]\n"
            "~\t~\t~\tNIL\tpunct\tO\t[]\n\n" + PMB_HEADER + "Hi\tHi\thi\tGRE\tn\tO\t[]\n")
    corpus = read_pmb(write(tmp_path, text))
    assert corpus.sentences == (("Charles de Gaulle", "came", "~"), ("Hi",))
    assert corpus.columns["sem"] == (("PER", "EPS", "NIL"), ("GRE",))
    assert corpus.columns["ccg"][0] == ("n", "s:dcl\\np", "punct")
    assert corpus.available_tasks()[:2] == ("sem", "ccg")


def test_pmb_layer_order_from_header(tmp_path):
    text = "# sem:gold\ttok:gold\tcat:gold\nPER\tNew~York\tn\n"
    corpus = read_pmb(write(tmp_path, text))
    assert corpus.sentences == (("New York",),) and corpus.columns == {"sem": (("PER",),), "ccg": (("n",),)}


def test_real_pmb_and_conll2000(shared_data):
    pmb = read_pmb(shared_data / "pmb_4.0.0/en/gold/dev.conll")
    assert len(pmb.sentences) == 1174
    assert not any("~" in w for s in pmb.sentences for w in s)
    assert any(" " in w for s in pmb.sentences for w in s)
    chunks = read_conll2000(shared_data / "conll2000/test.txt")
    assert (len(chunks.sentences), chunks.n_words) == (2012, 47377)


# --- limits and dispatch --------------------------------------------------------------------

def test_file_size_limit(tmp_path):
    path = write(tmp_path, "The DT B-NP\n" * 100)
    check_file_size(path, max_bytes=10_000)
    with pytest.raises(InputError, match=located(path) + r" is 0\.0 MiB; the limit is 0 MiB"):
        check_file_size(path, max_bytes=100)
    with pytest.raises(InputError, match=r"is 0\.0 MiB; the limit"):
        read_corpus(path, "conll2000", max_bytes=100)


def test_corpus_limits():
    corpus = Corpus((("a", "b"), ("c",)), name="mine")
    check_limits(corpus, max_sentences=2, max_words=3)
    with pytest.raises(InputError, match=r"mine has 2 sentences; the limit is 1: sample it"):
        check_limits(corpus, max_sentences=1)
    with pytest.raises(InputError, match=r"mine has 3 words; the limit is 2"):
        check_limits(corpus, max_words=2)
    with pytest.raises(InputError, match=r"max_words must be > 0; got 0"):
        check_limits(corpus, max_words=0)


def test_read_corpus_dispatch(tmp_path):
    path = write(tmp_path, "The\tDT\ncat\tNN\n")
    corpus = read_corpus(path, "columns", name="x", label_columns={"xpos": 1})
    assert corpus.name == "x" and corpus.columns["xpos"] == (("DT", "NN"),)
    with pytest.raises(InputError, match=r"fmt must be one of 'conllu', 'columns', 'conll2000', 'pmb'"):
        read_corpus(path, "csv")
    with pytest.raises(InputError, match=r"options label_columns apply to fmt='columns' only"):
        read_corpus(path, "conll2000", label_columns={"xpos": 1})
    with pytest.raises(InputError, match=r"x has 2 words; the limit is 1"):
        read_corpus(path, "columns", name="x", label_columns={"xpos": 1}, max_words=1)
