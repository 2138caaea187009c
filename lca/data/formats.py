"""Readers for column files, CoNLL-2000 chunking and PMB semantic tags; limits on user files.

Every reader returns a :class:`lca.data.corpus.Corpus` whose label columns are named by task
(``xpos``, ``upos``, ``deprel``, ``chunk``, ``sem``, ``ccg``) and raises
:class:`lca._validation.InputError` naming the file, the line, what was expected and what was
found.  CoNLL-U files (Universal Dependencies, any language) are read by
:func:`lca.data.corpus.read_conllu`; :func:`read_corpus` dispatches on a format name.

Column files (:func:`read_columns`)
-----------------------------------
One word per line, one column per field, a blank line between sentences.  The separator is
decided once per file: **tab** if any line contains a tab (fields may then contain spaces),
otherwise **runs of spaces**.  A line starting with ``#`` before the first word of a sentence is
a comment, as in CoNLL-U; inside a sentence it is a word, and a line starting ``#<tab>`` is
always a word.  A header comment ``# columns = form xpos upos sem chunk`` (or CoNLL-U Plus's
``# global.columns = ...``) names the columns, so that they can be chosen by name.

PMB multiword units (:func:`read_pmb`)
--------------------------------------
The Parallel Meaning Bank joins the tokens of a multiword unit with ``~`` (``New~York``) and
gives the unit one label in each layer.  The reader keeps each unit as **one word, with ``~``
replaced by a space** (``New York``): the label belongs to the unit, and splitting it would
invent labels for its parts.  The extractor folds all the subwords of a word into one vector,
so the unit gets one vector and one label.  A token made only of ``~`` is kept as it is.

Limits
------
A user file is refused above :data:`MAX_FILE_BYTES` (200 MiB, checked before reading), and a
corpus above :data:`MAX_SENTENCES` (50,000) sentences or :data:`MAX_WORDS` (1,000,000) words:
UD English EWT train (12,544 sentences, 204,577 words) fits with room to spare, while the
activations of a million words over BERT-base's 13 layers already take about 40 GB in float32.
Sample a larger corpus with :func:`lca.data.datasets.sample_sentences`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Mapping

from .._validation import InputError, check_choice, check_file, check_positive, read_text_lines
from .corpus import COLUMN_TASKS, Corpus, read_conllu, read_neurox

__all__ = [
    "FORMATS", "MAX_FILE_BYTES", "MAX_SENTENCES", "MAX_WORDS",
    "read_columns", "read_conll2000", "read_pmb", "read_corpus", "check_file_size", "check_limits",
]

FORMATS = ("conllu", "columns", "conll2000", "pmb", "neurox")
MAX_FILE_BYTES = 200 * 1024**2
MAX_SENTENCES = 50_000
MAX_WORDS = 1_000_000

_HEADER = re.compile(r"^#\s*(?:global\.)?columns\s*=\s*(.*)$", re.IGNORECASE)
_CHUNK = re.compile(r"^(O|[BI]-\S+)$")
_Row = tuple[int, str, list[str]]  # (line number, line, fields)


def check_file_size(path, max_bytes: int = MAX_FILE_BYTES) -> None:
    """Refuse a file larger than ``max_bytes`` before reading it."""
    path = Path(path)
    check_file(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"{path} is {size / 1024**2:,.1f} MiB; the limit is {max_bytes / 1024**2:,.0f} MiB: "
            "split the file, or pass a larger max_bytes"
        )


def check_limits(corpus: Corpus, max_sentences: int = MAX_SENTENCES, max_words: int = MAX_WORDS) -> None:
    """Refuse a corpus with more than ``max_sentences`` sentences or ``max_words`` words.

    >>> check_limits(Corpus((("a", "b"),)), max_words=2)  # passes silently
    """
    check_positive("max_sentences", max_sentences, integer=True)
    check_positive("max_words", max_words, integer=True)
    hint = "sample it with lca.data.datasets.sample_sentences(corpus, max_sentences, seed) or raise the limit"
    if len(corpus.sentences) > max_sentences:
        raise InputError(f"{corpus.name} has {len(corpus.sentences):,} sentences; the limit is {max_sentences:,}: {hint}")
    if corpus.n_words > max_words:
        raise InputError(f"{corpus.name} has {corpus.n_words:,} words; the limit is {max_words:,}: {hint}")


def _read_lines(path: Path) -> list[str]:
    check_file_size(path)
    return read_text_lines(path)


def _split(line: str, sep: str) -> list[str]:
    return [f.strip() for f in line.split("\t")] if sep == "tab" else line.split()


def _blocks(lines: list[str], sep: str, comments: bool = True) -> Iterator[list[_Row]]:
    """Each sentence as its rows; comment lines before a sentence's first word are skipped."""
    block: list[_Row] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            if block:
                yield block
            block = []
        elif not (comments and not block and line.startswith("#") and not line.startswith("#\t")):
            block.append((number, line, _split(line, sep)))
    if block:
        yield block


