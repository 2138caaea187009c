"""LCA Explorer: the Streamlit entry point.  ``streamlit run app.py``

Sets up the session (its token lives in the URL, so a reload keeps its runs), the page
list and the sidebar's run picker; each page in ``pages/`` renders one view.
"""
import streamlit as st

import app_state as S

st.set_page_config(page_title="LCA Explorer", page_icon=":material/neurology:", layout="wide")

PAGES = [
    st.Page("pages/run.py", title="Run", icon=":material/play_circle:", default=True),
    st.Page("pages/overview.py", title="Overview", icon=":material/table_chart:"),
    st.Page("pages/explorer.py", title="Neuron explorer", icon=":material/neurology:"),
    st.Page("pages/layers.py", title="Layers and properties", icon=":material/stacked_bar_chart:"),
    st.Page("pages/playground.py", title="Playground", icon=":material/keyboard:"),
    st.Page("pages/compare.py", title="Compare runs", icon=":material/compare_arrows:"),
]

token = S.session_token()
page = st.navigation(PAGES)
rid = S.current_run_id()

with st.sidebar:
    st.markdown("**LCA Explorer** · Linguistic Correlation Analysis (Durrani, Dalvi & Sajjad)")
    metas = S.store().list(token)
    if metas:
        ids = [m["run_id"] for m in metas]
        labels = {m["run_id"]: S.run_label(m) for m in metas}
        choice = st.selectbox("Current run", ids, index=ids.index(rid) if rid in ids else None,
                              format_func=labels.get, key=f"run_picker_{rid}", placeholder="Pick a run")
        if choice and choice != rid:
            S.open_run(choice)
            st.rerun()
    else:
        st.caption("No run yet in this session.")
    job = S.job_for(token)
    if job is not None and job.running:
        st.caption(f"A run is in progress: {S.STAGE_TITLES.get(job.stage, job.stage)}.")

with S.entry_point():
    page.run()
