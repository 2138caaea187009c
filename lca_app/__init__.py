"""The app's side of ``lca``: cached loaders, the browser session, background jobs and small widgets.

Only this package and the pages import streamlit.  Pages use it as ``import lca_app as S``:

- :mod:`.cached`: ``st.cache_*`` loaders (the model as a shared resource; runs, corpora, activations as data);
- :mod:`.session`: the session token and current run in the URL (run labels: :func:`lca.runs.store.run_label`);
- :mod:`.jobs`: runs and fine-tunes on the server-wide job queue (``S.JOBS``; tests patch ``jobs.start_job``);
- :mod:`.progress`: a run in progress on every page (the Run page's panel, a live status line) and opening it when done;
- :mod:`.widgets`: the page intro, charts, download buttons and names;
- :mod:`.runtime`: pages reached through app.py only, and the gc freeze after each run.
"""
from __future__ import annotations

from lca.runs.store import run_label
from lca.scale.estimate import format_duration

from . import jobs
from .cached import (dataset, dataset_holdout, get_model, load_run, load_test_corpus, load_train_corpus,
                     massive_neurons, neuron_column, read_upload, store, test_activations, test_word_tags,
                     upload_holdout)
from .jobs import (STAGE_TITLES, SessionJob, estimate_recompute, estimate_run, extraction_rate, grid_run, job_for,
                   launch, recompute_at, stage_title, start_finetune)
from .progress import JUST_FINISHED, RUN_PAGE, elapsed, follow_run, live_status, panel, status_line
from .runtime import entry_point, freeze_imported_objects
from .session import current_run_id, open_run, require_run, session_token
from .widgets import (chart, count, csv_button, file_digest, intro, literal_md, neuron_name, result_json_button,
                      safe_name, tag_md)

__all__ = ["JOBS", "JUST_FINISHED", "RUN_PAGE", "STAGE_TITLES", "chart", "count", "csv_button", "current_run_id",
           "dataset", "dataset_holdout", "elapsed", "entry_point", "estimate_recompute", "estimate_run",
           "extraction_rate", "file_digest", "follow_run", "format_duration", "freeze_imported_objects", "get_model",
           "grid_run", "intro", "job_for", "launch", "literal_md", "live_status", "load_run", "load_test_corpus",
           "load_train_corpus", "massive_neurons", "neuron_column", "neuron_name", "open_run", "panel",
           "read_upload", "recompute_at", "require_run", "result_json_button", "run_label", "safe_name",
           "session_token", "SessionJob", "stage_title", "start_finetune", "status_line", "store", "tag_md",
           "test_activations", "test_word_tags", "upload_holdout"]


def __getattr__(name: str):
    if name == "JOBS":  # the queue as it is now in .jobs (a test may have swapped it)
        return jobs.JOBS
    raise AttributeError(f"module 'lca_app' has no attribute {name!r}")
