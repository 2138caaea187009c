"""What the job queue (:mod:`lca.scale.jobs`) runs in its worker processes: an LCA run, a fine-tune.

Each target is ``target(messages, cancel, *args)``: progress goes to ``messages`` (a queue) as
``("progress", stage, fraction)``, at most every ``min_interval`` seconds per stage; the outcome as
``("done", value)``, ``("cancelled", None)`` or ``("failed", message)``.  ``cancel`` (an event)
stops the work at its next progress report.
"""
from __future__ import annotations

import time
import traceback
from pathlib import Path

from .._validation import InputError
from ..data.corpus import Corpus
from ..runs.result import RunConfig

__all__ = ["JobCancelled", "execute_run", "execute_finetune"]


class JobCancelled(Exception):
    """Raised from a target's progress callback once ``cancel`` is set."""


def _reporter(messages, cancel, min_interval: float):
    last = {"stage": None, "time": 0.0}

    def progress(stage: str, fraction: float) -> None:
        if cancel.is_set():
            raise JobCancelled()
        now = time.time()
        if stage != last["stage"] or fraction >= 1 or now - last["time"] >= min_interval:
            messages.put(("progress", stage, float(fraction)))
            last.update(stage=stage, time=now)
    return progress


def _outcome(messages, work) -> None:
    try:
        messages.put(("done", work()))
    except JobCancelled:
        messages.put(("cancelled", None))
    except InputError as err:
        messages.put(("failed", str(err)))
    except Exception as err:  # noqa: BLE001 - reported to the page; the traceback goes to the server's log
        traceback.print_exc()
        messages.put(("failed", f"{type(err).__name__}: {err}"))


def execute_run(messages, cancel, rid: str, train: Corpus, test: Corpus, config: RunConfig,
                meta: dict | None = None, store_root: str | None = None, min_interval: float = 0.25) -> None:
    """Run LCA and save it in the run store as ``rid`` (the queue's ``on_done`` then gives it to every
    session that waited for it), its meta with the time the run started (``started``); ``("done", rid)``."""
    from ..models.loading import load_model
    from ..runs.pipeline import run_lca
    from ..runs.store import RunStore

    progress = _reporter(messages, cancel, min_interval)

    def work() -> str:
        started = time.time()
        progress("load", 0.0)
        loaded = load_model(config)
        result = run_lca(train, test, config, loaded=loaded, progress=progress)
        store = RunStore(store_root)
        store.save(rid, result, test, {**(meta or {}), "started": started}, train=train)
        return rid

    _outcome(messages, work)


def execute_finetune(messages, cancel, config: dict, out: str, min_interval: float = 0.25) -> None:
    """Fine-tune (:func:`lca.models.finetune.finetune`) into ``out``; progress as stage ``finetune``;
    ``("done", FinetuneResult.to_dict() + {"last_loss"})``."""
    from ..models.finetune import FinetuneConfig, finetune

    progress = _reporter(messages, cancel, min_interval)
    losses = []

    def step(done: int, total: int, loss: float) -> None:
        losses.append(loss)
        progress("finetune", done / total)

    _outcome(messages, lambda: {**finetune(FinetuneConfig.from_dict(config), Path(out), step).to_dict(),
                                "last_loss": losses[-1] if losses else None})
