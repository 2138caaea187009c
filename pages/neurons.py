"""Single neurons: each neuron × tag's own evidence, neuron search, the neuron map and the probe against single neurons."""
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

import lca_app as S
from lca._validation import InputError
from lca.report import explore, neuron_probe, neuron_search, neuron_viz
from lca.report.neuron_stats import METHOD
from lca_app.cached import neuron_stats, neuron_word_search

S.intro("Single neurons",
        "How well each neuron *alone* separates each tag from the other words, and how sure that is: the paper "
        "argues with single neurons (Figures 3–5: a superlative neuron, a month neuron) but ranks them through a "
        "probe. Search neurons by tag, word, pattern or a typed word; see every neuron on one map; and see where "
        "the probe's ranking and the neurons' own evidence disagree.")

rid, result = S.require_run()
try:
    with st.spinner("Computing every neuron × tag's statistics (once per run, then kept with the run)…"):
        stats, meta = neuron_stats(rid)
    acts = S.test_activations(rid)
    corpus = S.load_test_corpus(rid)
    word_tags = S.test_word_tags(rid)
except (InputError, OSError, ValueError) as err:
    st.error(f"The single-neuron statistics of run {rid} are not available: {err}")
    st.stop()

EXPLORER = "pages/explorer.py"
name = neuron_search.labeller(result)
words = [w for sentence in corpus.sentences for w in sentence]
tags = list(stats.tags)
F, T = stats.auroc.shape
C = acts.shape[1]
state = st.session_state


def explorer_params(flat: int) -> dict:
    """The explorer's address for one neuron (pages/explorer.py reads s, run and neuron)."""
    return {"s": S.session_token(), "run": rid, "neuron": name(flat)}


def open_clicked(event) -> None:
    """Open the clicked point's neuron (its flat id is customdata[0]) in the explorer."""
    points = ((event or {}).get("selection") or {}).get("points") or []
    custom = points[0].get("customdata") if points else None
    flat = custom[0] if isinstance(custom, (list, tuple)) and custom else custom
    if isinstance(flat, (int, float)):
        st.switch_page(EXPLORER, query_params=explorer_params(int(flat)))


def frame(rows: list[dict]) -> pd.DataFrame:
    records = []
    for r in rows:
        record = {"z": round(r["z"], 1)} if "z" in r else {}
        records.append({**record, "neuron": r["label"], "LCA rank": r["lca_rank"], "tag": r["tag"],
                        "AUROC": round(r["auroc"], 3), "95 % CI": f"{r['auroc_ci'][0]:.3f}–{r['auroc_ci'][1]:.3f}",
                        "fires": "more" if r["sign"] > 0 else "less", "d": round(r["smd"], 2),
                        "d 95 % CI": f"{r['smd_ci'][0]:+.2f}…{r['smd_ci'][1]:+.2f}", "MI bits": round(r["mi"], 4),
                        "q (BH)": neuron_search.p_text(r["log10_q"]), "significant": r["significant"],
                        "control AUROC": round(r["control_auroc"], 3), "selectivity": round(r["selectivity"], 3)})
    links = [f"explorer?{urlencode(explorer_params(r['neuron']))}" for r in rows]
    return pd.DataFrame(records).dropna(axis=1, how="all").assign(open=links)  # a pattern has no control task


def table(rows: list[dict], key: str, height: int = 300) -> None:
    """The rows, each opening its neuron in the explorer when clicked."""
    if not rows:
        st.info("No neuron to list.")
        return
    picked = st.dataframe(frame(rows), hide_index=True, width="stretch", height=height, key=key, on_select="rerun",
                          selection_mode="single-row",
                          column_config={"open": st.column_config.LinkColumn("open", display_text="open ↗")})
    if picked.selection.rows:
        st.switch_page(EXPLORER, query_params=explorer_params(rows[picked.selection.rows[0]]["neuron"]))


# ---- the summary ---------------------------------------------------------------------------------------------
alpha = st.select_slider("False discovery rate (Benjamini–Hochberg over every neuron × tag pair)",
                         [0.001, 0.01, 0.05, 0.1], value=0.05, key="nr_alpha")
