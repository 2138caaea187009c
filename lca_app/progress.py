"""A session's run in progress, wherever the user is: the Run page's panel of stages, a live status line
(the sidebar of every page, a page waiting for a run, the Overview's recompute), and opening the run once
it has finished, on whichever page is open."""
from __future__ import annotations

import time

import streamlit as st

from lca.scale.estimate import format_duration, total_left

from . import jobs
from .jobs import SessionJob, job_for
from .session import open_run

RUN_PAGE = "pages/run.py"
JUST_FINISHED = "_run_just_finished"  # session_state: the run that finished and was opened, until another is


def follow_run(token: str) -> None:
    """Open the session's run once it has finished (once; app.py calls this before drawing anything)."""
    job = job_for(token)
    if job is not None and job.status == "done" and not job.seen:
        job.mark_seen()
        open_run(job.rid)
        st.session_state[JUST_FINISHED] = job.rid


def elapsed(job: SessionJob) -> float:
    return (job.finished or time.time()) - job.started


def _about(seconds: float) -> str:
    """An estimate in words: a few seconds, or about so many (rounded)."""
    return "a few seconds" if seconds < 10 else f"about {format_duration(seconds, rough=True)}"


def _left(seconds: float | None) -> str:
    return ("time left: no estimate yet (none until a run of this kind has finished on this server)"
            if seconds is None else f"{_about(seconds)} left")


def stage_text(job: SessionJob, row) -> str:
    """One stage's line: done with its time; running with its progress and time left; waiting with its estimate."""
    title = job.title(row.stage)
    if row.state == "done":
        return f"{title} ✓ {format_duration(row.seconds)}"
    if row.state == "waiting":
        return title + ("" if row.left is None else f" · {_about(row.left)}")
    so_far = f"{format_duration(row.seconds)} so far"
    if row.by_time:  # the stage reports nothing between its ends: the bar is the time earlier runs took
        late = row.left == 0
        return (f"{title} … {so_far} · " + ("taking longer than earlier runs on this server" if late else
                                             f"{_about(row.left)} left")
                + " (estimated from earlier runs: this stage reports no progress of its own)")
    if row.left is None:
        return f"{title} … {100 * row.fraction:.0f} % · {so_far} · no estimate yet"
    return f"{title} … {100 * row.fraction:.0f} % · {so_far} · {_left(row.left)}"


def _overall(rows) -> float:
    """The whole run's share done: by time where every stage has an estimate, else by stages."""
    left = total_left(rows)
    spent = sum(r.seconds for r in rows)
    if left is not None and spent + left > 0:
        return min(1.0, spent / (spent + left))
    return sum(r.fraction for r in rows) / max(1, len(rows))


def status_line(job: SessionJob) -> str:
    """The run in one sentence: queued with its place, or its stage and time left."""
    if job.status == "queued":
        wait = job.wait_estimate
        return (f"A run is queued: number {job.position} in the server's queue"
                + (f", about {format_duration(wait, rough=True)} to its start." if wait is not None else "."))
    rows = job.times
    # the running stage, or between two stages the next one
    current = next((r for r in rows if r.state == "running"), None) or next((r for r in rows if r.state != "done"), None)
    if current is None or job.stage is None:
        return "A run is starting."
    done = sum(r.state == "done" for r in rows)
    return (f"A run is in progress: {job.title(current.stage)} (stage {done + 1} of {len(rows)}), "
            f"{format_duration(elapsed(job))} so far, {_left(total_left(rows))}.")


def panel(job: SessionJob) -> None:
    """The Run page's panel: the run's state, time so far and left, and a bar per stage."""
    shared = (f" · followed by {job.others} other session{'s' if job.others > 1 else ''}, which started the same run"
              if job.others else "")
    if job.status == "queued":
        slots = jobs.JOBS.max_running
        st.markdown(f"**Queued** run `{job.rid}`: " + status_line(job).removeprefix("A run is queued: ")
                    + f" ({slots} run{'s' if slots > 1 else ''} at a time on this server){shared}")
        return
    rows = job.times
    st.markdown(f"**Running** run `{job.rid}` · {format_duration(elapsed(job))} so far · {_left(total_left(rows))}"
                + shared)
    for row in rows:
        st.progress(row.fraction, text=stage_text(job, row))


@st.fragment(run_every=2.0)
def live_status(token: str, link: bool = True) -> None:
    """The session's run in a line and a bar, redrawn every 2 s; the whole page is redrawn when it ends.
    Call it only while the run is queued or running."""
    job = job_for(token)
    if job is None or not job.running:
        st.rerun()
    st.caption(status_line(job))
    if job.status == "running":
        st.progress(_overall(job.times))
    if link:
        st.page_link(RUN_PAGE, label="Follow it on the Run page", icon=":material/play_circle:")
