"""Every task of the paper, end to end with one model, on its corpus from the data directory.

    python bench/tasks.py [--data ../shared/data] [--max-sentences 1500] [--mode quick] [--tasks xpos,sem]

For each task: the dataset, training/test examples, the majority-tag baseline, the oracle
accuracy, the minimal subset (N and share of D), selectivity with all and with the top
neurons, and the wall time.  Training sentences are a seeded sample of the training split
(``--max-sentences``); test sentences are capped the same way.  Prints a table and, last, one
JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lca.store.cache import ActivationCache  # noqa: E402
from lca.data.datasets import sample_sentences, train_test  # noqa: E402
from lca.models.extract import load_model  # noqa: E402
from lca.runs.pipeline import run_lca  # noqa: E402
from lca.runs.result import RunConfig  # noqa: E402

TASK_DATA = {"suffix": "ud-english-ewt", "xpos": "ud-english-ewt", "upos": "ud-english-ewt",
             "deprel": "ud-english-ewt", "dep-pair": "ud-english-ewt", "position": "ud-english-ewt",
             "chunk": "conll2000", "sem": "pmb-en", "ccg": "pmb-en"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-sentences", type=int, default=1500)
    parser.add_argument("--mode", default="quick", choices=("quick", "paper"))
    parser.add_argument("--tasks", default=",".join(TASK_DATA))
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    loaded = load_model(args.model)
    cache = ActivationCache(args.cache_dir)
    rows = []
    for task in args.tasks.split(","):
        train, test = train_test(TASK_DATA[task], args.data)
        train = sample_sentences(train, args.max_sentences, seed=0)
        test = sample_sentences(test, args.max_sentences, seed=1)
        start = time.perf_counter()
        r = run_lca(train, test, RunConfig(task=task, mode=args.mode, drop_unseen=True), loaded=loaded, cache=cache)
        rows.append({"task": task, "dataset": TASK_DATA[task], "tags": len(r.tags), "train": r.n_train_words,
                     "test": r.n_test_words, "majority": r.majority_accuracy, "oracle": r.oracle_accuracy,
                     "minimal_n": r.minimal.n_neurons, "minimal_fraction": r.minimal.fraction,
                     "minimal_accuracy": r.minimal.accuracy, "selectivity_all": r.selectivity.all,
                     "selectivity_top": r.selectivity.top, "lambdas": r.lambdas.to_dict(),
                     "layer_histogram": list(r.layer_histogram), "seconds": round(time.perf_counter() - start, 1)})
        row = rows[-1]
        print(f"{task:<9} {row['dataset']:<15} tags {row['tags']:>4}  train {row['train']:>6}  test {row['test']:>6}  "
              f"majority {row['majority']:.3f}  oracle {row['oracle']:.3f}  minimal {row['minimal_n']:>5} "
              f"({row['minimal_fraction']:.1%}) acc {row['minimal_accuracy']:.3f}  sel all {row['selectivity_all']:.3f} "
              f"top {row['selectivity_top']:.3f}  {row['seconds']:.0f}s", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