def _check_row(path: Path, row: _Row, width: int, sep: str, what: str) -> None:
    number, line, fields = row
    name = "tab" if sep == "tab" else "space"
    if len(fields) != width:
        hint = ""
        if sep == "tab" and len(line.split()) == width:
            hint = "; the line looks space-separated, but the file is read as tab-separated because other lines contain tabs"
        raise InputError(
            f"{path}, line {number}: expected {width} {name}-separated columns ({what}), found {len(fields)}: {line[:80]!r}{hint}"
        )
    if "" in fields:
        raise InputError(f"{path}, line {number}: column {fields.index('') + 1} is empty; expected {what}: {line[:80]!r}")


def _header(lines: list[str]) -> list[str] | None:
    """Column names from a ``# columns = ...`` comment before the first word, if any."""
    for line in lines:
        if line.strip() and not line.startswith("#"):
            return None
        match = _HEADER.match(line)
        if match:
            return match.group(1).split()
    return None


def _column_index(path: Path, param: str, column, header: list[str] | None) -> int:
    if isinstance(column, str) and column.isdigit():
        column = int(column)
    if isinstance(column, bool) or not isinstance(column, (int, str)):
        raise InputError(f"{param} must be a 0-based column index or a column name; got {column!r}")
    if isinstance(column, int):
        if column < 0:
            raise InputError(f"{param} must be a 0-based column index >= 0; got {column}")
        return column
    if header is None:
        raise InputError(
            f"{param} names column {column!r}, but {path} has no '# columns = ...' header line: give a 0-based index"
        )
    if column not in header:
        raise InputError(f"{param} = {column!r} is not a column of {path}; its columns are {', '.join(header)}")
    return header.index(column)


def read_columns(
    path,
    word_column: int | str = 0,
    label_columns: Mapping[str, int | str] | None = None,
    name: str | None = None,
    sep: str = "auto",
) -> Corpus:
    """Read a column file: one word per line, a blank line between sentences.

    Parameters
    ----------
    path : str or Path
    word_column : int or str
        0-based index of the word column, or its name in the ``# columns = ...`` header.
    label_columns : mapping of task to int or str, optional
        Task name (``xpos``, ``upos``, ``deprel``, ``chunk``, ``sem``, ``ccg``) to column index
        or name.  Default: every header column named after a task.
    name : str, optional
        The corpus name used in messages; default the file name.
    sep : {"auto", "tab", "space"}
        ``auto``: tab if any line contains a tab, else runs of spaces.

    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False)
    >>> _ = f.write("# columns = form xpos chunk\\nThe\\tDT\\tB-NP\\ncat\\tNN\\tI-NP\\n"); f.close()
    >>> c = read_columns(f.name, "form"); os.unlink(f.name)
    >>> c.sentences, sorted(c.columns), c.columns["chunk"]
    ((('The', 'cat'),), ['chunk', 'xpos'], (('B-NP', 'I-NP'),))
    """
    path = Path(path)
    check_choice("sep", sep, ("auto", "tab", "space"))
    lines = _read_lines(path)
    if sep == "auto":
        sep = "tab" if any("\t" in line for line in lines) else "space"
    header = _header(lines)
    word = _column_index(path, "word_column", word_column, header)
    labels = _label_indices(path, label_columns, header)
    width = len(header) if header else None
    indices = {"word_column": word, **{f"label_columns[{t!r}]": i for t, i in labels.items()}}
    if header:
        _check_range(path, None, width, indices)
    what = f"header: {' '.join(header)}" if header else "as many as on the first word line"
    sentences, columns = [], {t: [] for t in labels}
    for block in _blocks(lines, sep):
        if width is None:
            width = len(block[0][2])
            _check_range(path, block[0][0], width, indices)
        for row in block:
            _check_row(path, row, width, sep, what)
        sentences.append(tuple(row[2][word] for row in block))
        for task, index in labels.items():
            columns[task].append(tuple(row[2][index] for row in block))
    if not sentences:
        raise InputError(f"{path}: no sentences found, only comments")
    return Corpus(tuple(sentences), {t: tuple(v) for t, v in columns.items()}, None, name or path.name)


def _label_indices(path: Path, label_columns, header: list[str] | None) -> dict[str, int]:
    """Task -> 0-based column; by default every header column named after a task."""
    if label_columns is None:
        if header is None:
            raise InputError(f"{path} has no '# columns = ...' header line: give label_columns, e.g. {{'xpos': 1}}")
        label_columns = {c: c for c in header if c in COLUMN_TASKS}
        if not label_columns:
            raise InputError(
                f"{path}: no header column is named after a task ({', '.join(COLUMN_TASKS)}); found {', '.join(header)}"
            )
    for task in label_columns:
        if task not in COLUMN_TASKS:
            raise InputError(f"label_columns keys must be tasks among {', '.join(COLUMN_TASKS)}; got {task!r}")
    return {t: _column_index(path, f"label_columns[{t!r}]", c, header) for t, c in label_columns.items()}


