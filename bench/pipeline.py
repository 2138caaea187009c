"""Benchmark of the LCA pipeline: extraction speed, the cost of paper and quick mode, peak memory.

    python bench/pipeline.py [--data ../shared/data] [--repeats 3] [--skip-scale] [--model ID_OR_PATH]

Prints a readable table and, last, one JSON line.  The unit is the wall time of one default
probe (10 epochs, batch 512, all D neurons) on the same data, measured in the same run (half
of its repeats before the modes, half after), so the ratios hold on a noisy machine even when
the seconds do not.  Data: the bundled model on UD
English EWT dev → test, task ``xpos``; EWT train (≈205k words) for the memory figure, run in a
child process so that its peak resident memory is its own.

Quick mode trains converged probes (lr 1e-2 decayed linearly, at least 8,000 optimizer steps;
docs/fidelity.md), so since that change its units are not comparable with earlier quick-mode
figures, nor its accuracies with paper mode's: quick mode now costs more and finds more.
"""
from __future__ import annotations

import argparse
import atexit
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lca.store.cache import ActivationCache  # noqa: E402
from lca.data.corpus import read_conllu, task_examples  # noqa: E402
from lca.models.extract import extract_activations, load_model  # noqa: E402
from lca.method.features import Features  # noqa: E402
from lca.runs.pipeline import corpus_activations, run_lca  # noqa: E402
from lca.method.probe import train_probes  # noqa: E402
from lca.runs.result import RunConfig  # noqa: E402


class _Rows(list):
    """Table rows, printed as soon as they are measured (a long run shows its figures as it goes)."""

    def append(self, row: tuple[str, str]) -> None:
        super().append(row)
        print(f"{row[0]:<12}  {row[1]}", flush=True)


def _times(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _scale_child(train_path: str, test_path: str, model: str | None, cache_dir: str) -> None:
    """Quick-mode pipeline on EWT train; prints its own JSON line for the parent."""
    train, test = read_conllu(train_path), read_conllu(test_path)
    start = time.perf_counter()
    result = run_lca(train, test, RunConfig(task="xpos", model=model, mode="quick"), cache=ActivationCache(cache_dir))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_gb": peak_gb, "words": train.n_words,
                      "oracle": result.oracle_accuracy, "minimal_fraction": result.minimal.fraction,
                      "timings": result.timings}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-scale", action="store_true", help="skip the EWT-train memory run")
    parser.add_argument("--scale-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_child:
        _scale_child(*args.scale_child[:2], args.model, args.scale_child[2])
        return
    ewt = Path(args.data) / "ud_english_ewt"
    train, test = read_conllu(ewt / "en_ewt-ud-dev.conllu"), read_conllu(ewt / "en_ewt-ud-test.conllu")
    cache_dir = tempfile.mkdtemp(prefix="lca-bench-")
    atexit.register(shutil.rmtree, cache_dir, True)  # the activations of EWT train alone are 1.1 GB
    cache = ActivationCache(cache_dir)
    loaded = load_model(args.model, device="auto")
    rows = _Rows()
    rows.append(("device", str(loaded.device)))
    rows.append(("model", f"{loaded.name} (D = {loaded.n_neurons})"))

    # Extraction: a 500-sentence slice, repeated; then the whole corpora once, into the cache.
    sample = train.sentences[:500]
    n_sample = sum(len(s) for s in sample)
    extract_activations(loaded, sample[:20])  # warm-up
    t_extract = statistics.median(_times(lambda: extract_activations(loaded, sample), args.repeats))
    words_per_s = n_sample / t_extract
    rows.append(("extraction", f"{words_per_s:,.0f} words/s (median of {args.repeats} × {n_sample} words)"))
    for corpus in (train, test):
        corpus_activations(loaded, corpus, "last", cache)

    # The unit: one default probe on all neurons.
    acts, _, _ = corpus_activations(loaded, train, "last", cache)
    examples = task_examples(train, "xpos")
    classes = sorted(set(examples.labels))
    y = [classes.index(label) for label in examples.labels]
    X = Features(acts, examples.rows)
    def unit_probe():
        train_probes(X, y, len(classes), [0.0], [0.0], device=loaded.device)

    # The unit is timed before and after the modes: the machine's speed drifts during a run.
    unit_times = _times(unit_probe, args.repeats)
    figures = {}
    for mode in ("paper", "quick"):
        result = run_lca(train, test, RunConfig(task="xpos", mode=mode), loaded=loaded, cache=cache)
        work = sum(v for k, v in result.timings.items() if k not in ("load", "extract"))
        figures[mode] = result
        stages = ", ".join(f"{k} {v:.0f}s" for k, v in result.timings.items() if k not in ("load", "extract"))
        rows.append((f"{mode} mode", f"{work:.0f} s ({stages})"))
        rows.append((f"{mode} result", f"oracle {result.oracle_accuracy:.4f}, λ1={result.lambdas.l1:g} "
                     f"λ2={result.lambdas.l2:g}, minimal {result.minimal.n_neurons} "
                     f"({result.minimal.fraction:.1%}) acc {result.minimal.accuracy:.4f}, zero-out top/random/bottom "
                     f"{result.ablation.top:.3f}/{result.ablation.random:.3f}/{result.ablation.bottom:.3f}"))
    unit_times += _times(unit_probe, args.repeats)
    unit = statistics.median(unit_times)
    rows.append(("probe unit", f"{unit:.1f} s (median of {len(unit_times)}, half before and half after the modes: "
                 f"{', '.join(f'{t:.1f}' for t in unit_times)}; 10 epochs, {X.n_rows} words, D = {X.n_features})"))
    units = {m: sum(v for k, v in r.timings.items() if k not in ("load", "extract")) / unit for m, r in figures.items()}
    for mode, value in units.items():
        rows.append((f"{mode} units", f"{value:.1f} probe units"))

    scale = None
    if not args.skip_scale:
        proc = subprocess.run([sys.executable, __file__, "--scale-child", str(ewt / "en_ewt-ud-train.reconstructed.conllu"),
                               str(ewt / "en_ewt-ud-test.conllu"), cache_dir] + (["--model", args.model] if args.model else []),
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
        else:
            scale = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(("EWT train", f"{scale['words']:,} words, quick mode {scale['seconds']:.0f} s, "
                         f"peak RSS {scale['peak_rss_gb']:.2f} GB, oracle {scale['oracle']:.4f}"))

    paper, quick = figures["paper"], figures["quick"]
    print(json.dumps({
        "extract_words_per_s": round(words_per_s, 1), "probe_unit_s": round(unit, 2),
        "paper_units": round(units["paper"], 2), "quick_units": round(units["quick"], 2),
        "paper_oracle": paper.oracle_accuracy, "quick_oracle": quick.oracle_accuracy,
        "paper_minimal_fraction": paper.minimal.fraction, "quick_minimal_fraction": quick.minimal.fraction,
        "paper_ablation": paper.ablation.to_dict(), "quick_ablation": quick.ablation.to_dict(),
        "paper_timings": paper.timings, "quick_timings": quick.timings,
        "ewt_train_peak_rss_gb": None if scale is None else round(scale["peak_rss_gb"], 3),
    }))


if __name__ == "__main__":
    main()
