"""Neuron explorer: one neuron's activations over sentences, its top words, tags and probe weights."""
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

import app_state as S
from lca import explore, viz
from lca._validation import InputError
from lca.neurons import parse_neuron

S.intro("Neuron explorer",
        "Pick one neuron and see where it fires: every word coloured by its activation (red positive, blue "
        "negative, white zero, scaled by the neuron's largest value over the test corpus), the words that "
        "activate it most with their tags, and its weight for each tag in the probe. This is the qualitative "
        "evaluation of Section 4.4 (Figures 3–5 and Table 4).")

rid, result = S.require_run()
try:
    acts = S.test_activations(rid)
    corpus = S.load_test_corpus(rid)
    tags = S.test_word_tags(rid)
except (InputError, OSError, ValueError) as err:
    st.error(f"The test activations of run {rid} are not available: {err}")
    st.stop()

ranking = list(result.ranking)
rank_of = {n: i for i, n in enumerate(ranking)}
D = result.n_neurons
name = lambda n: S.neuron_name(result, n)  # noqa: E731
state = st.session_state


def select(flat: int) -> None:
    """Make ``flat`` the current neuron and move every picker to it (runs in callbacks, before widgets)."""
    flat = int(flat) % D
    state["nx_neuron"], state["nx_rank"], state["nx_typed"] = flat, rank_of[flat] + 1, name(flat)
    state["nx_error"] = None


# ---- which neuron: the URL (permalink) wins when it changed outside this session ---------------------------
url_neuron = st.query_params.get("neuron")
if state.get("nx_run") != rid:
    state["nx_run"], state["nx_written"] = rid, None
    select(ranking[0])
if url_neuron and url_neuron != state.get("nx_written"):
    try:
        select(parse_neuron(url_neuron, result.layer_size, result.n_layers, result.site))
    except ValueError as err:
        st.warning(f"The neuron in the address is not valid for this run: {err}")
    if st.query_params.get("view") in ("top", "random", "text"):
        state["nx_view"] = st.query_params["view"]


def on_rank():
    select(ranking[int(state["nx_rank"]) - 1])


def on_tag_neuron():
    if state.get("nx_tag_neuron") is not None:
        select(state["nx_tag_neuron"])


def on_typed():
    try:
        select(parse_neuron(state["nx_typed"], result.layer_size, result.n_layers, result.site))
    except ValueError as err:
        state["nx_error"] = str(err)


def step(delta: int):
    select(ranking[(rank_of[state["nx_neuron"]] + delta) % D])


def random_neuron():
    state["nx_seed"] = state.get("nx_seed", 0) + 1
    select(int(np.random.default_rng(state["nx_seed"]).integers(D)))


st.subheader("Pick a neuron")
c1, c2, c3 = st.columns([1, 1, 1])
c1.number_input(f"By rank (1 = most salient of {D:,})", 1, D, key="nx_rank", on_change=on_rank)
with c2:
    tag_options = sorted(result.per_tag, key=lambda t: (-len(result.per_tag[t]), t))
    tag = st.selectbox("By tag", tag_options, key="nx_tag", format_func=lambda t: f"{t} ({len(result.per_tag[t])} neurons)")
    tag_neurons = list(result.per_tag.get(tag, []))
    st.selectbox("Neurons of this tag", tag_neurons, index=None, key="nx_tag_neuron", on_change=on_tag_neuron,
                 format_func=lambda n: f"{name(n)} (rank {rank_of[n] + 1})", placeholder="choose one")
c3.text_input("Typed as layer:unit" + (" (head/dep prefix)" if result.pair else ""), key="nx_typed", on_change=on_typed,
              help="Layer 0 is the embeddings, e.g. 3:120" + (", or dep 3:120" if result.pair else ""))
if state.get("nx_error"):
    st.error(state["nx_error"])
b1, b2, b3, _ = st.columns([1, 1, 1, 3])
b1.button("Previous", on_click=step, args=(-1,), key="nx_prev", icon=":material/arrow_back:", width="stretch")
b2.button("Next", on_click=step, args=(1,), key="nx_next", icon=":material/arrow_forward:", width="stretch")
b3.button("Random", on_click=random_neuron, key="nx_random", icon=":material/shuffle:", width="stretch")

neuron = state["nx_neuron"]
try:
    column = S.neuron_column(result, neuron, acts.shape[1])
except InputError as err:
    st.info(str(err))
    st.stop()
scale = explore.neuron_scale(acts, column)
weights_row = result.weights[neuron] if result.weights is not None else None
best_tag = result.tags[int(np.argmax(np.abs(weights_row)))] if weights_row is not None else None
in_minimal = neuron in set(result.minimal.get("neurons", []))
st.markdown(f"### Neuron {name(neuron)} · rank {rank_of[neuron] + 1:,} of {D:,}"
            + (" · in the minimal set" if in_minimal else "")
            + (f" · strongest probe weight for **{best_tag}**" if best_tag else ""))