def _check_range(path: Path, line: int | None, width: int, indices: Mapping[str, int]) -> None:
    for param, index in indices.items():
        if index >= width:
            where = f"line {line} has" if line else "its header names"
            raise InputError(f"{param} is column {index} (0-based), but {path}: {where} only {width} columns")


def read_conll2000(path, name: str | None = None) -> Corpus:
    """Read CoNLL-2000 chunking data: ``word POS chunk`` per line, space-separated.

    Gives tasks ``xpos`` (Penn Treebank tags) and ``chunk`` (``B-NP``, ``I-VP``, ``O`` ...).
    There are no comment lines: ``#`` is a word of the WSJ text (tagged ``#``).
    """
    path = Path(path)
    lines = _read_lines(path)
    sentences, xpos, chunk = [], [], []
    for block in _blocks(lines, "space", comments=False):
        for row in block:
            _check_row(path, row, 3, "space", "word POS chunk")
            if not _CHUNK.match(row[2][2]):
                raise InputError(
                    f"{path}, line {row[0]}: expected a chunk tag (O, B-X or I-X) in column 3, "
                    f"found {row[2][2]!r}: are the columns word POS chunk?"
                )
        sentences.append(tuple(r[2][0] for r in block))
        xpos.append(tuple(r[2][1] for r in block))
        chunk.append(tuple(r[2][2] for r in block))
    return Corpus(tuple(sentences), {"xpos": tuple(xpos), "chunk": tuple(chunk)}, None, name or path.name)


def _unit(token: str) -> str:
    """``New~York`` -> ``New York``; a token of only ``~`` stays as it is."""
    parts = [p for p in token.split("~") if p]
    return " ".join(parts) if parts else token


def _pmb_layout(lines: list[str]) -> tuple[int, int, int, int]:
    """(width, tok, sem, cat) column indices, from the ``# tok:gold<tab>...`` comment if present."""
    for line in lines:
        if line.startswith("#") and "\t" in line and "tok:" in line:
            layers = [f.lstrip("# ").split(":")[0] for f in line.split("\t")]
            if {"tok", "sem", "cat"} <= set(layers):
                return len(layers), layers.index("tok"), layers.index("sem"), layers.index("cat")
    return 7, 0, 3, 4


def read_pmb(path, name: str | None = None) -> Corpus:
    """Read a Parallel Meaning Bank 4.0.0 gold ``.conll`` file: tasks ``sem`` and ``ccg``.

    Columns ``tok tok sym sem cat sns rol``, tab-separated (the layer order is taken from the
    ``# tok:gold ...`` comment when present).  Multiword units joined by ``~`` become one word
    with spaces (see the module docstring).
    """
    path = Path(path)
    lines = _read_lines(path)
    width, tok, sem, cat = _pmb_layout(lines)
    what = "tok tok sym sem cat sns rol" if width == 7 else f"{width} PMB layers"
    sentences, sem_tags, ccg_tags = [], [], []
    for block in _blocks(lines, "tab"):
        for row in block:
            _check_row(path, row, width, "tab", what)
        sentences.append(tuple(_unit(r[2][tok]) for r in block))
        sem_tags.append(tuple(r[2][sem] for r in block))
        ccg_tags.append(tuple(r[2][cat] for r in block))
    if not sentences:
        raise InputError(f"{path}: no sentences found, only comments")
    return Corpus(tuple(sentences), {"sem": tuple(sem_tags), "ccg": tuple(ccg_tags)}, None, name or path.name)


def read_corpus(
    path,
    fmt: str = "conllu",
    name: str | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    max_sentences: int = MAX_SENTENCES,
    max_words: int = MAX_WORDS,
    **options,
) -> Corpus:
    """Read a user's file in format ``fmt`` (one of :data:`FORMATS`), within the size limits.

    ``options`` go to the reader (``word_column``, ``label_columns``, ``sep`` for ``columns``;
    ``task``, the label column's name, for ``neurox``, whose ``path`` is ``'TEXT,LABELS'`` or a pair).
    """
    check_choice("fmt", fmt, FORMATS)
    if fmt == "neurox":
        paths = path.split(",") if isinstance(path, str) else list(path)
        if len(paths) != 2:
            raise InputError(f"NeuroX input is two files, 'TEXT,LABELS'; got {path!r}")
        for part in paths:
            check_file_size(part, max_bytes)
        corpus = read_neurox(*paths, task=options.pop("task", "label"), name=name)
    else:
        check_file_size(path, max_bytes)
        readers = {"conllu": read_conllu, "columns": read_columns, "conll2000": read_conll2000, "pmb": read_pmb}
        if options and fmt != "columns":
            raise InputError(f"options {', '.join(options)} apply to fmt='columns' only; got fmt={fmt!r}")
        corpus = readers[fmt](path, name=name, **options)
    check_limits(corpus, max_sentences, max_words)
    return corpus
