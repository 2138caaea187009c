import numpy as np
import pytest

from lca._validation import InputError
from lca.data.corpus import Corpus, control_labels, read_conllu, read_neurox, suffix_of, task_examples

CONLLU = """# text = The cats sat .
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tcats\tcat\tNOUN\tNNS\t_\t3\tnsubj\t_\t_
3\tsat\tsit\tVERB\tVBD\t_\t0\troot\t_\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
2.1\tghost\t_\t_\t_\t_\t_\t_\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
"""


@pytest.fixture
def conllu(tmp_path):
    path = tmp_path / "a.conllu"
    path.write_text(CONLLU)
    return path


def test_conllu_skips_ranges_and_empty_nodes(conllu):
    corpus = read_conllu(conllu)
    assert corpus.sentences == (("The", "cats", "sat", "."), ("Do", "n't", "go"))
    assert corpus.columns["xpos"][1] == ("VBP", "RB", "VB")
    assert corpus.heads[0] == (2, 3, 0, 3)


def test_tasks(conllu):
    corpus = read_conllu(conllu)
    assert task_examples(corpus, "upos").labels[:3] == ("DET", "NOUN", "VERB")
    assert task_examples(corpus, "position").labels[:4] == ("begin", "begin", "middle", "end")
    assert task_examples(corpus, "suffix").labels[:2] == ("-", "s")
    pairs = task_examples(corpus, "dep-pair")
    assert pairs.rows[:3].tolist() == [[1, 0], [2, 1], [2, 3]]  # (head, dependent) flat word ids; root skipped
    assert pairs.labels[:3] == ("det", "nsubj", "punct")


def test_suffix_inventory():
    assert [suffix_of(w) for w in ["creation", "walked", "biggest", "quickly", "is", "3rd"]] == ["ation", "ed", "est", "ly", "-", "-"]


def test_unknown_task_and_missing_column(conllu):
    corpus = read_conllu(conllu)
    with pytest.raises(InputError, match="task must be one of"):
        task_examples(corpus, "nope")
    with pytest.raises(InputError, match="has no 'sem' annotation"):
        task_examples(corpus, "sem")


def test_control_task_is_per_type_and_seeded(conllu):
    corpus = read_conllu(conllu)
    train = task_examples(corpus, "xpos")
    a, = control_labels(train, seed=1)
    b, = control_labels(train, seed=1)
    assert a == b
    words = Corpus((("the", "the", "the", "x"),), {"xpos": (("DT", "DT", "DT", "NN"),)})
    ex = task_examples(words, "xpos")
    labels, = control_labels(ex, seed=3)
    assert labels[0] == labels[1] == labels[2]
    assert set(labels) <= {"DT", "NN"}


def test_control_labels_follow_the_label_distribution():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(3000)]
    labels = rng.choice(["A", "B"], p=[0.8, 0.2], size=3000)
    corpus = Corpus((tuple(words),), {"xpos": (tuple(labels),)})
    control, = control_labels(task_examples(corpus, "xpos"), seed=0)
    assert 0.75 < np.mean(np.array(control) == "A") < 0.85


def test_neurox_mismatch_names_file_line_and_counts(tmp_path):
    text, tags = tmp_path / "t.txt", tmp_path / "l.txt"
    text.write_text("a b c\nd e\n")
    tags.write_text("X Y Z\nX\n")
    with pytest.raises(InputError, match=r"l\.txt, line 2: 1 tags for 2 words"):
        read_neurox(text, tags)
    tags.write_text("X Y Z\n")
    with pytest.raises(InputError, match="has 1 lines but"):
        read_neurox(text, tags)


def test_neurox_reads(tmp_path):
    text, tags = tmp_path / "t.txt", tmp_path / "l.txt"
    text.write_text("a b c\nd e\n")
    tags.write_text("X Y Z\nX Y\n")
    corpus = read_neurox(text, tags, task="xpos")
    assert corpus.columns["xpos"] == (("X", "Y", "Z"), ("X", "Y"))


def test_subset_and_hash(conllu):
    corpus = read_conllu(conllu)
    assert corpus.subset([1]).sentences == (("Do", "n't", "go"),)
    assert corpus.content_hash() != corpus.subset([1]).content_hash()
    assert corpus.content_hash() == read_conllu(conllu).content_hash()


def _conllu_text(xpos_tags):
    lines = ["# sent_id = 0"]
    for i, tag in enumerate(xpos_tags, start=1):
        lines.append(f"{i}\tw{i}\tw{i}\tNOUN\t{tag}\t_\t{0 if i == 1 else 1}\t{'root' if i == 1 else 'dep'}\t_\t_")
    return "\n".join(lines) + "\n\n"


@pytest.mark.parametrize("fmt, text", [
    ("conllu", _conllu_text(["NN", "VB"])),
    ("columns", "the\tDT\ncat\tNN\n\n"),
    ("conll2000", "the DT B-NP\ncat NN I-NP\n\n"),
])
def test_a_byte_order_mark_is_accepted_in_every_text_format(tmp_path, fmt, text):
    from lca.data.formats import read_corpus

    plain, marked = tmp_path / "plain.txt", tmp_path / "marked.txt"
    plain.write_text(text, encoding="utf-8")
    marked.write_text(text, encoding="utf-8-sig")  # what Windows editors write
    options = {"word_column": 0, "label_columns": {"xpos": 1}} if fmt == "columns" else {}
    assert read_corpus(marked, fmt, **options).sentences == read_corpus(plain, fmt, **options).sentences


def test_a_byte_order_mark_is_accepted_in_neurox_files(tmp_path):
    text, labels = tmp_path / "t.txt", tmp_path / "l.txt"
    text.write_text("the cat\n", encoding="utf-8-sig")
    labels.write_text("DT NN\n", encoding="utf-8-sig")
    assert read_neurox(text, labels).sentences == (("the", "cat"),)


def test_a_directory_is_named_as_one(tmp_path):
    from lca.data.formats import read_corpus

    with pytest.raises(InputError, match=f"{tmp_path} is a directory"):
        read_corpus(tmp_path, "conllu")


def test_words_without_a_label_are_left_out_with_a_warning(tmp_path):
    path = tmp_path / "some.conllu"
    path.write_text(_conllu_text(["NN", "_", "VB", "DT"]))
    with pytest.warns(UserWarning, match=r"some.conllu: 1 words \(25.0%\) have no xpos annotation \('_'\)"):
        examples = task_examples(read_conllu(path), "xpos")
    assert examples.labels == ("NN", "VB", "DT") and examples.rows.tolist() == [0, 2, 3]
    assert examples.words == ("w1", "w3", "w4")


def test_a_mostly_empty_column_is_refused_with_another_task_suggested(tmp_path):
    path = tmp_path / "lines.conllu"
    path.write_text(_conllu_text(["_", "_", "_", "NN"]))
    with pytest.raises(InputError, match=r"lines.conllu: the xpos column is empty \('_'\) for 75% of its words "
                                         r"\(3 of 4\); choose another task, e.g. upos or deprel"):
        task_examples(read_conllu(path), "xpos")
