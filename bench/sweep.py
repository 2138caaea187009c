"""Benchmark of sweeps on Ray: the 8-run demo sweep on a local Ray against the same runs one after another.

    python bench/sweep.py [--repeats 3] [--num-cpus N] [--max-sentences 150]

The runs: the demo data, tasks upos and suffix × seeds 0, 1 × aggregations first, last, each with
a fixed λ pair and short training (as tests/test_sweep.py), so a run takes seconds.  The
activation cache is filled first, so both sides time the runs, not the extraction.

* sequential: one process, the model loaded once, ``run_lca`` for each run in turn, torch on one
  thread as each Ray task is (Ray sets OMP_NUM_THREADS to a task's CPUs; on a shared machine
  torch's default, a thread per core, took 200 s for the 8 runs in one repeat here, where one
  thread runs one in about 4 s);
* Ray: :func:`lca.scale.sweep.run_sweep` into a fresh folder on a local Ray of ``--num-cpus`` CPUs
  (default: the machine's), started before the clock; its start-up is timed apart.

Each repeat alternates the order; the ratio is of the medians, measured in the same run.  The
Ray runtime's own memory is the resident memory (VmRSS) of the processes ``ray.init`` starts,
idle (before any task) and right after the sweep (its workers still alive).  Prints a table and,
last, one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lca.store.cache import ActivationCache  # noqa: E402
from lca.runs.pipeline import run_lca  # noqa: E402
from lca.models.extract import load_model  # noqa: E402
from lca.scale.sweep import run_sweep, spec_corpora  # noqa: E402
from lca.scale.sweep_spec import SweepSpec, expand  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from procs import descendants  # noqa: E402

SETTINGS = {"mode": "quick", "lambdas": [0.001, 0.0], "min_steps": 100, "epochs": 1, "random_draws": 2,
            "device": "cpu", "drop_unseen": True}
AXES = {"task": ("upos", "suffix"), "seed": (0, 1), "aggregation": ("first", "last")}


def _rss_mb(pids) -> dict:
    """``{process name: MB}`` of resident memory, summed by name."""
    out = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            name = Path(f"/proc/{pid}/cmdline").read_text().split("\0")[0]
        except OSError:
            continue
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        label = Path(name).name if not name.startswith("ray::") else name.split(" ")[0]
        if label in ("python", "python3") or label.endswith("python"):
            cmd = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
            label = Path(next((c for c in cmd[1:] if c.endswith(".py")), "python")).name
        out[label] = out.get(label, 0) + rss / 1024
    return {k: round(v, 1) for k, v in sorted(out.items())}


def sequential(spec: SweepSpec, cache: ActivationCache) -> float:
    import torch

    torch.set_num_threads(1)
    runs = expand(spec)
    train, test, _ = spec_corpora(spec, "demo")
    loaded = load_model(device="cpu")
    start = time.perf_counter()
    for run in runs:
        run_lca(train, test, run.config, loaded=loaded, cache=cache)
    return time.perf_counter() - start


def on_ray(spec: SweepSpec) -> float:
    out = Path(tempfile.mkdtemp(prefix="lca-bench-sweep-"))
    try:
        outcome = run_sweep(spec, out, show=lambda *a: None)
        assert outcome.counts["done"] == 8, outcome.rows
        return outcome.seconds
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count())
    parser.add_argument("--max-sentences", type=int, default=150)
    args = parser.parse_args()
    cache_dir = Path(tempfile.mkdtemp(prefix="lca-bench-cache-"))
    spec = SweepSpec(axes=dict(AXES), settings=dict(SETTINGS), max_sentences=args.max_sentences,
                     cache_dir=str(cache_dir))
    try:
        t0 = time.perf_counter()
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        ray_start = time.perf_counter() - t0
        time.sleep(2)
        idle = _rss_mb(descendants(os.getpid()))
        on_ray(spec)  # fills the activation cache (and starts the workers) before any clock
        seq, par = [], []
        for k in range(args.repeats):
            for side in (("seq", "ray") if k % 2 == 0 else ("ray", "seq")):
                if side == "seq":
                    seq.append(sequential(spec, ActivationCache(cache_dir)))
                else:
                    par.append(on_ray(spec))
                print(f"repeat {k + 1} {side}: {(seq if side == 'seq' else par)[-1]:.1f} s", file=sys.stderr)
        busy = _rss_mb(descendants(os.getpid()))
    finally:
        ray.shutdown()
        shutil.rmtree(cache_dir, ignore_errors=True)
    row = {"runs": 8, "num_cpus": args.num_cpus, "repeats": args.repeats, "max_sentences": args.max_sentences,
           "sequential_s": [round(v, 1) for v in seq], "ray_s": [round(v, 1) for v in par],
           "sequential_median_s": round(statistics.median(seq), 1), "ray_median_s": round(statistics.median(par), 1),
           "speedup": round(statistics.median(seq) / statistics.median(par), 2), "ray_start_s": round(ray_start, 1),
           "ray_idle_rss_mb": round(sum(idle.values()), 1), "ray_idle_by_process": idle,
           "ray_after_sweep_rss_mb": round(sum(busy.values()), 1), "ray_after_sweep_by_process": busy,
           "load_average": os.getloadavg()[0]}
    print(f"| runs | CPUs | sequential (median) | local Ray (median) | speed-up | Ray start | Ray idle RSS | "
          f"Ray + workers RSS |\n|---|---|---|---|---|---|---|---|\n| 8 | {args.num_cpus} | "
          f"{row['sequential_median_s']} s | {row['ray_median_s']} s | {row['speedup']}× | {row['ray_start_s']} s | "
          f"{row['ray_idle_rss_mb']:.0f} MB | {row['ray_after_sweep_rss_mb']:.0f} MB |")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
