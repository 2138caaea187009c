"""The script run itself: pages reached through app.py only, and objects of imported modules kept out of the gc."""
from __future__ import annotations

import gc
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

ENTRY_SCRIPT = Path(__file__).resolve().parents[1] / "app.py"
_ENTRY = threading.local()  # .ran: app.py is running the current page; .rerouting: a page is running app.py


@contextmanager
def entry_point():
    """app.py runs the selected page inside this, so that pages know they were reached through app.py."""
    _ENTRY.ran = True
    try:
        yield
    finally:
        _ENTRY.ran = False


def through_entry_point() -> None:
    """Make sure the page runs inside app.py; call first thing on every page.

    Before app.py's first ``st.navigation`` call, Streamlit treats the folder ``pages/`` as old-style
    auto-discovered pages, and runs a page asked for by its URL (a permalink on a fresh server; every run of an
    ``AppTest`` after ``switch_page``) on its own.  Then this runs app.py here instead: it sets up the session and
    the sidebar, lists the pages with ``st.navigation`` (which turns the auto-discovery off) and runs the same
    page inside :func:`entry_point`; this run stops when it returns.
    """
    if getattr(_ENTRY, "ran", False):
        return
    if getattr(_ENTRY, "rerouting", False):  # app.py ran and still did not mark the page: do not loop
        st.error("Open the app from its start page (streamlit run app.py).")
        st.stop()
    _ENTRY.rerouting = True
    try:  # as a module of its own, kept out of sys.modules (the gc freeze counts modules)
        exec(compile(ENTRY_SCRIPT.read_bytes(), str(ENTRY_SCRIPT), "exec"),
             {"__name__": "lca_entry", "__file__": str(ENTRY_SCRIPT)})
    finally:
        _ENTRY.rerouting = False
    st.stop()


_FREEZE = {"lock": threading.Lock(), "modules": 0}  # len(sys.modules) at the last freeze


def freeze_imported_objects() -> None:
    """Take the objects of newly imported modules out of the garbage collector's view (called after
    each full script run; cheap unless modules were imported since the last call).

    Streamlit runs ``gc.collect(2)`` after every script run, fragment reruns included
    (``runner.postScriptGC``). Over the ~300,000 objects of torch, transformers, pandas and plotly
    that took 0.1-0.3 s of CPU each time, and the Run page's progress panel reruns every second in
    every waiting session: in the 10-session load test the server took both cores and the one shared
    job never finished. Pressing Run imports ~1,200 more modules (160,000 objects), hence "after each
    run". Collected first, so no garbage is frozen; then a collection takes well under a millisecond.
    """
    with _FREEZE["lock"]:
        if len(sys.modules) > _FREEZE["modules"]:
            gc.collect()
            gc.freeze()
            _FREEZE["modules"] = len(sys.modules)
