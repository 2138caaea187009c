"""The browser session: its token (``?s=`` in the URL) and the run it looks at (``?run=``)."""
from __future__ import annotations

import streamlit as st

from lca._validation import InputError
from lca.runs.result import LCAResult
from lca.runs.store import check_token, new_token

from .cached import load_run, store

# session_state keys
TOKEN, RUN, REFUSED = "lca_token", "lca_run", "_lca_refused"


def session_token() -> str:
    """This browser session's token: from the URL (survives a reload), else new; always written back to the URL."""
    token = st.session_state.get(TOKEN)
    url_token = st.query_params.get("s")
    if url_token and url_token != token:
        try:
            token = check_token(url_token)
        except InputError:
            st.warning("The session token in the address is malformed: a new session was started.")
            token = None
    token = token or new_token()
    st.session_state[TOKEN] = token
    if st.query_params.get("s") != token:
        st.query_params["s"] = token
    return token


def current_run_id() -> str | None:
    """The run this session is looking at (``run`` in the URL, else the last opened), if the session owns it."""
    token = session_token()
    wanted = st.query_params.get("run") or st.session_state.get(RUN)
    owned = store().session_runs(token)
    rid = wanted if wanted in owned else None
    if wanted and rid is None and st.session_state.get(REFUSED) != wanted:
        st.session_state[REFUSED] = wanted  # say it once, not on every rerun
        st.info(f"Run `{str(wanted)[:16]}` in the address is not one of this session's runs, so it was not opened: "
                "runs open only in the session that made them (its token is the `s` in the address): share the "
                "whole address to show someone a run.")
    st.session_state[RUN] = rid
    if rid and st.query_params.get("run") != rid:
        st.query_params["run"] = rid
    elif not rid and "run" in st.query_params:
        del st.query_params["run"]
    return rid


def open_run(rid: str) -> None:
    """Make ``rid`` the session's current run (and put it in the URL)."""
    st.session_state[RUN] = rid
    st.query_params["run"] = rid


def require_run() -> tuple[str, LCAResult]:
    """The current run and its result, or an info box and stop when there is none."""
    rid = current_run_id()
    if rid is None:
        from .jobs import job_for
        from .progress import RUN_PAGE, status_line

        job = job_for(session_token())
        if job is not None and job.running:  # this page opens on its result when it ends
            st.info(status_line(job) + " This page shows its result when it ends.", icon=":material/hourglass_top:")
            st.page_link(RUN_PAGE, label="Follow it on the Run page", icon=":material/play_circle:")
        else:
            st.info("No run yet: start one on the **Run** page (or open an earlier run there).")
        st.stop()
    try:
        return rid, load_run(rid)
    except (InputError, OSError, ValueError) as err:
        st.error(f"Run {rid} cannot be read: {err}")
        st.stop()
