"""Compare page: finished runs side by side, and the models to compare with (fine-tuned, random weights)."""
import json
import time
from pathlib import Path

import pandas as pd
import streamlit as st

import lca_app as S
from lca.report import compare_viz
from lca._validation import InputError
from lca.report.compare import TABLE_COLUMNS, compare_results, sweep_runs, tag_overlap_matrix
from lca.models.extract import DEFAULT_MODEL
from lca.models.finetune import SENTENCE_POLARITY, FinetuneConfig, local_models, models_dir, random_model
from lca.runs.result import load_result

S.intro("Compare runs",
        "Two or more finished runs side by side, as in Section 5 of the paper: architectures (neurons per layer, "
        "Figures 6 and 8; Tables 6 and 7), a model before and after fine-tuning, where the salient neurons move "
        "to lower layers (Section 5.4, Figure 9), and one property in several languages (Section 5.5, Figure 10). "
        "The second tab makes the models to compare with: a fine-tuned copy or a random-weights control.")

token = S.session_token()
tab_compare, tab_models = st.tabs(["Compare runs", "Fine-tuned and random models"])


# ---- comparison ------------------------------------------------------------------------------------------
def render_comparison(rids: list[str], labels: dict) -> None:
    try:
        results = [S.load_run(r) for r in rids]
    except (InputError, OSError, ValueError) as err:
        st.error(f"These runs cannot be compared: {err}")
        return
    render_results(results, [labels[r] for r in rids], [S.store().meta(r) for r in rids])


