"""Corpora, the CoNLL-U and NeuroX readers, and the tasks derived from them.

A :class:`Corpus` is tokenized sentences plus any number of label columns (one label per
word).  A task turns a corpus into :class:`Examples`: one label per example, each example a
word (or, for ``dep-pair``, a head/dependent pair of words).

Derived tasks
-------------
``suffix``
    The longest suffix of the lower-cased word from :data:`SUFFIXES` that leaves a stem of at
    least three letters; ``-`` when none applies or the word is not alphabetic.
``position``
    ``begin`` / ``middle`` / ``end``: the third of the sentence the word falls in.
``dep-pair``
    One example per arc of the dependency tree (root arcs excluded); label = the relation.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .._validation import InputError, read_text_lines

__all__ = [
    "Corpus", "Examples", "TASKS", "WORD_TASKS", "SUFFIXES",
    "read_conllu", "read_neurox", "task_examples", "control_labels", "suffix_of",
]

# Inflectional and frequent derivational English suffixes, longest first so that "tion" wins over "ion".
SUFFIXES = (
    "ation", "tion", "sion", "ment", "ness", "able", "ible", "less", "ship", "ing", "est", "ion",
    "ity", "ive", "ous", "ful", "ism", "ist", "ize", "ise", "ly", "ed", "er", "es", "al", "ic", "s", "y",
)
COLUMN_TASKS = ("xpos", "upos", "deprel", "chunk", "sem", "ccg")
EMPTY = "_"  # a CoNLL column's "no annotation"
MOSTLY_EMPTY = 0.5  # a task column emptier than this is refused
DERIVED_TASKS = ("suffix", "position")
WORD_TASKS = COLUMN_TASKS + DERIVED_TASKS
TASKS = WORD_TASKS + ("dep-pair",)


@dataclass(frozen=True)
class Corpus:
    """Tokenized sentences with per-word label columns.

    Attributes
    ----------
    sentences : tuple of tuple of str
        The words of each sentence.
    columns : mapping of str to tuple of tuple of str
        Label columns (``xpos``, ``upos``, ``deprel``, ``chunk``, ``sem``, ``ccg``, ...), each
        with one label per word of each sentence.
    heads : tuple of tuple of int, optional
        1-based head of each word (0 = root), for ``dep-pair``.
    name : str
        Where it came from, for messages.
    """

    sentences: tuple[tuple[str, ...], ...]
    columns: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    heads: tuple[tuple[int, ...], ...] | None = None
    name: str = "corpus"

    def __post_init__(self):
        if not self.sentences:
            raise InputError(f"{self.name}: the corpus has no sentences")
        for column, labels in self.columns.items():
            if len(labels) != len(self.sentences):
                raise InputError(f"{self.name}: column {column!r} has {len(labels)} sentences, expected {len(self.sentences)}")

    @property
    def n_words(self) -> int:
        return sum(len(s) for s in self.sentences)

    def content_hash(self) -> str:
        """SHA-256 of the words alone: what the activations depend on.  Computed once per corpus (it is
        immutable): run ids, cache keys and a sweep's planning ask for it many times."""
        if "_content_hash" not in self.__dict__:
            digest = hashlib.sha256()
            for sentence in self.sentences:
                digest.update("\x1f".join(sentence).encode("utf-8"))
                digest.update(b"\x1e")
            object.__setattr__(self, "_content_hash", digest.hexdigest())
        return self.__dict__["_content_hash"]

    def subset(self, indices: Sequence[int]) -> "Corpus":
        """The sentences at ``indices``, in that order, with their columns and heads."""
        pick = lambda seq: tuple(seq[i] for i in indices)  # noqa: E731
        return Corpus(
            pick(self.sentences),
            {name: pick(labels) for name, labels in self.columns.items()},
            None if self.heads is None else pick(self.heads),
            self.name,
        )

    def sentence_offsets(self) -> np.ndarray:
        """``(n_sentences + 1,)`` start of each sentence in the flat word order."""
        return np.concatenate([[0], np.cumsum([len(s) for s in self.sentences])]).astype(np.int64)

    def available_tasks(self) -> tuple[str, ...]:
        tasks = [t for t in COLUMN_TASKS if t in self.columns] + list(DERIVED_TASKS)
        if self.heads is not None and "deprel" in self.columns:
            tasks.append("dep-pair")
        return tuple(tasks)


