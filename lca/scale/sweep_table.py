"""A sweep's table: one row per run, written as ``sweep.csv`` / ``sweep.json``, and shown live."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

from ..store.atomic import atomic_write, write_json_atomic
from .._validation import InputError
from .sweep_spec import SweepRun, SweepSpec

__all__ = ["write_table", "sweep_row", "counts", "progress_printer", "error_text"]


def error_text(err: BaseException) -> str:
    """The root cause of a task's failure in one line (a run fails with its extraction's error too)."""
    cause = err
    while getattr(cause, "cause", None) is not None and cause.cause is not cause:
        cause = cause.cause
    if isinstance(cause, InputError):
        return str(cause)
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else ''}"[:500]


def _show(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def sweep_row(run: SweepRun, rid: str, status: str, result=None, error: str = "") -> dict:
    """``label, status, error, run_id, dir``, the run's axis values, and (finished runs) its time and the
    Compare page's accuracy table (:func:`lca.report.compare.result_row`)."""
    from ..report.compare import result_row

    row = {"label": run.label, "status": status, "error": error, "run_id": rid, "dir": f"runs/{rid}"}
    row.update({name: _show(value) for name, value in run.values.items()})
    if result is not None:
        row["run_seconds"] = round(sum(result.timings.values()), 1)
        row.update({k: v for k, v in result_row(result).items() if k not in row and k != "label"})
    return row


def write_table(rows: list[dict], out: Path, spec: SweepSpec, seconds: float) -> None:
    """``OUT/sweep.json`` (the spec and the rows) and ``OUT/sweep.csv`` (the rows), each replaced atomically."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    write_json_atomic(out / "sweep.json", {"spec": spec.to_dict(), "seconds": round(seconds, 1), "runs": rows},
                      default=str)

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(out / "sweep.csv", write_csv)


def counts(status: dict) -> dict:
    names = ("queued", "running", "done", "skipped", "failed")
    return {n: sum(1 for s in status.values() if s.split(":")[0] == n) for n in names}


def progress_printer(stream=None):
    """Prints the table live: redrawn in place on a terminal, one line per change otherwise."""
    stream = stream or sys.stderr
    tty = stream.isatty()
    last = [None]

    def show(status: dict, labels: dict, elapsed: float) -> None:
        n = counts(status)
        head = f"[{elapsed:6.0f} s] " + " · ".join(f"{k} {c}" for k, c in n.items())
        if tty:
            lines = [head] + [f"  {s:<20} {labels[r]}" for r, s in status.items()]
            stream.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
        elif n != last[0]:
            stream.write(head + "\n")
            last[0] = n
        stream.flush()

    return show