sig = stats.significant(alpha)
best, best_strength = neuron_search.best_tags(stats, alpha)
strongest = np.nanmax(np.where(stats.n_pos > 0, stats.strength, np.nan), axis=0, initial=0.5)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Neurons × tags", f"{F:,} × {T}")
m2.metric("Significant detectors", f"{int(sig.any(axis=1).sum()):,} neurons",
          help="Neurons significant for at least one tag at this false discovery rate.")
m3.metric("Significant pairs", f"{int(sig.sum()):,}", help=f"of {stats.n_tests:,} tested neuron × tag pairs")
m4.metric("Tags with a neuron at AUROC ≥ 0.9", f"{int((strongest >= 0.9).sum())} of {int((stats.n_pos > 0).sum())}")
how = "read back from the run's folder" if meta.get("cached") else f"computed in {meta.get('seconds', 0):.1f} s"
st.caption(f"Over the {stats.n_examples:,} words of the test corpus ({how}). {METHOD.format(bins=stats.bins)}. "
           f"AUROC 0.5 is chance, 1 a perfect detector; a neuron that fires *less* on a tag has AUROC below 0.5, "
           f"and its strength is 1 − AUROC. Control task: {meta.get('control', 'run')} (each word type a random tag); "
           "selectivity is strength on the task minus strength on the control task.")

# ---- search --------------------------------------------------------------------------------------------------
st.subheader("Find neurons")
MODES = {"tag": "A tag", "word": "A word or pattern", "typed": "A typed word"}
mode = st.segmented_control("Search by", list(MODES), format_func=MODES.get, key="nr_mode", default="tag") or "tag"
k = st.slider("Neurons listed", 5, 50, 15, key="nr_k")
rows: list[dict] = []
if mode == "tag":
    c1, c2 = st.columns([2, 3])
    default = tags.index("JJS") if "JJS" in tags else int(np.argmax(np.nan_to_num(strongest)))
    tag = c1.selectbox("Tag", tags, index=default, key="nr_tag",
                       format_func=lambda t: f"{t} ({int(stats.n_pos[tags.index(t)]):,} words)")
    way = c2.radio("Direction", ["either", "fires more on it", "fires less on it"], horizontal=True, key="nr_dir")
    rows = neuron_search.tag_search(stats, tag, result, k, {"either": None, "fires more on it": 1}.get(way, -1), alpha)
    if rows:
        r = rows[0]
        st.markdown(f"The best single neuron for **{S.tag_md(tag)}** is **{r['label']}** (LCA rank {r['lca_rank']}): "
                    f"AUROC {r['auroc']:.3f} (95 % CI {r['auroc_ci'][0]:.3f}–{r['auroc_ci'][1]:.3f}), it fires "
                    f"{'more' if r['sign'] > 0 else 'less'} on the tag, d = {r['smd']:+.2f}, "
                    f"q = {neuron_search.p_text(r['log10_q'])}"
                    + ("" if r["significant"] else f" (**not significant** at {alpha:g})") + ".")
elif mode == "word":
    c1, c2 = st.columns([3, 1])
    pattern = c1.text_input("Word, or a regular expression", key="nr_pattern", placeholder="e.g. biggest, or est$")
    regex = c2.checkbox("Regular expression", key="nr_regex", help="re.search on each word, case as written; "
                        "(?i) for any case. Off: the whole word, any case.")
    if pattern:
        try:
            rows, found = neuron_word_search(rid, pattern, regex, k, alpha)
            st.markdown(f"{found['n_matches']:,} words match ({', '.join(S.literal_md(w) for w in found['types'])}): the "
                        f"neurons that best separate them from the other {len(words) - found['n_matches']:,} words "
                        f"(Benjamini–Hochberg over the {C:,} neurons).")
        except InputError as err:
            st.error(str(err))
    else:
        st.info("Type a word or a pattern.")
