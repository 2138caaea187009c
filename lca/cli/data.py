"""The corpora a command names: ``--dataset NAME`` or ``--train FILE --test FILE`` (with ``--format``), sampled
by ``--max-sentences``.  Shared by ``lca run`` (:mod:`lca.cli.main`) and ``lca intervene`` (:mod:`lca.causal.run`)."""
from __future__ import annotations

from .._validation import InputError

__all__ = ["read_split", "corpora_from_args"]


def read_split(args, path: str):
    """One corpus file read with the command's ``--format`` and column options."""
    from ..data.formats import read_corpus

    options = {}
    if args.format == "columns":
        as_key = lambda v: int(v) if str(v).isdigit() else v  # noqa: E731
        options = {"word_column": as_key(args.word_column),
                   "label_columns": {args.task: as_key(args.label_column or args.task)}}
    elif args.format == "neurox":
        options = {"task": args.task if args.task in ("xpos", "upos", "deprel", "chunk", "sem", "ccg") else "label"}
    return read_corpus(path, args.format, **options)


def corpora_from_args(args):
    """``(train, test, sampled)``: sampled is true for registry datasets and --max-sentences samples, whose
    test data often holds a rare tag the training part lacks (those words are then dropped, and said so)."""
    from ..data.datasets import DATASETS, sample_sentences, train_test

    if args.train or args.test:
        if not (args.train and args.test):
            raise InputError("give both --train and --test, or a --dataset")
        if args.dataset:
            raise InputError("give either --dataset or --train/--test, not both")
        train, test = read_split(args, args.train), read_split(args, args.test)
    else:
        name = args.dataset or "demo"
        if name not in DATASETS:
            raise InputError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
        train, test = train_test(name, args.data_dir, args.seed)
    if args.max_sentences:
        train = sample_sentences(train, args.max_sentences, args.seed)
    return train, test, bool(args.dataset or not args.train or args.max_sentences)