if result.pair:
    st.caption("Pair task: the probe sees head and dependent words side by side; over running text the neuron is "
               "shown on every word, and a word's tag is the relation to its head.")

# ---- heatmaps -----------------------------------------------------------------------------------------------
# auto: the end whose activations argue for the tag in view (the chosen tag if the neuron is one
# of its, else the tag of the neuron's strongest weight); the larger extreme without weights.
tag_in_view = tag if neuron in tag_neurons else best_tag
sign_choice = st.radio("Direction", ["auto", "positive", "negative"], horizontal=True, key="nx_sign",
                       help="Which end of the neuron to look at; auto follows the sign of the probe's weight for "
                            + (f"**{tag_in_view}**" if tag_in_view else "the tag") + ".")
sign = {"positive": 1, "negative": -1}.get(sign_choice) or (
    explore.weight_sign(result.weights, neuron, list(result.tags).index(tag_in_view)) if tag_in_view
    else explore.preferred_sign(acts, column))
offsets = corpus.sentence_offsets()
views = {"top": "Where it fires most", "random": "Random sentences", "text": "Your text"}
state.setdefault("nx_view", "top")
view = st.segmented_control("Sentences", list(views), format_func=views.get, key="nx_view") or "top"
k = st.slider("Sentences shown", 3, 15, 6, key="nx_k") if view != "text" else 0
if view == "top":
    picked = explore.top_sentences(acts, column, offsets, k=k, sign=sign)
elif view == "random":
    picked = explore.random_sentences(len(corpus.sentences), k=k, seed=int(state.get("nx_seed", 0)))
if view in ("top", "random"):
    sents = [corpus.sentences[i] for i in picked]
    values = explore.sentence_values(acts, column, offsets, picked)
    fig = viz.token_heatmap(sents, values, scale, title=f"Neuron {name(neuron)}: {views[view].lower()}",
                            row_labels=[f"s{i + 1}" for i in picked])
    S.chart(fig, f"lca-{rid}-neuron-{name(neuron).replace(':', '_').replace(' ', '_')}-{view}", key="nx_heat")
else:
    text = st.text_area("Type text (a sentence or two)", "The biggest companies were considering new offers in Paris .",
                        key="nx_text")
    words = explore.tokenize(text)
    if words:
        try:
            cfg = result.config
            loaded = S.get_model(cfg.get("model"), cfg.get("device", "auto"), cfg.get("revision"))
            values = explore.sentence_activations(loaded, words, [neuron], cfg.get("aggregation", "last"),
                                                  result.site)[:, 0]
            fig = viz.token_heatmap([words], [values], scale, title=f"Neuron {name(neuron)} over your text",
                                    row_labels=["text"])
            S.chart(fig, f"lca-{rid}-neuron-typed", key="nx_typed_heat")
        except InputError as err:
            st.error(str(err))
    else:
        st.info("Type some words above.")
st.caption(f"Colour = activation ÷ {scale:.4g} (the neuron's largest absolute activation over the "
           f"{corpus.n_words:,}-word test corpus), clipped to [-1, 1]; hover a word for the exact value.")

# ---- top words, distribution, weights -----------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.subheader("Top activating words")
    n_top = st.slider("How many", 5, 50, 10, key="nx_topk")
    words_flat = [w for sentence in corpus.sentences for w in sentence]
    top = explore.top_words(acts, column, words_flat, tags, k=n_top, sign=sign)
    dom, share = explore.dominant_tag([t["tag"] for t in top])
    st.metric("Dominant tag among them", f"{100 * share:.0f} % {dom}")
    frame = pd.DataFrame([{"word": t["word"], "tag": t["tag"], "activation": round(t["activation"], 4)} for t in top])
    st.dataframe(frame, hide_index=True, width="stretch")
    S.csv_button(frame, f"lca-{rid}-neuron-{name(neuron).replace(':', '_').replace(' ', '_')}-top-words", key="nx_top")
with right:
    st.subheader("Probe weight per tag")
    if weights_row is not None:
        S.chart(viz.tag_weight_bars(weights_row, list(result.tags), title=f"Neuron {name(neuron)}: oracle probe weights"),
                f"lca-{rid}-neuron-weights", key="nx_weights")
    else:
        st.caption("This run has no saved probe weights.")
st.subheader("Activation distribution per tag")
dist = explore.tag_distribution(acts, column, tags, order=list(result.tags))
S.chart(viz.tag_distribution_box(dist, title=f"Neuron {name(neuron)}: activation per tag (test corpus)"),
        f"lca-{rid}-neuron-distribution", key="nx_dist")

# ---- permalink ----------------------------------------------------------------------------------------------
params = {"s": S.session_token(), "run": rid, "neuron": name(neuron), "view": view}
state["nx_written"] = name(neuron)
for key, value in params.items():
    if st.query_params.get(key) != value:
        st.query_params[key] = value
base = (st.context.url or "").split("?")[0]
st.markdown("**Permalink to this view** (it carries this session's token: whoever opens it sees this session's runs)")
st.code(f"{base}?{urlencode(params)}", language=None)