else:
    text = st.text_input("Type a sentence", "The biggest companies were considering new offers in May .", key="nr_text")
    typed = explore.tokenize(text)
    if typed:
        word = st.selectbox("Its word", range(len(typed)), format_func=lambda i: f"{i + 1}. {typed[i]}", key="nr_word")
        try:
            cfg = result.run_config
            values = explore.sentence_activations(S.get_model(cfg.model, cfg.device, cfg.revision), typed,
                                                  stats.neurons[:C].tolist(), cfg.aggregation, result.site)
            rows = neuron_search.token_search(values[min(word, len(typed) - 1)], stats, result, k, alpha)
            st.markdown("The neurons this word moves furthest from their usual value (z: standard deviations from "
                        "their mean over the test corpus), each with the tag it detects best.")
        except InputError as err:
            st.error(str(err))
table(rows, "nr_rows")
st.caption("Click a row to open the neuron in the Neuron explorer (or *open ↗* for a new tab). d: standardized mean "
           "difference (tag − rest); q: p adjusted by Benjamini–Hochberg.")

# ---- the neuron map ------------------------------------------------------------------------------------------
st.subheader("The neuron map")
color = st.selectbox("Colour by", [None] + tags, key="nr_map_tag",
                     format_func=lambda t: "each neuron's best tag (its strength)" if t is None else f"AUROC for {t}")
labels = [name(f) for f in stats.neurons]
if color is None:
    values = best_strength
    hover = [f"{labels[f]} · best {tags[best[f]]}: AUROC {stats.auroc[f, best[f]]:.3f} · q "
             f"{neuron_search.p_text(stats.log10_q[f, best[f]])}" for f in range(F)]
else:
    t = tags.index(color)
    values = stats.auroc[:, t]
    hover = [f"{labels[f]} · {color}: AUROC {stats.auroc[f, t]:.3f} · q {neuron_search.p_text(stats.log10_q[f, t])}"
             for f in range(F)]
fig = neuron_viz.neuron_map(stats.neurons, values, hover, result.layer_size, result.n_layers, result.pair, result.site,
                            result.minimal.neurons, diverging=color is not None, colorbar="AUROC" if color else "strength")
