"""The app's side of ``lca``: cached loaders, the browser session, background jobs and small widgets.

Only this package and the pages import streamlit.  Pages use it as ``import lca_app as S``:

- :mod:`.cached`: ``st.cache_*`` loaders (the model as a shared resource; runs, corpora, activations as data);
- :mod:`.session`: the session token and current run in the URL (run labels: :func:`lca.runs.store.run_label`);
- :mod:`.jobs`: runs and fine-tunes on the server-wide job queue (``S.JOBS``; tests patch ``jobs.start_job``);
- :mod:`.widgets`: the page intro, charts, download buttons and names;
- :mod:`.runtime`: pages reached through app.py only, and the gc freeze after each run.
"""
from __future__ import annotations

from lca.runs.store import run_label

from . import jobs
from .cached import (dataset, dataset_holdout, get_model, load_run, load_test_corpus, load_train_corpus,
                     massive_neurons, neuron_column, read_upload, store, test_activations, test_word_tags,
                     upload_holdout)
from .jobs import STAGE_TITLES, SessionJob, grid_run, job_for, launch, recompute_at, start_finetune
from .runtime import entry_point, freeze_imported_objects
from .session import current_run_id, open_run, require_run, session_token
from .widgets import (chart, csv_button, file_digest, intro, literal_md, neuron_name, result_json_button, safe_name,
                      tag_md)

__all__ = ["JOBS", "STAGE_TITLES", "SessionJob", "chart", "csv_button", "current_run_id", "dataset",
           "dataset_holdout", "entry_point", "file_digest", "freeze_imported_objects", "get_model", "grid_run",
           "intro", "job_for", "literal_md", "launch", "load_run", "load_test_corpus", "load_train_corpus",
           "massive_neurons", "neuron_column",
           "neuron_name", "open_run", "read_upload", "recompute_at", "require_run", "result_json_button",
           "run_label", "safe_name", "session_token", "start_finetune", "store", "tag_md", "test_activations",
           "test_word_tags", "upload_holdout"]


def __getattr__(name: str):
    if name == "JOBS":  # the queue as it is now in .jobs (a test may have swapped it)
        return jobs.JOBS
    raise AttributeError(f"module 'lca_app' has no attribute {name!r}")
