"""A classroom on one server: N browser sessions open the app and start the default analysis at once.

    python bench/load.py                      # 10 sessions, then 1 session alone, the demo analysis as the app runs it
    python bench/load.py --sessions 3 --epochs 2 --sentences 150    # cheaper (the paper grid at 2 epochs)

Loopback only: it starts its own ``streamlit run app.py`` on 127.0.0.1 with a fresh cache, and one
headless Chromium per session (bounded: at most ``--sessions`` browsers, ``--timeout`` seconds).
The browsers run in Linux's idle scheduling class (only on a core nothing else wants): in a classroom
they are on the students' machines, and here ten of them would otherwise take the cores the server
needs; their CPU time is reported apart, with the server's and its jobs'.
For each phase it reports every session's time from pressing Run to its result, the peak resident
memory of the server and its job processes (browsers not counted), errors, and whether every
session got its result; then the ratio of the N-session time to the one-session time (identical
runs attach to one job, so it should be close to 1), a table first and one JSON line last.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import available, chromium, click_button, quick_demo_settings, server, wait_text  # noqa: E402
from procs import cpu_seconds, descendants, idle_priority, tree_rss  # noqa: E402


DONE = "finished in"  # the Run page's "Run … finished in N s"
MODE = "Paper grid (7 × 7 λ)"


def _session(base: str, profile: Path, settings: dict | None, start: threading.Barrier, out: dict,
             timeout: float) -> None:
    waited = False
    try:
        with chromium(profile) as driver:
            driver.get(base + "/")
            wait_text(driver, "Training:", timeout=120)  # the demo corpus is loaded
            if settings:
                quick_demo_settings(driver, MODE, settings["epochs"], settings["sentences"])
            waited = True
            start.wait(timeout=300)  # every session presses Run at about the same moment
            pressed = time.time()
            click_button(driver, "Run")
            wait_text(driver, DONE, timeout=timeout, fail_on=("Traceback", "The run failed", "The run was cancelled"),
                      every=2.0)
            out["seconds"] = time.time() - pressed
    except Exception as err:  # noqa: BLE001 - reported per session, the others go on
        out["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}"
        if not waited:  # a session that failed before the barrier must not hold the others back
            try:
                start.wait(timeout=300)
            except threading.BrokenBarrierError:
                pass


def phase(n: int, folder: Path, settings: dict | None, timeout: float) -> dict:
    """N sessions against a fresh server: times, peak memory, errors."""
    with server(folder) as (base, proc):
        peak, sampling = {"bytes": 0}, threading.Event()
        cpu = {"server": {}, "jobs": {}, "browsers": {}}  # pid -> last CPU seconds seen, per kind of process

        def sample():
            while not sampling.is_set():
                peak["bytes"] = max(peak["bytes"], tree_rss(proc.pid))
                jobs = descendants(proc.pid)
                browsers = descendants(os.getpid()) - jobs - {proc.pid}
                idle_priority(browsers)  # in a classroom the browsers run on the students' machines
                for kind, pids in (("server", {proc.pid}), ("jobs", jobs), ("browsers", browsers)):
                    cpu[kind].update(cpu_seconds(pids))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start, outs = threading.Barrier(n), [{} for _ in range(n)]
        threads = [threading.Thread(target=_session, args=(base, folder / f"chrome-{i}", settings, start, outs[i],
                                                           timeout)) for i in range(n)]
        began = time.time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout + 600)
        sampling.set()
        sampler.join()
        log = (folder / "streamlit.log").read_text(errors="replace")
        stored = [p for p in (folder / "cache" / "runs").glob("*") if len(p.name) == 16 and (p / "meta.json").is_file()]
    times = [o["seconds"] for o in outs if "seconds" in o]
    return {"sessions": n, "completed": len(times), "errors": [o["error"] for o in outs if "error" in o],
            "server_tracebacks": log.count("Traceback"), "seconds": [round(t, 1) for t in times],
            "slowest_s": round(max(times), 1) if times else None, "wall_s": round(time.time() - began, 1),
            "peak_server_gb": round(peak["bytes"] / 1e9, 2), "runs_computed": len(stored),
            # where the machine's CPU went: the server (pages, progress polling), its job processes, the browsers
            "cpu_s": {kind: round(sum(seen.values()), 1) for kind, seen in cpu.items()}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--epochs", type=int, help="a cheaper analysis: the paper grid at this many epochs")
    parser.add_argument("--sentences", type=int, default=150, help="with --epochs: training sentences of the demo")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a session waits for its result")
    parser.add_argument("--no-solo", action="store_true", help="skip the one-session phase")
    args = parser.parse_args(argv)
    if not available():
        print("needs /usr/bin/chromium and chromedriver (apt-get install chromium chromium-driver)", file=sys.stderr)
        return 2
    if not 1 <= args.sessions <= 30:
        print("--sessions must be between 1 and 30", file=sys.stderr)
        return 2
    settings = None if args.epochs is None else {"epochs": args.epochs, "sentences": args.sentences}
    report = {"settings": settings or "the app's default analysis (demo, quick mode)"}
    with tempfile.TemporaryDirectory(prefix="lca-load-") as tmp:
        report["many"] = phase(args.sessions, Path(tmp) / "many", settings, args.timeout)
        if not args.no_solo:
            report["solo"] = phase(1, Path(tmp) / "solo", settings, args.timeout)
    many, solo = report["many"], report.get("solo")
    if solo and solo["slowest_s"] and many["slowest_s"]:
        report["ratio_many_to_solo"] = round(many["slowest_s"] / solo["slowest_s"], 2)
    print(f"{'phase':<6} {'sessions':>8} {'done':>5} {'slowest s':>10} {'peak server GB':>15}  errors")
    for name, row in (("many", many), ("solo", solo)):
        if row:
            print(f"{name:<6} {row['sessions']:>8} {row['completed']:>5} {row['slowest_s'] or '-':>10} "
                  f"{row['peak_server_gb']:>15}  {len(row['errors']) + row['server_tracebacks']}   CPU s {row['cpu_s']}")
    if "ratio_many_to_solo" in report:
        print(f"time for all {args.sessions} sessions / one session alone: {report['ratio_many_to_solo']}×")
    print(json.dumps(report))
    return 0 if many["completed"] == many["sessions"] and not many["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
