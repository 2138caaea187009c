"""Run page: pick a model, data and task, run LCA in the background, reopen earlier runs."""
import datetime as dt

import pandas as pd
import streamlit as st

import lca_app as S
from lca._validation import InputError
from lca.data.datasets import DATASETS, availability, sample_sentences
from lca.models.catalogue import describe, installed_models
from lca.models.extract import AGGREGATIONS, DEFAULT_MODEL
from lca.runs.result import TRAINING, RunConfig, parse_layers
from lca.runs.store import import_run

S.intro("Run an analysis",
        "**What it finds:** which neurons of a language model encode a property of words, such as their part of "
        "speech, and how many of them it takes. Beside the Run button is how long a run should take on this server, "
        "from the runs that finished here; while it runs, each stage shows its progress and time left, and every "
        "page opens on its result.\n\n"
        "How: choose a model, a labelled corpus and a linguistic task; LCA trains an elastic-net probe on every neuron "
        "of every layer, ranks the neurons by their weights and checks the ranking, as in Sections 2 and 4 of "
        "Durrani, Dalvi & Sajjad (Algorithms 1–4, Tables 2, 3 and 5). Runs continue in the background, "
        "can be cancelled, and every finished run is kept: it reopens instantly below, even after a reload.")

token = S.session_token()
store = S.store()
job = S.job_for(token)
BUNDLED, INSTALLED, CUSTOM = f"Bundled ({DEFAULT_MODEL})", "Installed model", "Hugging Face id or local folder"
DEMO, REGISTRY, UPLOAD = "Demo corpus", "Dataset registry", "Upload files"
# The form's widgets start from these values (set in session_state before the widgets exist, so that a
# reload can put a running job's settings there instead without Streamlit's "default and state" warning).
DEFAULTS = {"run_ds_max_train": 2000, "run_ds_max_test": 500, "run_agg": "last", "run_seed": 0, "run_seeds": 1,
            "run_epochs": 10, "run_top": 0.2, "run_drop": True, "run_max_train": 0, "run_max_test": 0, "run_screen": 0}
FORM = ("run_model_src", "run_model_id", "run_model_installed", "run_data_src", "run_ds_name", "run_ds_max_train",
        "run_ds_max_test", "run_task", "run_agg", "run_mode", "run_seed", "run_seeds", "run_epochs", "run_top",
        "run_drop", "run_max_train", "run_max_test", "run_site", "run_screen", "run_layers")


def form_of(running_job) -> dict:
    """The Run form's widget values that started ``running_job``: as recorded when Run was pressed, else
    (a job started elsewhere, e.g. a λ pick on the Overview) read back from its RunConfig and meta."""
    meta = running_job.meta or {}
    if meta.get("form"):
        return {k: v for k, v in meta["form"].items() if k in FORM}
    cfg = running_job.config if running_job.config is not None else meta.get("config") or {}
    cfg = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    layers = cfg.get("layers")
    form = {"run_task": cfg.get("task"), "run_agg": cfg.get("aggregation"), "run_mode": cfg.get("mode"),
            "run_seed": cfg.get("seed"), "run_seeds": cfg.get("seeds"), "run_epochs": cfg.get("epochs"),
            "run_top": cfg.get("top_fraction"), "run_drop": cfg.get("drop_unseen"), "run_site": cfg.get("site"),
            "run_screen": cfg.get("screen") or 0, "run_layers": ",".join(map(str, layers)) if layers else "",
            "run_model_src": CUSTOM if cfg.get("model") else BUNDLED, "run_model_id": cfg.get("model")}
    dataset = str(meta.get("dataset") or "")
    if dataset == "demo":
        form["run_data_src"] = DEMO
    elif dataset in DATASETS:
        form["run_data_src"], form["run_ds_name"] = REGISTRY, dataset
    return {k: v for k, v in form.items() if v is not None}


if job is not None and job.running:  # e.g. a reload during a run: fill the form's unset widgets from that run
    unset = {k: v for k, v in form_of(job).items() if k not in st.session_state}
    st.session_state.update(unset)
    if unset:
        st.session_state["_run_form_restored"] = job.rid
handoff = st.session_state.pop("run_handoff_model", None)  # "Analyse this model" on the Compare page
if handoff:
    st.session_state["run_model_src"], st.session_state["run_model_id"] = CUSTOM, handoff