def render_results(results: list, names: list[str], metas: list[dict]) -> None:
    try:
        c = compare_results(results, names)
    except (InputError, OSError, ValueError) as err:
        st.error(f"These runs cannot be compared: {err}")
        return

    st.subheader("Accuracies (Tables 6 and 7)")
    st.markdown("Test accuracy (%) of the probe on all neurons (oracle), of the minimal neuron set (N neurons, "
                "% of all), selectivity (accuracy minus that of a control task), zero-out ablation keeping the top, "
                "random or bottom 20 %, and retraining on the top, random or bottom N neurons.")
    table = pd.DataFrame([{"run": row["label"], **{h: row[k] for k, h in TABLE_COLUMNS}} for row in c.rows])
    st.dataframe(table, hide_index=True, width="stretch")
    S.csv_button(table, "lca-compare-accuracies", key="cmp_acc")
    S.chart(compare_viz.accuracy_bars(c), "lca-compare-accuracies", key="cmp_acc")

    st.subheader("Neurons per layer (Figures 6, 8 and 10)")
    st.markdown("Each run's minimal set, as a share of the set per layer (layer 0 is the embedding layer). When the "
                "models have different depths, the layers are placed at their relative depth (0 = embeddings, "
                "1 = last layer) so that they line up.")
    S.chart(compare_viz.layer_distribution(c), "lca-compare-layers", key="cmp_layers")
    with st.expander("One panel per run (neuron counts)"):
        S.chart(compare_viz.layer_small_multiples(c), "lca-compare-layer-panels", key="cmp_panels")

    st.subheader("Shift of the minimal set (Section 5.4, Figure 9)")
    st.markdown(f"Mean layer of each minimal set against the first run, **{c.labels[0]}** (put the base model first "
                "and its fine-tuned version second). A negative change means the salient neurons moved to lower layers.")
    cols = st.columns(min(len(c.labels), 4))
    for i, label in enumerate(c.labels[:4]):
        delta = None if i == 0 else f"{c.shifts[i - 1]['delta_layer']:+.2f} layers"
        cols[i].metric(label, f"{c.mean_layer[i]:.2f}", delta, delta_color="off",
                       help=f"mean layer of the {c.rows[i]['minimal_n']} neurons of the minimal set; "
                            f"relative depth {c.mean_depth[i]:.3f}")
    same = [i for i in range(1, len(c.labels)) if len(c.layers[i]["counts"]) == len(c.layers[0]["counts"])]
    if same:
        after = same[0] if len(same) == 1 else st.selectbox("Compare the first run with", same, key="cmp_after",
                                                            format_func=lambda i: c.labels[i])
        S.chart(compare_viz.layer_shift(c, after), "lca-compare-shift", key="cmp_shift")
    else:
        st.caption("The models have different depths: compare the relative mean depths above.")

    st.subheader("Neurons per tag, for the tags every run has")
    if c.shared_tags:
        datasets = {str(m.get("dataset", "")) for m in metas}
        if len(datasets) > 1 and all(d.startswith("ud-pud-") for d in datasets):
            st.caption("These runs are on the sentence-parallel PUD treebanks: the Run page splits each the same way "
                       "(80/20 by sentence, same seed), so the test sentences are translations of each other, and "
                       "UPOS tags are shared across the languages.")
        S.chart(compare_viz.shared_tag_counts(c), "lca-compare-tags", key="cmp_tags")
        tags = pd.DataFrame([{"tag": t, **dict(zip(c.labels, c.tag_counts[t]))} for t in c.shared_tags])
        S.csv_button(tags, "lca-compare-tags", key="cmp_tags")
    else:
        st.info("No tag is shared by every run (e.g. POS against SEM): see the tag × tag overlap below.")

    st.subheader("Overlap of salient neurons")
    if not c.overlaps:
        st.caption("Overlap needs two runs on the same model (a neuron id means the same neuron only there).")
        return
    st.markdown("Jaccard index (shared ÷ either) of the minimal sets, and of each shared tag's neurons, for runs on "
                "the same model.")
    S.chart(compare_viz.overlap_heatmap(c), "lca-compare-overlap", key="cmp_overlap")
    rows = [{"run A": o["a"], "run B": o["b"], "Jaccard": o["jaccard"], "shared": o["shared"], **o["per_tag"]}
            for o in c.overlaps]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    pairs = [(i, j) for i in range(len(results)) for j in range(len(results)) if i < j
             and results[i].model == results[j].model and results[i].task != results[j].task]
    if pairs:
        i, j = st.selectbox("Tag × tag overlap of two tasks", pairs, key="cmp_tagpair",
                            format_func=lambda p: f"{c.labels[p[0]]} × {c.labels[p[1]]}")
        tags_a, tags_b, m = tag_overlap_matrix(results[i], results[j])
        S.chart(compare_viz.tag_overlap_heatmap(tags_a, tags_b, m, c.labels[i], c.labels[j]), "lca-compare-tag-overlap",
                key="cmp_tag_overlap")


def render_sweep(folder: str) -> None:
    """A sweep folder (``python -m lca sweep --out``): its table, then any of its finished runs compared."""
    try:
        dirs, names = sweep_runs(folder)
        rows = json.loads((Path(folder) / "sweep.json").read_text(encoding="utf-8"))["runs"]
    except (InputError, OSError, ValueError, KeyError) as err:
        st.error(f"Cannot open that sweep: {err}")
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    failed = [r for r in rows if r.get("status") == "failed"]
    if failed:
        st.warning(f"{len(failed)} of {len(rows)} runs failed; their errors are in the table.")
    chosen = st.multiselect("Runs of the sweep to compare (the first is the reference)", names, default=names[:2],
                            key="cmp_sweep_runs")
    if len(chosen) < 2:
        st.info("Pick two or more finished runs of the sweep.")
        return
    by_name, data = dict(zip(names, dirs)), {r["label"]: r.get("data", "") for r in rows}
    try:
        results = [load_result(by_name[n]) for n in chosen]
    except (InputError, OSError, ValueError) as err:
        st.error(f"These runs cannot be compared: {err}")
        return
    render_results(results, chosen, [{"dataset": data.get(n, "")} for n in chosen])


