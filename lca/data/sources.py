"""The train and test corpora a run names, and whether its test words with unseen tags are dropped.

One loader for every caller: ``lca run`` and ``lca intervene`` (:func:`corpora_from_args`, their
``--dataset`` / ``--train --test --format`` / ``--max-sentences`` options) and sweeps
(:func:`load_corpora` from a spec's ``[data]``).

The unseen-tag policy is decided here, once: data drawn by this package — a registered dataset
(its own train/test cut) or a ``max_sentences`` sample of the training sentences — often leaves a
rare tag in the test part that the training part lacks, so runs on it drop those test words (and
say how many, ``LCAResult.dropped_unseen``); a user's own train and test files, taken whole, stop
with the list of unseen tags unless the run asks to drop them.
"""
from __future__ import annotations

from typing import NamedTuple

from .._validation import InputError
from .corpus import Corpus

__all__ = ["Corpora", "load_corpora", "corpora_from_args"]

NEUROX_TASKS = ("xpos", "upos", "deprel", "chunk", "sem", "ccg")  # a NeuroX label file read under the task's name


class Corpora(NamedTuple):
    """A run's corpora: ``train``, ``test`` and ``drop_unseen``, true when the data was drawn (a registered
    dataset or a sample), so the run drops test words whose tag never occurs in training."""

    train: Corpus
    test: Corpus
    drop_unseen: bool


def load_corpora(dataset: str | None = None, train: str | None = None, test: str | None = None,
                 fmt: str = "conllu", options: dict | None = None, data_dir=None, max_sentences: int | None = None,
                 seed: int = 0, name: str | None = None) -> Corpora:
    """A registered ``dataset`` (default ``demo``) or the files ``train`` and ``test`` (format ``fmt``, reader
    ``options``), the training part sampled down to ``max_sentences`` sentences by ``seed``.

    ``seed`` also cuts a dataset that has a single split; ``name`` names file corpora ``NAME/train`` and
    ``NAME/test`` (default: each file's own name).

    >>> data = load_corpora("demo", max_sentences=20)
    >>> len(data.train.sentences), data.drop_unseen
    (20, True)
    """
    from .datasets import DATASETS, sample_sentences, train_test
    from .formats import read_corpus

    if train is not None or test is not None:
        if train is None or test is None or dataset is not None:
            raise InputError("give a dataset, or both a train and a test file")
        names = (None, None) if name is None else (f"{name}/train", f"{name}/test")
        parts = [read_corpus(path, fmt, name=n, **(options or {})) for path, n in zip((train, test), names)]
    else:
        dataset = dataset or "demo"
        if dataset not in DATASETS:
            raise InputError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
        parts = list(train_test(dataset, data_dir, seed))
    if max_sentences:
        parts[0] = sample_sentences(parts[0], max_sentences, seed)
    return Corpora(parts[0], parts[1], drop_unseen=train is None or bool(max_sentences))


def _reader_options(args) -> dict:
    """The file reader's options from a command's ``--format``, ``--word-column``, ``--label-column`` and ``--task``."""
    if args.format == "columns":
        as_key = lambda v: int(v) if str(v).isdigit() else v  # noqa: E731
        return {"word_column": as_key(args.word_column),
                "label_columns": {args.task: as_key(args.label_column or args.task)}}
    if args.format == "neurox":
        return {"task": args.task if args.task in NEUROX_TASKS else "label"}
    return {}


def corpora_from_args(args) -> Corpora:
    """The corpora of a command's ``--dataset NAME`` or ``--train FILE --test FILE`` (with ``--format``), sampled
    by ``--max-sentences`` with ``--seed``: :func:`load_corpora` with the command's flags in its messages."""
    if args.train or args.test:
        if not (args.train and args.test):
            raise InputError("give both --train and --test, or a --dataset")
        if args.dataset:
            raise InputError("give either --dataset or --train/--test, not both")
        return load_corpora(train=args.train, test=args.test, fmt=args.format, options=_reader_options(args),
                            max_sentences=args.max_sentences, seed=args.seed)
    return load_corpora(args.dataset, data_dir=args.data_dir, max_sentences=args.max_sentences, seed=args.seed)