for key, value in DEFAULTS.items():
    st.session_state.setdefault(key, value)
if st.session_state.get("_run_toast"):  # a run was just started: say so where the eye is
    st.toast(st.session_state.pop("_run_toast"), icon=":material/play_circle:")
if job is not None and job.running and st.session_state.get("_run_form_restored") == job.rid:
    st.info("A run of this session is in progress (below): the form was filled in with its settings.",
            icon=":material/history:")
if handoff:
    st.info(f"Model set to `{handoff}` from the Compare page: choose the data and task, then press Run.",
            icon=":material/input:")

# ---- 1. model -----------------------------------------------------------------------------------------------
st.subheader("1 · Model")
installed = {r["model"]: r for r in installed_models() if r["kind"] != "bundled"}  # `python -m lca models`
if st.session_state.get("run_model_src") == INSTALLED and not installed:
    st.session_state["run_model_src"] = BUNDLED
source = st.radio("Model source", [BUNDLED, *([INSTALLED] if installed else []), CUSTOM], horizontal=True,
                  key="run_model_src")
model = None
if source == INSTALLED:  # added with `python -m lca models add NAME`, GGUF files converted, fine-tuned copies
    model = st.selectbox("Installed model", list(installed), key="run_model_installed", format_func=lambda m: (
        f"{installed[m]['name']} — {installed[m]['title'] or installed[m]['kind']} ({describe(installed[m])})"))
if source == CUSTOM:
    model = st.text_input("Model id or local path", key="run_model_id",
                          placeholder="e.g. bert-base-cased, /models/my-bert (saved with save_pretrained), /m/x.gguf",
                          help="Without internet only models in the Hugging Face cache, local folders and GGUF files "
                               "load. A GGUF file is converted once (about 25 s for a 100 MB file).")
    model = model.strip() or None
    if model is None:
        st.caption("Type a model id or a folder; empty means the bundled model.")

# ---- 2. data ------------------------------------------------------------------------------------------------
class _NotHere(Exception):
    """A registry dataset that is not on this server was picked (an info says so; nothing is loaded)."""