with tab_compare:
    folder = st.text_input("Open a sweep folder instead (the --out of `python -m lca sweep`)", key="cmp_sweep").strip()
    metas = S.store().list(token)
    if folder:
        render_sweep(folder)
    elif len(metas) < 2:
        st.info("Comparing needs two finished runs: make them on the **Run** page (e.g. the bundled model and a "
                "fine-tuned copy from the next tab, on the same task).")
    else:
        full = {m["run_id"]: S.run_label(m) for m in metas}
        picked = st.multiselect("Runs to compare (the first is the reference)", list(full),
                                default=list(full)[:2][::-1], format_func=full.get, key="cmp_runs")
        if len(picked) < 2:
            st.info("Pick two or more runs.")
        else:
            render_comparison(picked, {m["run_id"]: S.run_label(m, "data") for m in metas})


# ---- fine-tuned and random models ------------------------------------------------------------------------
def _model_choice(key: str) -> str | None:
    models = local_models()
    options = [DEFAULT_MODEL] + [m["path"] for m in models] + ["other"]
    names = {m["path"]: f"{Path(m['path']).name} ({m['kind']})" for m in models}
    pick = st.selectbox("Base model", options, key=key, format_func=lambda o: names.get(
        o, f"Bundled ({DEFAULT_MODEL})" if o == DEFAULT_MODEL else "Hugging Face id or local folder…"))
    if pick == "other":
        return st.text_input("Model id or folder", key=f"{key}_id").strip() or None
    return pick


def analyse(path: str) -> None:
    """Open the Run page with ``path`` as its model (the Run page fills in its model widgets from this key)."""
    st.session_state["run_handoff_model"] = str(path)
    st.switch_page("pages/run.py")


