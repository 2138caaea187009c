"""LCA Explorer: the Streamlit entry point.  ``streamlit run app.py``

Sets up the session (its token lives in the URL, so a reload keeps its runs), the page
list and the sidebar's run picker; each page in ``pages/`` renders one view.
"""
from pathlib import Path

ICON = Path(__file__).resolve().parent / "assets" / "icon.svg"


def main() -> None:
    import streamlit as st

    import lca_app as S

    pages = [
        st.Page("pages/run.py", title="Run", icon=":material/play_circle:", default=True),
        st.Page("pages/overview.py", title="Overview", icon=":material/table_chart:"),
        st.Page("pages/explorer.py", title="Neuron explorer", icon=":material/neurology:"),
        st.Page("pages/neurons.py", title="Single neurons", icon=":material/manage_search:"),
        st.Page("pages/layers.py", title="Layers and properties", icon=":material/stacked_bar_chart:"),
        st.Page("pages/playground.py", title="Playground", icon=":material/keyboard:"),
        st.Page("pages/intervene.py", title="Causal check", icon=":material/power_settings_new:"),
        st.Page("pages/compare.py", title="Compare runs", icon=":material/compare_arrows:"),
    ]

    # a 400 px sidebar (of 1400) holds the picker's short run labels; the whole label is the caption below it.
    # The page icon is the app's own file, sent inline (a material icon there is fetched from Google's font host).
    st.set_page_config(page_title="LCA Explorer", page_icon=str(ICON), layout="wide", initial_sidebar_state=400)
    token = S.session_token()
    page = st.navigation(pages)
    S.follow_run(token)  # a run of this session that has finished opens, whichever page is open
    rid = S.current_run_id()
    job = S.job_for(token)

    with st.sidebar:
        st.markdown("**LCA Explorer** · Linguistic Correlation Analysis (Durrani, Dalvi & Sajjad)")
        metas = S.store().list(token)
        if metas:
            ids = [m["run_id"] for m in metas]
            short = {m["run_id"]: S.run_label(m, "short") for m in metas}
            choice = st.selectbox("Current run", ids, index=ids.index(rid) if rid in ids else None,
                                  format_func=short.get, key=f"run_picker_{rid}", placeholder="Pick a run",
                                  help="Runs by task · model · mode · seed · short id; the line below names "
                                       "the current one in full (data, λ pair, site, time).")
            if rid in ids:
                st.caption(S.run_label(metas[ids.index(rid)]))
            if choice and choice != rid:
                S.open_run(choice)
                st.rerun()
        elif job is None or not job.running:
            st.caption("No run yet in this session.")
        if job is not None and job.running:  # its stage and time left, on every page, redrawn every 2 s
            S.live_status(token, link=page.url_path != "")  # the Run page (default, path "") has the panel

    with S.entry_point():
        try:
            page.run()
        finally:  # once the page's imports are done
            S.freeze_imported_objects()


# A job process (lca.scale.jobs, spawned) first re-runs its parent's main script under the name
# "__mp_main__", and inside Streamlit that script is app.py: drawing the app there cost every run
# seconds and ~44 "missing ScriptRunContext" warnings in the server's log.
if __name__ != "__mp_main__":
    main()