@dataclass(frozen=True)
class Examples:
    """A task's examples over a corpus.

    Attributes
    ----------
    task : str
    labels : tuple of str, length n
    rows : ndarray of int64, shape (n,) or (n, 2)
        Flat word index of each example in the corpus, or ``(head, dependent)`` for pairs.
    words : tuple of str, length n
        The word of each example (the dependent for pairs): what the control task is keyed on.
    """

    task: str
    labels: tuple[str, ...]
    rows: np.ndarray
    words: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


def suffix_of(word: str) -> str:
    """The ``suffix`` task's label of a word.

    >>> suffix_of("walking"), suffix_of("cats"), suffix_of("the"), suffix_of("1990s")
    ('ing', 's', '-', '-')
    """
    lower = word.lower()
    if not lower.isalpha():
        return "-"
    for suffix in SUFFIXES:
        if lower.endswith(suffix) and len(lower) - len(suffix) >= 3:
            return suffix
    return "-"


def _position(index: int, length: int) -> str:
    return ("begin", "middle", "end")[min(2, 3 * index // max(length, 1))]


def task_examples(corpus: Corpus, task: str) -> Examples:
    """Build the examples of ``task`` over ``corpus``; raises ``InputError`` if the corpus lacks it."""
    if task not in TASKS:
        raise InputError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    if task not in corpus.available_tasks():
        raise InputError(
            f"{corpus.name} has no {task!r} annotation; its tasks are {', '.join(corpus.available_tasks())}"
        )
    words = [w for s in corpus.sentences for w in s]
    if task == "dep-pair":
        offsets = corpus.sentence_offsets()
        rows, labels, deps = [], [], []
        for k, (heads, rels) in enumerate(zip(corpus.heads, corpus.columns["deprel"])):
            for i, (head, rel) in enumerate(zip(heads, rels)):
                if head > 0:
                    rows.append((offsets[k] + head - 1, offsets[k] + i))
                    labels.append(rel)
                    deps.append(words[offsets[k] + i])
        return Examples(task, tuple(labels), np.asarray(rows, dtype=np.int64).reshape(-1, 2), tuple(deps))
    if task == "suffix":
        labels = [suffix_of(w) for w in words]
    elif task == "position":
        labels = [_position(i, len(s)) for s in corpus.sentences for i in range(len(s))]
    else:
        labels = [tag for s in corpus.columns[task] for tag in s]
        keep = _annotated(corpus, task, labels)
        if keep is not None:
            return Examples(task, tuple(labels[i] for i in keep), keep, tuple(words[i] for i in keep))
    return Examples(task, tuple(labels), np.arange(len(words), dtype=np.int64), tuple(words))


def _annotated(corpus: Corpus, task: str, labels: list[str]) -> np.ndarray | None:
    """Indices of the words that carry a ``task`` label, or None when all do.

    ``_`` is CoNLL's "no annotation" (UD LinES leaves XPOS empty for 22 % of its test words): such
    words are left out with a warning, not trained as a tag; a mostly empty column is refused.
    """
    empty = np.asarray(labels) == EMPTY
    n_empty = int(empty.sum())
    if not n_empty:
        return None
    share = n_empty / len(labels)
    if share > MOSTLY_EMPTY:
        others = [t for t in COLUMN_TASKS if t != task and t in corpus.columns
                  and np.mean([tag == EMPTY for s in corpus.columns[t] for tag in s]) <= MOSTLY_EMPTY]
        hint = f"choose another task, e.g. {' or '.join(others)}" if others else "choose a file with this annotation"
        raise InputError(f"{corpus.name}: the {task} column is empty ('_') for {share:.0%} of its words "
                         f"({n_empty:,} of {len(labels):,}); {hint}")
    warnings.warn(f"{corpus.name}: {n_empty:,} words ({share:.1%}) have no {task} annotation ('_') and are left out "
                  "of the task", stacklevel=3)
    return np.nonzero(~empty)[0].astype(np.int64)


def control_labels(train: Examples, others: Sequence[Examples] = (), seed: int = 0) -> list[tuple[str, ...]]:
    """Control task of Hewitt & Liang (2019): one label per word type, drawn from the train labels' distribution.

    The same type gets the same label in every split.  Returns the control labels of
    ``train`` followed by those of each of ``others``.
    """
    classes, counts = np.unique(np.asarray(train.labels), return_counts=True)
    types = sorted(set(train.words).union(*(set(o.words) for o in others)))
    draws = np.random.default_rng(seed).choice(len(classes), size=len(types), p=counts / counts.sum())
    mapping = dict(zip(types, classes[draws]))
    return [tuple(str(mapping[w]) for w in ex.words) for ex in (train, *others)]


def read_conllu(path, name: str | None = None) -> Corpus:
    """Read a CoNLL-U file: FORM, UPOS, XPOS, HEAD and DEPREL of each word.

    Multiword-token ranges (``1-2``) and empty nodes (``1.1``) are skipped.  Errors name the
    file, the line, what was expected and what was found.
    """
    path = Path(path)
    lines = read_text_lines(path)
    sentences, cols, heads = [], {"upos": [], "xpos": [], "deprel": []}, []
    rows: list[tuple[int, list[str]]] = []

    def close(end_line: int):
        if not rows:
            return
        n = len(rows)
        for expected, (line_no, parts) in enumerate(rows, start=1):
            if int(parts[0]) != expected:
                what = "duplicate" if int(parts[0]) < expected else "missing"
                raise InputError(f"{path}, line {line_no}: {what} token id: expected id {expected}, found {parts[0]}")
        sentence_heads = []
        for line_no, parts in rows:
            head = parts[6]
            if head == "_":
                head_value = -1
            elif not head.isdigit() or int(head) > n:
                raise InputError(f"{path}, line {line_no}: head {head!r} is out of range: the sentence has {n} words")
            else:
                head_value = int(head)
            sentence_heads.append(head_value)
        sentences.append(tuple(p[1] for _, p in rows))
        cols["upos"].append(tuple(p[3] for _, p in rows))
        cols["xpos"].append(tuple(p[4] for _, p in rows))
        cols["deprel"].append(tuple(p[7] for _, p in rows))
        heads.append(tuple(sentence_heads))
        rows.clear()

    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            close(line_no)
            continue
        if line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 10:
            raise InputError(
                f"{path}, line {line_no}: expected 10 tab-separated CoNLL-U columns, found {len(parts)}: {line[:60]!r}"
            )
        token_id = parts[0]
        if "-" in token_id or "." in token_id:
            continue
        if not token_id.isdigit():
            raise InputError(f"{path}, line {line_no}: token id must be an integer, found {token_id!r}")
        rows.append((line_no, parts))
    close(len(lines) + 1)
    if not sentences:
        raise InputError(f"{path}: no sentences found (is it a CoNLL-U file?)")
    has_heads = all(h >= 0 for s in heads for h in s)
    return Corpus(tuple(sentences), {k: tuple(v) for k, v in cols.items()}, tuple(heads) if has_heads else None, name or path.name)


def read_neurox(text_path, labels_path, task: str = "label", name: str | None = None) -> Corpus:
    """Read NeuroX's pair format: one sentence per line (words split by spaces) and a parallel label file."""
    text_path, labels_path = Path(text_path), Path(labels_path)
    texts, tags = read_text_lines(text_path), read_text_lines(labels_path)
    if len(texts) != len(tags):
        raise InputError(
            f"{labels_path} has {len(tags)} lines but {text_path} has {len(texts)}: the files must be parallel"
        )
    sentences, labels = [], []
    for line_no, (text, tag_line) in enumerate(zip(texts, tags), start=1):
        words, line_tags = text.split(), tag_line.split()
        if not words:
            raise InputError(f"{text_path}, line {line_no}: empty sentence")
        if len(words) != len(line_tags):
            raise InputError(
                f"{labels_path}, line {line_no}: {len(line_tags)} tags for {len(words)} words: {' '.join(words[:8])!r}"
            )
        sentences.append(tuple(words))
        labels.append(tuple(line_tags))
    return Corpus(tuple(sentences), {task: tuple(labels)}, None, name or text_path.name)