with tab_models:
    st.markdown("A model fine-tuned for sentence classification, or the same architecture with random weights, is "
                f"saved under `{models_dir()}`. **Analyse this model** opens the Run page with it as the model: run "
                "the same task as for the base model there, then compare the two runs in the first tab.")
    models = local_models()
    if models:
        st.dataframe(pd.DataFrame([{"model": Path(m["path"]).name, "kind": m.get("kind"), "base": Path(
            str(m.get("base_model", ""))).name, "data": m.get("data"), "steps": (m.get("config") or {}).get("steps"),
            "dev acc. %": round(100 * m["dev_accuracy"], 1) if "dev_accuracy" in m else None, "folder": m["path"]}
            for m in models]), hide_index=True, width="stretch")
        a1, a2 = st.columns([3, 1])
        kinds = {m["path"]: f"{Path(m['path']).name} ({m.get('kind')})" for m in models}
        chosen = a1.selectbox("Local model", list(kinds), key="cmp_an_model", format_func=kinds.get)
        a2.write("")
        if a2.button("Analyse this model", key="cmp_an_go", icon=":material/play_circle:"):
            analyse(chosen)
    else:
        st.caption("No local model yet.")

    st.subheader("Fine-tune for sentence classification")
    token = S.session_token()
    job = S.job_for(token, "finetune")
    running = job is not None and job.running
    base = _model_choice("cmp_ft_model")
    source = st.radio("Sentences", ["Sentence polarity (movie reviews)", "Upload label<TAB>sentence file"],
                      horizontal=True, key="cmp_ft_src")
    upload = None
    if source.startswith("Upload"):
        upload = st.file_uploader("File of label<TAB>sentence lines (e.g. 'positive<TAB>a fine film')", key="cmp_ft_file")
    else:
        st.caption("Pang & Lee's 5,331 positive and 5,331 negative movie-review sentences, read in place from "
                   "$LCA_DATA_DIR or ../shared/data; 10 % (at most 500) are held out to measure accuracy.")
    c1, c2, c3, c4, c5 = st.columns(5)
    steps = c1.number_input("Steps", 1, 100_000, 150, key="cmp_ft_steps")
    batch = c2.number_input("Batch size", 1, 1024, 16, key="cmp_ft_batch")
    lr = c3.number_input("Learning rate", 1e-7, 1e-2, 5e-5, format="%.1e", key="cmp_ft_lr")
    max_len = c4.number_input("Max. length (subwords)", 8, 512, 64, key="cmp_ft_len")
    seed = c5.number_input("Seed", 0, 2**31 - 1, 0, key="cmp_ft_seed")
    name = st.text_input("Name of the new model (empty: made from the settings)", key="cmp_ft_name")
    go = st.button("Fine-tune", type="primary", disabled=running, key="cmp_ft_go", icon=":material/model_training:")
    if go:
        try:
            data = SENTENCE_POLARITY
            if upload is not None or source.startswith("Upload"):
                if upload is None:
                    raise InputError("upload a file of label<TAB>sentence lines, or choose sentence polarity")
                data_dir = models_dir() / ".uploads"
                data_dir.mkdir(parents=True, exist_ok=True)
                path = data_dir / f"{S.file_digest(upload.getvalue())}-{S.safe_name(upload.name)}"
                path.write_bytes(upload.getvalue())
                data = str(path)
            config = FinetuneConfig(model=base or DEFAULT_MODEL, data=data, steps=int(steps), batch_size=int(batch),
                                    lr=float(lr), max_length=int(max_len), seed=int(seed))
            folder = S.safe_name(name.strip() or f"{Path(config.model).name}-ft-{Path(data).stem}-{steps}s-seed{seed}")
            out = models_dir() / folder
            if out.exists():
                raise InputError(f"a model named {folder!r} already exists in {models_dir()}: choose another name")
            job, running = S.start_finetune(token, config, out), True
        except InputError as err:
            st.error(str(err))

    @st.fragment(run_every=1.0)
    def finetune_progress():
        current = S.job_for(token, "finetune")
        if current is None or not current.running:
            st.rerun()
        total = current.config.steps
        if current.status == "queued":
            st.markdown(f"**Queued**: number {current.position} in the server's queue (analyses and fine-tunes share it).")
        done = current.stages.get("finetune", 0.0)
        st.progress(done, text=f"Fine-tuning: step {round(done * total)} of {total} · "
                               f"{time.time() - current.started:.0f} s")
        st.button("Cancel", on_click=current.cancel, key="cmp_ft_cancel", icon=":material/stop_circle:")

    if running:
        finetune_progress()
    elif job is not None:
        if job.status == "done":
            r = job.value
            st.success(f"Saved {r['path']}: dev accuracy {100 * r['dev_accuracy']:.1f} % on {r['n_dev']} held-out "
                       f"sentences (majority {100 * r['dev_majority']:.1f} %), {len(r['losses'])} steps in "
                       f"{r['seconds']:.0f} s.")
            if st.button("Analyse this model", key="cmp_ft_analyse", type="primary", icon=":material/play_circle:",
                         help="Opens the Run page with this model as its model."):
                analyse(r["path"])
        elif job.status == "failed":
            st.error(f"Fine-tuning failed: {job.error}")
        else:
            st.warning("Fine-tuning was cancelled; nothing was saved.")

    st.subheader("Random-weights control")
    st.markdown("The same architecture and tokenizer with fresh random weights (seeded): a run on it shows how much "
                "of a finding the pre-training explains.")
    rbase = _model_choice("cmp_rand_model")
    rseed = st.number_input("Seed", 0, 2**31 - 1, 0, key="cmp_rand_seed")
    make = st.button("Make random model", key="cmp_rand_go", icon=":material/shuffle:")
    if make:
        try:
            folder = models_dir() / S.safe_name(f"{Path(rbase or DEFAULT_MODEL).name}-random-seed{rseed}")
            made = (folder / "config.json").is_file()  # seeded: the same folder again would be identical
            path = folder if made else random_model(rbase or DEFAULT_MODEL, folder, int(rseed))
            st.success(f"{'Already made' if made else 'Saved'}: {path}")
            st.code(str(path), language=None)
        except InputError as err:
            st.error(str(err))
