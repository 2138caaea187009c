"""Layers and properties: where the salient neurons sit and how they spread over tags."""
import numpy as np
import pandas as pd
import streamlit as st

import app_state as S
from lca import viz
from lca.neurons import flat_to_layer_unit

S.intro("Layers and properties",
        "Where the minimal set of salient neurons sits in the network, layer by layer (Section 5.1, Figure 6), "
        "and how many neurons each tag needs: a few for a localized property, many for a distributed one "
        "(Section 5.2, Figure 7). The tag × layer map and the overlap between tags show which layers and "
        "neurons the properties share.")

rid, result = S.require_run()
per_tag = {t: list(v) for t, v in result.per_tag.items()}
N = result.minimal["n_neurons"]

st.subheader("Neurons per layer in the minimal set (Fig. 6)")
where = ("the block whose MLP they belong to (MLP neurons; blocks numbered from 0)" if result.site == "mlp"
         else "the layer they come from (layer 0 is the embedding layer)")
st.markdown(f"The {N:,} neurons of the minimal subset, counted by {where}. Lexical tasks tend to draw on lower "
            "layers, syntactic ones on higher layers.")
site = "mlp " if result.site == "mlp" else ""
labels = [f"{h}{site}{i}" for h in (("head ", "dep ") if result.pair else ("",)) for i in range(result.n_layers)]
hist = pd.DataFrame({"layer": labels, "neurons": list(result.layer_histogram)})
left, right = st.columns([3, 1])
with left:
    S.chart(viz.layer_bars(result.layer_histogram, result.n_layers, result.pair), f"lca-{rid}-layers", key="layers")
with right:
    st.dataframe(hist, hide_index=True, width="stretch")
    S.csv_button(hist, f"lca-{rid}-layers", key="layers")

st.subheader("Neurons per tag (Fig. 7)")
st.markdown("Salient neurons assigned to each tag, most first. Tags with few neurons are localized; tags with many "
            "are distributed. A neuron can serve several tags.")
counts = pd.DataFrame(sorted(([t, len(v)] for t, v in per_tag.items()), key=lambda r: (-r[1], r[0])),
                      columns=["tag", "neurons"])
S.chart(viz.tag_counts(per_tag), f"lca-{rid}-tags", key="tags")
S.csv_button(counts, f"lca-{rid}-tags", key="tags")

st.subheader("Tag × layer")
st.markdown("How each tag's salient neurons spread over the layers.")
S.chart(viz.tag_layer_heatmap(per_tag, result.layer_size, result.n_layers, result.pair), f"lca-{rid}-tag-layer",
        key="tag_layer")
rows = []
for tag, neurons in per_tag.items():
    half, layer, _ = flat_to_layer_unit(np.asarray(neurons, dtype=np.int64), result.layer_size, result.n_layers)
    rows.append({"tag": tag, **dict(zip(labels, np.bincount(half * result.n_layers + layer,
                                                                minlength=len(labels)).tolist()))})
S.csv_button(pd.DataFrame(rows), f"lca-{rid}-tag-layer", key="tag_layer")

st.subheader("Overlap of salient neurons between tags")
st.markdown("Colour: Jaccard index of two tags' neuron sets (shared ÷ either); hover for the number shared. "
            "Related tags (e.g. NN and NNS) tend to share neurons.")
S.chart(viz.tag_overlap(per_tag), f"lca-{rid}-overlap", key="overlap")
tags = list(per_tag)
overlap = pd.DataFrame([[len(set(per_tag[a]) & set(per_tag[b])) for b in tags] for a in tags], index=tags, columns=tags)
S.csv_button(overlap.reset_index(names="tag"), f"lca-{rid}-overlap", key="overlap")

st.subheader("Neurons of one tag")
tag = st.selectbox("Tag", sorted(per_tag, key=lambda t: (-len(per_tag[t]), t)), key="ly_tag")
rank = {n: i + 1 for i, n in enumerate(result.ranking)}
neurons = pd.DataFrame([{"neuron": S.neuron_name(result, n), "rank": rank.get(n),
                         "weight": round(float(result.weights[n, list(result.tags).index(tag)]), 4)
                         if result.weights is not None else None} for n in per_tag[tag]])
st.dataframe(neurons, hide_index=True, width="stretch", height=260)
S.csv_button(neurons, f"lca-{rid}-tag-{tag}", key="ly_tag_csv")
st.caption("Open one in the Neuron explorer by typing it there (layer:unit).")