st.subheader("2 · Data")
data_src = st.radio("Data source", [DEMO, REGISTRY, UPLOAD], horizontal=True, key="run_data_src")
train = test = None
data_label = ""
try:
    if data_src == DEMO:
        train, test = S.dataset("demo", "train"), S.dataset("demo", "test")
        data_label = "demo"
    elif data_src == REGISTRY:
        names = [n for n in DATASETS if n != "demo"]
        state = availability()
        c1, c2, c3 = st.columns([2, 1, 1])
        name = c1.selectbox("Dataset", names, key="run_ds_name",  # the mark first: long labels are cut at the end
                            format_func=lambda n: n + ("" if state[n] == "here" else " (not downloaded)")
                                                  + f" — {DATASETS[n].description}")
        splits = list(DATASETS[name].splits)
        max_train = c2.number_input("Max. training sentences", 10, 50_000, step=100, key="run_ds_max_train")
        max_test = c3.number_input("Max. test sentences", 5, 50_000, step=100, key="run_ds_max_test")
        st.caption(DATASETS[name].note or DATASETS[name].licence)
        if state[name] == "local-only":
            st.info(f"{name} is not on this server and has no public download: put its files under $LCA_DATA_DIR "
                    "(see the note above); the demo corpus works offline.", icon=":material/cloud_off:")
            raise _NotHere
        if state[name] == "download" and not st.session_state.get(f"run_ds_fetch_{name}"):
            st.info(f"{name} is not downloaded on this server: press Download (needs internet), or put its files "
                    "under $LCA_DATA_DIR; the demo corpus works offline.", icon=":material/cloud_download:")
            st.button("Download", key=f"run_ds_fetch_{name}", icon=":material/download:")
            raise _NotHere
        test_split = "test" if "test" in splits else splits[-1]
        train_split = next((s for s in ("train", "dev") if s in splits and s != test_split), None)
        if train_split is None:
            train, test = S.dataset_holdout(name, test_split, int(max_train), int(max_test))
            st.caption(f"{name} has only a '{test_split}' split: 80 % of its sentences train, 20 % test.")
        else:
            train, test = S.dataset(name, train_split, int(max_train)), S.dataset(name, test_split, int(max_test))
            st.caption(f"Training on '{train_split}', testing on '{test_split}'.")
        data_label = name
    else:
        fmt_names = {"conllu": "CoNLL-U", "columns": "Column file (one word per line)", "conll2000": "CoNLL-2000 chunking",
                     "pmb": "PMB semantic tags", "neurox": "NeuroX pair (sentences + labels)"}
        fmt = st.selectbox("Format", list(fmt_names), format_func=fmt_names.get, key="run_up_fmt")
        options: tuple = ()
        if fmt == "neurox":
            c1, c2 = st.columns(2)
            tr = (c1.file_uploader("Training sentences (one per line)", key="run_up_tr_text"),
                  c2.file_uploader("Training labels (parallel)", key="run_up_tr_labels"))
            te = (c1.file_uploader("Test sentences (optional)", key="run_up_te_text"),
                  c2.file_uploader("Test labels (optional)", key="run_up_te_labels"))
            label_task = st.selectbox("What the labels are", ["xpos", "upos", "sem", "chunk", "ccg", "deprel"],
                                      key="run_up_task")
            options = (("task", label_task),)
            tr, te = (tr if all(tr) else None), (te if all(te) else None)
        else:
            c1, c2 = st.columns(2)
            tr = c1.file_uploader("Training file", key="run_up_train")
            te = c2.file_uploader("Test file (optional: else 20 % of the training sentences)", key="run_up_test")
            if fmt == "columns":
                c3, c4 = st.columns(2)
                word_col = c3.text_input("Word column (0-based index or header name)", "0", key="run_up_wordcol")
                labels = c4.text_input("Label columns, e.g. xpos=1, chunk=2 (empty: named by the '# columns =' header)",
                                       "", key="run_up_labels")
                options = (("word_column", word_col.strip() or "0"),)
                if labels.strip():
                    pairs = [p.split("=", 1) for p in labels.split(",") if p.strip()]
                    if any(len(p) != 2 for p in pairs):
                        raise InputError(f"label columns must look like 'xpos=1, chunk=2'; got {labels!r}")
                    options += (("label_columns", tuple((k.strip(), v.strip()) for k, v in pairs)),)
            tr, te = ((tr,) if tr else None), ((te,) if te else None)
        if tr is None:
            st.info("Upload a training file to continue.")
        else:
            files = tuple((f.name, f.getvalue()) for f in tr)
            if te is None:
                train, test = S.upload_holdout(files, fmt, options)
            else:
                train = S.read_upload(files, fmt, options)
                test = S.read_upload(tuple((f.name, f.getvalue()) for f in te), fmt, options)
            data_label = f"upload: {tr[0].name}"
except _NotHere:
    train = test = None
except InputError as err:
    st.error(f"The data could not be read: {err}")
    train = test = None

if train is not None and test is not None:
    st.caption(f"Training: {len(train.sentences):,} sentences, {train.n_words:,} words · "
               f"test: {len(test.sentences):,} sentences, {test.n_words:,} words.")

# ---- 3. task and settings ----------------------------------------------------------------------------------
st.subheader("3 · Task and settings")
tasks = [t for t in train.available_tasks() if t in test.available_tasks()] if train is not None and test is not None else []
c1, c2, c3, c4, c5 = st.columns(5)
if tasks and st.session_state.get("run_task") not in tasks:
    st.session_state["run_task"] = "xpos" if "xpos" in tasks else tasks[0]
task = c1.selectbox("Task", tasks or ["(load data first)"], key="run_task" if tasks else "run_task_none",
                    disabled=not tasks, help="Column tasks come from the data; suffix and position are derived.")
aggregation = c2.selectbox("Subwords → word", AGGREGATIONS, key="run_agg",
                           help="Which subword activation stands for the word; the paper uses the last.")
mode = c3.selectbox("Search", ["quick", "paper"], key="run_mode",
                    format_func={"quick": "Quicker search", "paper": "Paper grid (7 × 7 λ)"}.get,
                    help="The paper's grid trains 49 probes; the quicker search explores fewer λ pairs.")
