"""Layers and properties: where the salient neurons sit and how they spread over tags."""
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

import lca_app as S
from lca.report import explore, layer_tables, viz
from lca._validation import InputError

S.intro("Layers and properties",
        "Where the minimal set of salient neurons sits in the network, layer by layer (Section 5.1, Figure 6), "
        "and how many neurons each tag needs: a few for a localized property, many for a distributed one "
        "(Section 5.2, Figure 7). The tag × layer map and the overlap between tags show which layers and "
        "neurons the properties share.")

rid, result = S.require_run()
per_tag = {t: [int(n) for n in v] for t, v in result.per_tag.items()}
N = result.minimal.n_neurons
L = result.n_layers
name = lambda n: S.neuron_name(result, n)  # noqa: E731
EXPLORER = "pages/explorer.py"


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "0 %"


def explorer_params(flat: int) -> dict:
    """The explorer's address for one neuron: this session, this run, the neuron (pages/explorer.py reads them)."""
    return {"s": S.session_token(), "run": rid, "neuron": name(flat)}


# ---- Fig. 6 -----------------------------------------------------------------------------------------------
st.subheader("Neurons per layer in the minimal set (Fig. 6)")
where = ("the block whose MLP they belong to (MLP neurons; blocks numbered from 0)" if result.site == "mlp"
         else "the layer they come from (layer 0 is the embedding layer)")
labels = layer_tables.layer_labels(L, result.pair, result.site)
histogram = [int(c) for c in result.layer_histogram]
per_layer = np.asarray(histogram[:L]) + (np.asarray(histogram[L:]) if result.pair else 0)  # head + dependent
total = int(per_layer.sum())
reading = ""
if total:
    first, last, held = layer_tables.densest_layers(per_layer)
    width = last - first + 1
    span = f"Layer {first} holds" if width == 1 else f"Layers {first}–{last} hold"
    top, low = int(np.argmax(per_layer)), int(np.argmin(per_layer))
    reading = (f" {span} {100 * held:.0f} % of them ({width} of {L} layers, which would hold {pct(width, L)} if the "
               f"neurons were spread evenly). The most sit in layer {top} ({per_layer[top]:,}), the fewest in layer "
               f"{low} ({per_layer[low]:,}).")
    if result.pair:
        head = sum(histogram[:L])
        reading += f" {pct(head, total)} are head-word features, {pct(total - head, total)} dependent-word features."
st.markdown(f"The {S.count(N, 'neuron')} of the minimal subset, counted by {where}.{reading}")
hist = pd.DataFrame({"layer": labels, "neurons": histogram})
left, right = st.columns([3, 1])
with left:
    S.chart(viz.layer_bars(result.layer_histogram, L, result.pair), f"lca-{rid}-layers", key="layers")
with right:
    st.dataframe(hist, hide_index=True, width="stretch")
    S.csv_button(hist, f"lca-{rid}-layers", key="layers")

# ---- Fig. 7 -----------------------------------------------------------------------------------------------
st.subheader("Neurons per tag (Fig. 7)")
counts = pd.DataFrame(sorted(([t, len(v)] for t, v in per_tag.items()), key=lambda r: (-r[1], r[0])),
                      columns=["tag", "neurons"])
reading = ""
if len(counts):
    most, least = counts.iloc[0], counts.iloc[-1]
    claimed = {n for v in per_tag.values() for n in v}
    reading = (f" Here **{S.tag_md(most['tag'])}** has the most ({most['neurons']:,}) and **{S.tag_md(least['tag'])}** the fewest "
               f"({least['neurons']:,}); half of the {len(counts)} tags have {int(counts['neurons'].median()):,} or "
               f"fewer.")
    if claimed:
        reading += (f" The {S.count(len(claimed), 'neuron')} that some tag picked serve "
                    f"{counts['neurons'].sum() / len(claimed):.1f} tags each on average.")
st.markdown("Salient neurons assigned to each tag, most first. A tag with few neurons is localized, one with many "
            "distributed; a neuron can serve several tags." + reading)
S.chart(viz.tag_counts(per_tag), f"lca-{rid}-tags", key="tags")
S.csv_button(counts, f"lca-{rid}-tags", key="tags")

# ---- tag × layer ------------------------------------------------------------------------------------------
st.subheader("Tag × layer")
table = layer_tables.tag_layer_table(per_tag, result.layer_size, L, result.pair, result.site)
tag_layer = pd.DataFrame(table["counts"], columns=table["layers"])
tag_layer.insert(0, "tag", table["tags"])
reading = ""
sums = None  # (T, L): a tag's neurons per layer, head and dependent halves added
if table["tags"]:
    sums = np.asarray(table["counts"], dtype=float).reshape(len(table["tags"]), -1, L).sum(axis=1)