open_clicked(st.plotly_chart(fig, width="stretch", key="nr_map", on_select="rerun", selection_mode="points"))
strong = sig[np.arange(F), best] & (best_strength >= neuron_probe.STRONG)
per_layer = np.bincount(stats.neurons[strong] // result.layer_size, minlength=result.n_layers * (2 if result.pair else 1))
reading = (f" Layer {int(np.argmax(per_layer))} holds the most strong detectors ({int(per_layer.max()):,} of "
           f"{int(strong.sum()):,} neurons with a significant best tag at AUROC ≥ {neuron_probe.STRONG:g})."
           if strong.any() else f" No neuron reaches AUROC {neuron_probe.STRONG:g} for a tag significantly.")
st.caption("Every neuron is a cell: each layer's units wrap into rows, layers top to bottom; circles mark the minimal "
           f"subset ({result.minimal.n_neurons:,} neurons). Colour: the strength of each neuron's best tag, or, for a "
           "tag, its AUROC (red: fires more on the tag, blue: less, white: chance). Click a cell to open it in the "
           "explorer." + reading)

# ---- the probe against single neurons ------------------------------------------------------------------------
st.subheader("The probe against single neurons")
summary = neuron_probe.disagreement(stats, result, alpha)
st.markdown(" ".join(neuron_probe.disagreement_lines(summary, lambda t: f"**{S.tag_md(t)}**")))
present = [t for t in tags if stats.n_pos[tags.index(t)]]
pv_tag = st.selectbox("Tag", present, key="nr_pv_tag", index=present.index(tag) if mode == "tag" and tag in present else 0)
view = neuron_probe.probe_vs_single(stats, result, pv_tag, alpha)
by = st.radio("Probe's side", ["rank", "weight"], horizontal=True, key="nr_pv_by",
              format_func={"rank": "LCA rank", "weight": "|probe weight| for the tag"}.get)
left, right = st.columns(2)
with left:
    open_clicked(st.plotly_chart(neuron_viz.probe_scatter(view, by, f"{pv_tag}: probe vs alone"), width="stretch",
                                 key="nr_pv", on_select="rerun", selection_mode="points"))
with right:
    open_clicked(st.plotly_chart(neuron_viz.pareto_figure(view, f"{pv_tag}: Pareto front"),
                                 width="stretch", key="nr_pareto", on_select="rerun", selection_mode="points"))
c = view["counts"]
st.markdown(f"For **{S.tag_md(pv_tag)}** the probe made {view['n_salient']:,} neurons salient; {c['agree']:,} of them are "
            f"also strong alone, {c['distributed']:,} are weak alone (distributed). {view['n_strong']:,} neurons are "
            f"strong detectors alone, {c['redundant']:,} of them outside the tag's salient set (redundant). Spearman ρ "
            f"of the probe's side and strength: {view['rho']:.2f}. The Pareto front holds {len(view['front'])} neurons: "
            "none is both stronger and more selective than they are.")
disagree = [i for i in np.argsort(-view["strength"]) if view["kind"][i] in ("distributed", "redundant")]
if disagree:
    t = tags.index(pv_tag)
    st.markdown("**Where they disagree** (strongest first; click to open):")
    kinds = {int(stats.neurons[i]): view["kind"][i] for i in disagree}
    pv_rows = [dict(r, tag=f"{r['tag']} · {kinds[r['neuron']]}") for r in neuron_search.neuron_rows(
        stats, disagree[:200], t, result, alpha)]
    table(pv_rows, "nr_pv_rows", height=240)

# ---- teaching table ------------------------------------------------------------------------------------------
st.subheader("The best single-neuron detector of each tag")
teach = neuron_search.teaching_table(stats, acts, words, word_tags, result, alpha=alpha)
teach_frame = pd.DataFrame([{
    "tag": r["tag"], "words tagged": r["n_pos"], "best neuron": r["label"], "LCA rank": r["lca_rank"],
    "AUROC": round(max(r["auroc"], 1 - r["auroc"]), 3), "fires": "more" if r["sign"] > 0 else "less",
    "p": neuron_search.p_text(r["log10_p"]), "q (BH)": neuron_search.p_text(r["log10_q"]), "significant": r["significant"],
    "top words": " ".join(r["top_words"]), "top words tagged": f"{100 * r['top_tagged']:.0f} %"} for r in teach])
st.markdown("A table to show a class: for each tag, the one neuron that tells its words apart best, the words that "
            "drive it most at the end that fires for the tag, and how sure we are. AUROC here is the better direction's "
            "(a neuron that fires *less* on the tag counts as a detector too). Significant detectors come first; a tag "
            "with a word or two reaches AUROC 1 by chance, and its q says so.")
st.dataframe(teach_frame, hide_index=True, width="stretch", height=360)
S.csv_button(teach_frame, f"lca-{rid}-best-single-neurons", key="nr_teach")

# ---- export --------------------------------------------------------------------------------------------------
st.subheader("The whole table")
st.markdown(f"Every neuron × tag pair ({F * T:,} rows) with all the figures above, the LCA rank and the probe weight. "
            f"The same as `python -m lca neurons RUN_DIR --export FILE.csv` (or `.json`).")


def whole(fmt: str) -> bytes:
    data = pd.DataFrame(neuron_search.table_columns(stats, result, alpha))
    return (data.to_csv(index=False) if fmt == "csv" else data.to_json(orient="records")).encode()


e1, e2, _ = st.columns([1, 1, 2])
e1.download_button("Download CSV", data=lambda: whole("csv"), file_name=f"lca-{rid}-neuron-stats.csv", mime="text/csv",
                   key="nr_csv", on_click="ignore", icon=":material/download:")
e2.download_button("Download JSON", data=lambda: whole("json"), file_name=f"lca-{rid}-neuron-stats.json",
                   mime="application/json", key="nr_json", on_click="ignore", icon=":material/download:")