seed = c4.number_input("Seed", 0, 2**31 - 1, key="run_seed")
n_seeds = c5.number_input("Seeds", 1, 5, key="run_seeds",
                          help="Repeat the run with seeds Seed, Seed+1, …: every figure is reported as mean ± sd over "
                               "them (the paper averages 3). Each seed costs a full run.")
quick, paper = TRAINING["quick"], TRAINING["paper"]
st.caption(f"Quicker search trains converged probes: lr {quick['lr']:g} decayed {quick['schedule']}ly to 0, at least "
           f"{quick['min_steps']:,} optimizer steps per probe. The paper grid follows Algorithm 1 literally: "
           f"the epochs below (10 in the paper) at a {paper['schedule']} lr {paper['lr']:g}, a few hundred steps on a "
           "small corpus, which often leaves the probe unconverged (the Overview's training curve shows it).")
with st.expander("More settings"):
    d1, d2, d3 = st.columns(3)
    epochs = d1.number_input("Epochs per probe", 1, 100, key="run_epochs")
    top_fraction = d2.slider("M: share kept in the ablation", 0.05, 0.5, step=0.05, key="run_top")
    drop_unseen = d3.checkbox("Drop unseen test tags", key="run_drop",
                              help="Drop test words whose tag never occurs in the training data (else the run stops).")
    e1, e2, _ = st.columns(3)
    max_train_sents = e1.number_input("Use at most this many training sentences (0 = all)", 0, 50_000, step=50,
                                      key="run_max_train", help="A seeded sample: smaller is faster, less accurate.")
    max_test_sents = e2.number_input("Use at most this many test sentences (0 = all)", 0, 50_000, step=50,
                                     key="run_max_test")
    f1, f2 = st.columns(2)
    site = f1.radio("Neurons", ["hidden", "mlp"], key="run_site", horizontal=True,
                    format_func={"hidden": "Layer outputs (the paper's)", "mlp": "MLP neurons"}.get,
                    help="Layer outputs: the hidden size per layer, layer 0 = embeddings. MLP neurons: each block's "
                         "MLP activation after the nonlinearity (GPT-2: 3,072 per block; gated MLPs: act(gate) × up), "
                         "blocks numbered from 0.")
    screen_k = f2.number_input("Screen: keep this many neurons per layer (0 = all)", 0, 100_000, step=256,
                               key="run_screen", help="For big models: one streamed pass scores every neuron cheaply "
                               "(probeless score ÷ its spread), keeps the best of each layer, then LCA runs on those.")
    layers_text = st.text_input("Layers to analyse (e.g. 0,1,2; empty = every layer, as in the paper)",
                                key="run_layers", help="Layer outputs: layer 0 is the embedding output, layer k the "
                                                       "k-th block's output. MLP neurons: block numbers from 0.")

if train is not None and test is not None and (max_train_sents or max_test_sents):
    train = sample_sentences(train, int(max_train_sents), int(seed)) if max_train_sents else train
    test = sample_sentences(test, int(max_test_sents), int(seed)) if max_test_sents else test
    st.caption(f"Sampled: {len(train.sentences):,} training sentences ({train.n_words:,} words), "
               f"{len(test.sentences):,} test sentences ({test.n_words:,} words).")

running = job is not None and job.running
config = None
try:
    config = RunConfig(task=task, model=model, aggregation=aggregation, mode=mode, seed=int(seed),
                       layers=parse_layers(layers_text), epochs=int(epochs), top_fraction=float(top_fraction),
                       drop_unseen=bool(drop_unseen), seeds=int(n_seeds), site=site, screen=int(screen_k) or None)
except InputError as err:
    settings_error = str(err)
if config is not None and tasks and not running:
    expected = S.estimate_run(config, train, test)  # from the runs that finished on this server
    st.caption(f"Expected time on this server: about {S.format_duration(expected, rough=True)}, from the runs of "
               "this kind that finished here." if expected is not None else "No run of this kind has finished on "
               "this server yet, so there is no time estimate: while it runs, each stage shows its progress and, "
               "once measured, its time left.")