if sums is not None and sums.sum():
    mean_layer = pd.Series((sums * np.arange(L)).sum(axis=1) / np.maximum(sums.sum(axis=1), 1), index=table["tags"])
    mean_layer = mean_layer[sums.sum(axis=1) > 0].sort_values(kind="stable")
    if len(mean_layer) > 1:
        few = min(3, len(mean_layer) // 2) or 1
        show = lambda s: ", ".join(f"**{S.tag_md(t)}** ({v:.1f})" for t, v in s.items())  # noqa: E731
        overall = float((sums.sum(axis=0) * np.arange(L)).sum() / sums.sum())
        reading = (f" Mean layer of a tag's neurons: lowest {show(mean_layer.head(few))}; highest "
                   f"{show(mean_layer.tail(few).iloc[::-1])}; all tags together {overall:.1f}.")
st.markdown("How each tag's salient neurons spread over the layers." + reading)
S.chart(viz.tag_layer_heatmap(table), f"lca-{rid}-tag-layer", key="tag_layer")
S.csv_button(tag_layer, f"lca-{rid}-tag-layer", key="tag_layer")

# ---- overlap ----------------------------------------------------------------------------------------------
st.subheader("Overlap of salient neurons between tags")
overlap = layer_tables.tag_overlap_table(per_tag)
names = overlap["tags"]
pairs = [(overlap["jaccard"][i][j], overlap["shared"][i][j], names[i], names[j])
         for i in range(len(names)) for j in range(i + 1, len(names))]
reading = ""
if pairs:
    jac, shared, a, b = max(pairs, key=lambda p: (p[0], p[1]))
    none = sum(p[1] == 0 for p in pairs)
    reading = (f" The most overlapping pair: **{S.tag_md(a)}** and **{S.tag_md(b)}**, "
               f"{S.count(shared, 'shared neuron')} (Jaccard {jac:.2f}); "
               f"the median pair's Jaccard is {float(np.median([p[0] for p in pairs])):.2f}, and {none:,} of the "
               f"{len(pairs):,} pairs share no neuron.")
st.markdown("Colour: Jaccard index of two tags' neuron sets (shared ÷ either); hover for the number shared." + reading)
S.chart(viz.tag_overlap(overlap), f"lca-{rid}-overlap", key="overlap")
S.csv_button(pd.DataFrame(overlap["shared"], index=names, columns=names).reset_index(names="tag"),
             f"lca-{rid}-overlap", key="overlap")

# ---- the neurons of one tag, each opening in the explorer -------------------------------------------------
st.subheader("Neurons of one tag")
tag = st.selectbox("Tag", sorted(per_tag, key=lambda t: (-len(per_tag[t]), t)), key="ly_tag")
k = 10
acts = words = word_tags = columns = None
try:
    acts = S.test_activations(rid)
    words = [w for sentence in S.load_test_corpus(rid).sentences for w in sentence]
    word_tags = S.test_word_tags(rid)
    columns = []
    for n in per_tag[tag]:
        try:
            columns.append(S.neuron_column(result, n, acts.shape[1]))
        except InputError:
            columns.append(None)
except (InputError, OSError, ValueError):
    acts = None  # no purity column: the test activations are not available
rows = explore.tag_neuron_rows(tag, per_tag[tag], result.ranking, result.weights, list(result.tags), acts, columns,
                               words, word_tags, k=k)
neurons = pd.DataFrame([{"neuron": name(r["neuron"]), "rank": r["rank"],
                         "weight": None if r["weight"] is None else round(r["weight"], 4),
                         f"purity of top {k} words %": None if r["purity"] is None else round(100 * r["purity"], 1)}
                        for r in rows], columns=["neuron", "rank", "weight", f"purity of top {k} words %"])
if acts is None:
    neurons = neurons.drop(columns=[f"purity of top {k} words %"])
links = neurons.assign(open=[f"explorer?{urlencode(explorer_params(r['neuron']))}" for r in rows])
st.markdown(f"The {S.count(len(rows), 'neuron')} that **{S.tag_md(tag)}** picked, most salient first. Weight: the probe's weight "
            f"for {S.tag_md(tag)}, positive when the neuron's activation is evidence for it, negative when against. "
            + (f"Purity: the share of the neuron's top {k} activating words (at the end that argues for {S.tag_md(tag)}) "
               f"tagged {S.tag_md(tag)}. " if acts is not None else "")
            + "**Click a row to open that neuron in the Neuron explorer** (or *open ↗* for a new tab).")
picked = st.dataframe(links, hide_index=True, width="stretch", height=260, key="ly_neurons", on_select="rerun",
                      selection_mode="single-row",
                      column_config={"weight": st.column_config.NumberColumn("weight", format="%+.4f"),
                                     "open": st.column_config.LinkColumn(
                          "open", display_text="open ↗", help="Opens the neuron in the Neuron explorer in a new tab")})
S.csv_button(neurons, f"lca-{rid}-tag-{tag}", key="ly_tag_csv")
if rows:
    best = rows[0]["neuron"]
    st.page_link(EXPLORER, label=f"Open {S.tag_md(tag)}'s most salient neuron, {name(best)} (rank {rows[0]['rank']}), "
                                 "in the Neuron explorer", icon=":material/neurology:",
                 query_params=explorer_params(best))
if picked.selection.rows:
    st.switch_page(EXPLORER, query_params=explorer_params(rows[picked.selection.rows[0]]["neuron"]))
