"""Time the single-neuron statistics (lca.report.neuron_stats).

    python bench/neurons.py RUN_DIR            # a finished run: cold (computed) and warm (read back) times
    python bench/neurons.py --wide 46080 --words 1500   # a synthetic float16 memmap as wide as SmolLM2's MLP site

Prints seconds and the peak resident memory (ru_maxrss).  Run with OMP_NUM_THREADS=1 on a shared machine.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_dir(folder: Path) -> None:
    from lca.cli.neurons import _corpora
    from lca.report.neuron_cache import FILE, run_neuron_stats
    from lca.runs.result import load_result

    result = load_result(folder)
    train, test = _corpora(folder)
    for suffix in (".npz", ".json"):
        (folder / f"{FILE}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    stats, meta = run_neuron_stats(result, test, train, folder)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    run_neuron_stats(result, test, train, folder)
    warm = time.perf_counter() - start
    F, T = stats.auroc.shape
    print(f"{folder}: {F:,} neurons × {T} tags over {stats.n_examples:,} words: computed in {cold:.2f} s "
          f"(statistics alone {meta['seconds']:.2f} s), read back in {warm:.2f} s; peak RSS {_peak_mb():.0f} MB")


def wide(width: int, words: int, tags: int) -> None:
    from lca.report.neuron_stats import neuron_stats

    folder = Path(tempfile.mkdtemp())
    try:
        path = folder / "acts.npy"
        rng = np.random.default_rng(0)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(words, width))
        for c0 in range(0, width, 4096):
            out[:, c0:c0 + 4096] = rng.normal(size=(words, min(4096, width - c0))).astype(np.float16)
        del out
        acts = np.load(path, mmap_mode="r")
        labels = rng.integers(0, tags, size=words).astype(str).tolist()
        control = rng.integers(0, tags, size=words).astype(str).tolist()
        before = _peak_mb()
        start = time.perf_counter()
        stats = neuron_stats(acts, labels, [str(t) for t in range(tags)], control=control)
        took = time.perf_counter() - start
        print(f"synthetic {words:,} words × {width:,} neurons × {tags} tags: {took:.1f} s; peak RSS {_peak_mb():.0f} MB "
              f"({before:.0f} MB before); output arrays {sum(a.nbytes for a in stats.arrays().values()) / 2**20:.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", nargs="?")
    parser.add_argument("--wide", type=int, help="columns of a synthetic matrix")
    parser.add_argument("--words", type=int, default=1500)
    parser.add_argument("--tags", type=int, default=17)
    args = parser.parse_args()
    if args.run_dir:
        run_dir(Path(args.run_dir))
    if args.wide:
        wide(args.wide, args.words, args.tags)