if st.button("Run", type="primary", disabled=running or not tasks, key="run_go", icon=":material/play_arrow:"):
    try:
        if config is None:
            raise InputError(settings_error)
        meta = {"dataset": data_label, "train": train.name, "test": test.name,
                "model_label": model or DEFAULT_MODEL, "config": config.to_dict(),
                "form": {k: st.session_state[k] for k in FORM if k in st.session_state}}
        with st.spinner("Starting the run…"):
            rid, started = S.launch(token, train, test, config, meta)
        if started is None:
            st.session_state.pop(S.JUST_FINISHED, None)  # what is open now is the reopened run
            st.success(f"This exact run was done before: run {rid} reopened from the cache.")
        else:  # redrawn at once, so that the sidebar follows the run too
            st.session_state["_run_toast"] = (f"Run {rid[:6]} started: its progress is below the Run button and in "
                                              "the sidebar.")
            st.rerun()
    except InputError as err:
        st.error(str(err))


@st.fragment(run_every=1.0)
def progress_panel():
    current = S.job_for(token)
    if current is None or not current.running:
        st.rerun()  # the run ended: redraw the whole page with its outcome
    S.panel(current)
    st.button("Cancel", on_click=current.cancel, key="run_cancel", icon=":material/stop_circle:",
              help="Stops following this run; the run itself stops unless another session follows it.")


if running:
    progress_panel()
elif job is not None:
    if job.status == "done":
        # Only while the run just finished is the one open: not after another run was opened or reopened.
        if st.session_state.get(S.JUST_FINISHED) == job.rid == S.current_run_id():
            st.success(f"Run {S.run_label(store.meta(job.rid))} finished in {S.format_duration(S.elapsed(job))}: "
                       "see Overview, Neuron explorer, Layers.")
        else:
            st.session_state.pop(S.JUST_FINISHED, None)
    elif job.status == "failed":
        st.error(f"The run failed: {job.error}")
    elif job.status == "cancelled":
        st.warning("The run was cancelled; nothing was saved.")

# ---- earlier runs -------------------------------------------------------------------------------------------
st.subheader("Earlier runs in this session")
with st.expander("Open a run folder written by the command line"):
    st.caption("`python -m lca run --out DIR` writes a folder this app can open: give its path on the server.")
    f1, f2 = st.columns([3, 1])
    folder = f1.text_input("Run folder", key="run_folder", placeholder="e.g. run1 or /home/me/runs/ewt-xpos",
                           label_visibility="collapsed")
    if f2.button("Open folder", key="run_folder_open", icon=":material/drive_folder_upload:", disabled=not folder.strip()):
        try:
            imported = import_run(store, folder.strip())
        except InputError as err:
            st.error(str(err))
        else:
            store.claim(token, imported)
            S.open_run(imported)
            st.rerun()
metas = store.list(token)
if not metas:
    st.caption("None yet. Runs are stored on disk and listed only in the session (browser tab URL) that ran them.")
else:
    def when(m: dict) -> str:  # runs saved before the start was kept: the time they were saved
        return dt.datetime.fromtimestamp(m.get("started") or m.get("created", 0)).strftime("%Y-%m-%d %H:%M")

    table = pd.DataFrame([{
        "run": m["run_id"], "started": when(m),
        "took": S.format_duration(m["created"] - m["started"]) if m.get("started") and m.get("created") else "",
        "task": m.get("task"), "model": m.get("model_label", m.get("model")), "data": m.get("dataset"),
        "train words": m.get("n_train_words"), "test words": m.get("n_test_words"),
        "oracle acc. %": round(100 * m.get("oracle_accuracy", 0), 2),
        "minimal set %": round(100 * (m.get("minimal_fraction") or 0), 1)} for m in metas])
    st.dataframe(table, hide_index=True, width="stretch")
    ids = [m["run_id"] for m in metas]
    current = S.current_run_id()
    # The box always shows the open run (opened here, from the sidebar or by a finished run); picking opens.
    st.session_state["run_pick"] = current if current in ids else None
    st.selectbox("Run to open", ids, key="run_pick", format_func=lambda r: S.run_label(store.meta(r)),
                 placeholder="Pick a run to open", on_change=lambda: S.open_run(st.session_state["run_pick"])
                 if st.session_state.get("run_pick") else None)
    if current:
        st.caption(f"Current run: **{S.run_label(store.meta(current))}**")
        e1, e2 = st.columns(2)
        with e1:
            S.result_json_button(current)
        with e2:
            S.csv_button(table, "lca-runs", "Download this list (CSV)")
