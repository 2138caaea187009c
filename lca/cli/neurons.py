"""``python -m lca neurons RUN_DIR``: every neuron × tag's single-neuron statistics, a search and the export.

The statistics (:mod:`lca.report.neuron_stats`) are computed once and kept as ``RUN_DIR/neuron_stats.npz``
and ``.json``; a search by tag, word, pattern or typed word then reads them (a word or pattern tests its own
matches, a typed word runs the model once).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .._validation import InputError

__all__ = ["add_parser", "command"]

_EXAMPLES = """examples:
  python -m lca neurons run1                                  # the best detector of each tag, and the counts
  python -m lca neurons run1 --tag JJS                        # the neurons that separate JJS best
  python -m lca neurons run1 --regex 'est$'                   # ... the words ending in -est
  python -m lca neurons run1 --word months
  python -m lca neurons run1 --sentence "The biggest cat sat ." --token 2   # the 2nd word (or --token biggest)
  python -m lca neurons run1 --export run1/neurons.csv        # the whole neuron × tag table (.csv or .json)
"""


def add_parser(sub) -> None:
    p = sub.add_parser("neurons", help="single-neuron statistics of a finished run (AUROC, effect sizes, p-values), "
                                       "neuron search and the table's export", epilog=_EXAMPLES)
    p.add_argument("run_dir", help="a folder written by `lca run` (result.json, test_corpus.json)")
    query = p.add_mutually_exclusive_group()
    query.add_argument("--tag", help="neurons that best separate this tag from the rest")
    query.add_argument("--word", help="neurons that best separate this word (any case) from the other words")
    query.add_argument("--regex", help="... the words this regular expression finds (re.search), e.g. 'est$'")
    query.add_argument("--sentence", help="a typed sentence: the neurons its --token moves most from their usual value")
    p.add_argument("--token", default="1", help="with --sentence: the word, by position from 1 or as written")
    p.add_argument("--top", type=int, default=15, help="neurons listed")
    p.add_argument("--alpha", type=float, default=0.05, help="false discovery rate of the Benjamini–Hochberg correction")
    p.add_argument("--split", default="test", choices=("test", "train"), help="the corpus the statistics read")
    p.add_argument("--export", metavar="FILE", help="write the whole neuron × tag table (.csv or .json)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")


def _corpora(run_dir: Path):
    from ..runs.store import corpus_from_dict

    out = []
    for split in ("train", "test"):
        path = run_dir / f"{split}_corpus.json"
        if not path.is_file():
            if split == "test":
                raise InputError(f"{run_dir}: no test_corpus.json (a run written before the command line saved its "
                                 "corpora); run it again with `python -m lca run`")
            out.append(None)
            continue
        try:
            out.append(corpus_from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"{path}: not a readable corpus ({err})") from None
    return out


def _fmt(row: dict) -> str:
    from ..report.neuron_search import p_text

    ci, dci = row["auroc_ci"], row["smd_ci"]
    rank = f"{row['lca_rank']:>6}" if row["lca_rank"] else "     -"
    control = "  –  " if np.isnan(row["control_auroc"]) else f"{row['control_auroc']:.3f}"
    select = "  –  " if np.isnan(row["selectivity"]) else f"{row['selectivity']:+.3f}"
    return (f"{row['label']:>12} {rank}  {row['tag'][:10]:<10} {row['auroc']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] "
            f"{'+' if row['sign'] > 0 else '-'}  {row['smd']:+6.2f} [{dci[0]:+.2f}, {dci[1]:+.2f}]  {row['mi']:.3f}  "
            f"{p_text(row['log10_p']):>8} {p_text(row['log10_q']):>8} {'*' if row['significant'] else ' '}  "
            f"{control}  {select}" + (f"  z {row['z']:+.1f}" if "z" in row else ""))


_HEADER = ("      neuron   rank  tag        AUROC [95% CI]       dir  d [95% CI]            MI     p        q (BH)"
           "      control  select.")


def _typed(result, sentence: str, token: str, stats) -> tuple[np.ndarray, str]:
    from ..models.loading import load_model
    from ..report.explore import sentence_activations, tokenize

    words = tokenize(sentence)
    if token.isdigit():
        index = int(token) - 1
        if not 0 <= index < len(words):
            raise InputError(f"--token must be a position from 1 to {len(words)} in {words}; got {token}")
    elif token in words:
        index = words.index(token)
    else:
        raise InputError(f"--token {token!r} is not a word of the sentence {words}; give it as written or by position")
    cfg = result.run_config
    C = len(stats.neurons) // (2 if result.pair else 1)
    values = sentence_activations(load_model(cfg), words, stats.neurons[:C].tolist(), cfg.aggregation, result.site)
    return values[index], words[index]


def export_table(columns: dict, path: Path, meta: dict) -> Path:
    """Write the table of :func:`lca.report.neuron_search.table_columns` as CSV, or as JSON (``{"meta", "rows"}``)."""
    from ..store.atomic import atomic_write

    names = list(columns)
    values = [np.asarray(columns[k]).tolist() for k in names]
    if path.suffix.lower() == ".json":
        rows = [dict(zip(names, r)) for r in zip(*values)]
        text = json.dumps({"meta": meta, "rows": rows}, default=float)
        return atomic_write(path, lambda tmp: tmp.write_text(text.replace("NaN", "null"), encoding="utf-8"))
    if path.suffix.lower() != ".csv":
        raise InputError(f"--export must name a .csv or .json file; got {path}")
    import csv

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(names)
            out.writerows(zip(*values))
    return atomic_write(path, write)


def command(args) -> int:
    from ..report import neuron_probe, neuron_search
    from ..report.neuron_cache import run_neuron_stats
    from ..runs.result import load_result

    run_dir = Path(args.run_dir)
    result = load_result(run_dir)
    train, test = _corpora(run_dir)
    start = time.perf_counter()
    stats, meta = run_neuron_stats(result, test, train, run_dir, split=args.split)
    took = time.perf_counter() - start
    F, T = stats.auroc.shape
    sig = stats.significant(args.alpha)
    where = f"read from {run_dir}/neuron_stats.npz" if meta["cached"] else f"computed in {took:.1f} s"
    print(f"{F:,} neurons × {T} tags over {stats.n_examples:,} {meta['split']} words ({where}); "
          f"{int(sig.any(axis=1).sum()):,} neurons are significant detectors of at least one tag, {int(sig.sum()):,} "
          f"pairs (Benjamini–Hochberg over {stats.n_tests:,} tests, FDR {args.alpha:g}; control task: {meta['control']})")
    words = [w for s in (test if args.split == "test" else train).sentences for w in s]
    rows = []
    if args.tag:
        rows = neuron_search.tag_search(stats, args.tag, result, args.top, alpha=args.alpha)
    elif args.word or args.regex:
        from ..runs.activations import feature_neurons, run_activations

        acts = run_activations(result, test if args.split == "test" else train, args.split)
        rows, found = neuron_search.word_search(acts, words, args.word or args.regex, result, bool(args.regex), args.top,
                                                feature_neurons(result, acts.shape[1])[:acts.shape[1]], args.alpha)
        print(f"{found['n_matches']:,} words match ({', '.join(found['types'])}); BH over {acts.shape[1]:,} neurons")
    elif args.sentence:
        values, word = _typed(result, args.sentence, args.token, stats)
        rows = neuron_search.token_search(values, stats, result, args.top, args.alpha)
        print(f"'{word}': the neurons it moves furthest from their mean over the corpus (z), each with its best tag")
    if args.export:
        path = export_table(neuron_search.table_columns(stats, result, args.alpha), Path(args.export),
                            {**meta, "alpha": args.alpha})
        print(f"wrote {path} ({F * T:,} rows)")
    if not rows and not args.export:
        from ..runs.activations import run_activations
        from ..report.explore import word_tags

        acts = run_activations(result, test if args.split == "test" else train, args.split)
        tags = word_tags(test if args.split == "test" else train, result.task)
        rows = neuron_search.teaching_table(stats, acts, words, tags, result, alpha=args.alpha)
        print("The best single-neuron detector of each tag (strongest first):")
        for line in neuron_probe.disagreement_lines(neuron_probe.disagreement(stats, result, args.alpha)):
            print("  " + line)
    if args.json:
        print(json.dumps(rows, default=float, indent=1))
    elif rows:
        print(_HEADER)
        for row in rows:
            print(_fmt(row) + (f"  top: {' '.join(row['top_words'])}" if "top_words" in row else ""))
    return 0
