"""Neuron explorer: one neuron's activations over sentences, its top words, tags and probe weights."""
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

import lca_app as S
from lca.report import explore, viz
from lca._validation import InputError
from lca.neurons import parse_neuron

S.intro("Neuron explorer",
        "Pick one neuron and see where it fires: every word coloured by its activation (red positive, blue "
        "negative, white zero, scaled by the neuron's largest value over the test corpus), the words that "
        "activate it most with their tags, and its weight for each tag in the probe. This is the qualitative "
        "evaluation of Section 4.4 (Figures 3–5 and Table 4).\n\n"
        "A word's activation is taken at its last subword. In an encoder (BERT) it has seen the whole sentence; in a "
        "decoder (GPT-2, Llama, SmolLM2) only the words before it and itself, so a decoder neuron can only "
        "encode what the left context already shows.")

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
result_tags = list(result.tags)
per_tag = {t: [int(n) for n in v] for t, v in result.per_tag.items()}
words_flat = [w for sentence in corpus.sentences for w in sentence]
name = lambda n: S.neuron_name(result, n)  # noqa: E731
state = st.session_state
VIEWS = {"top": "Where it fires most", "random": "Random sentences", "text": "Your text"}
DEFAULT_TEXT = "The biggest companies were considering new offers in Paris ."


def picked_by(flat: int) -> list[dict]:
    """The tags that picked ``flat`` as salient, with their signed weights, largest |weight| first."""
    return explore.neuron_tags(flat, per_tag, result.weights, result_tags)


def column_of(flat: int) -> int | None:
    try:
        return S.neuron_column(result, flat, acts.shape[1])
    except InputError:  # screened out, or in a layer the run did not analyse
        return None


def select(flat: int) -> None:
    """Make ``flat`` the current neuron and move every picker to it (runs in callbacks, before widgets).

    The tag box follows the neuron: it keeps its tag when that tag picked the neuron, else it shows the
    tag with the neuron's largest weight among those that picked it, or none.
    """
    flat = int(flat) % D
    state["nx_neuron"], state["nx_rank"], state["nx_typed"] = flat, rank_of[flat] + 1, name(flat)
    state["nx_error"] = None
    picked = [r["tag"] for r in picked_by(flat)]
    if state.get("nx_tag") not in picked:
        state["nx_tag"] = picked[0] if picked else None
    state["nx_tag_neuron"] = flat if state["nx_tag"] in picked else None


# ---- which neuron, view and text: the URL (permalink) wins where it changed outside this session -----------
written = state.get("nx_written") or {}
if state.get("nx_run") != rid:  # a run opened: start on the neuron that shows best what the page is for
    state["nx_run"], written = rid, {}
    state["nx_showcase"] = explore.showcase_neuron(ranking, per_tag, result.weights, result_tags, acts, column_of,
                                                   words_flat, tags)
    if state["nx_showcase"]:
        state["nx_tag"] = state["nx_showcase"][1]
    select(state["nx_showcase"][0] if state["nx_showcase"] else ranking[0])
elif "nx_rank" not in state:  # another page was open: Streamlit forgot this page's widgets, set them again
    select(state["nx_neuron"])
query = st.query_params
if query.get("neuron") and query["neuron"] != written.get("neuron"):
    try:
        select(parse_neuron(query["neuron"], result.layer_size, result.n_layers, result.site))
    except ValueError as err:
        st.warning(f"The neuron in the address is not valid for this run: {err}")
if query.get("view") in VIEWS and query["view"] != written.get("view"):
    state["nx_view"] = query["view"]
if "text" in query and query["text"] != written.get("text"):
    state["nx_text"] = state["nx_text_kept"] = query["text"]
state.setdefault("nx_view", "top")
state.setdefault("nx_text", state.get("nx_text_kept", DEFAULT_TEXT))
n_top = int(state.get("nx_topk", 10))


def on_rank():
    select(ranking[int(state["nx_rank"]) - 1])


def on_tag():
    tag = state.get("nx_tag")
    state["nx_tag_neuron"] = state["nx_neuron"] if tag and state["nx_neuron"] in per_tag.get(tag, ()) else None


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


def signed(weight: float) -> str:
    return f"{weight:+.4f}"


def reads_as(weight: float, tag: str) -> str:
    """What the sign of the neuron's weight for ``tag`` means."""
    return f"a high activation is evidence {'for' if weight > 0 else 'against'} {S.tag_md(tag)}"


flags = S.massive_neurons(rid)  # column -> MassiveNeuron: a few words dominate it (decoders' first word)
held = result.activation_keys.columns  # with --layers or --screen the columns hold only those neurons
flat_of = {c: int(c if held is None else held[c]) for c in flags}
if flags:
    with st.expander(f"Massive activations: {len(flags)} neurons fire orders of magnitude above their usual "
                     "value on a few words", icon=":material/bolt:"):
        st.dataframe(pd.DataFrame([{
            "neuron": name(flat_of[m.column]), "rank": rank_of[flat_of[m.column]] + 1, "peak": round(m.peak, 1),
            "× typical": round(m.ratio), "on": f"{m.n_peak_words} words, {100 * m.first_word_share:.0f} % first in "
            f"their sentence" if m.kind == "first word" else ", ".join(m.words)} for m in flags.values()]),
            hide_index=True, width="stretch")
        st.caption("Decoder LLMs put huge values on the first word of every sentence (the 'attention sink') or on "
                   "delimiters: such a neuron tells where a word sits more than what it is. Each one's heatmap is "
                   "coloured by its largest activation elsewhere.")

st.subheader("Pick a neuron")
c1, c2, c3 = st.columns([1, 1, 1])
c1.number_input(f"By rank (1 = most salient of {D:,})", 1, D, key="nx_rank", on_change=on_rank)
with c2:
    tag_options = sorted(per_tag, key=lambda t: (-len(per_tag[t]), t))
    tag = st.selectbox("By tag", tag_options, index=None, key="nx_tag", on_change=on_tag,
                       format_func=lambda t: f"{t} ({len(per_tag[t])} neurons)",
                       placeholder="no tag picked this neuron: choose one",
                       help="Follows the neuron: a tag that picked it as salient. Choose another tag to list its "
                            "neurons below.")
    tag_rows = (explore.tag_neuron_rows(tag, per_tag[tag], ranking, result.weights, result_tags, acts,
                                        [column_of(n) for n in per_tag[tag]], words_flat, tags, k=n_top)
                if tag else [])
    row_of = {r["neuron"]: r for r in tag_rows}

    def tag_neuron_label(n: int) -> str:  # short, purity first: the box is a third of the page wide
        r = row_of[n]
        parts = [name(n)] + ([f"{100 * r['purity']:.0f} % pure"] if r["purity"] is not None else [])
        parts += [f"rank {r['rank']}"] + ([f"w {r['weight']:+.2f}"] if r["weight"] is not None else [])
        return " · ".join(parts)

    st.selectbox("Its neurons, by rank", list(row_of), index=None, key="nx_tag_neuron", on_change=on_tag_neuron,
                 format_func=tag_neuron_label, placeholder="choose one",
                 help=f"Purity: the share of the neuron's top {n_top} activating words (at the end whose activations "
                      "argue for the tag) that carry the tag; w: its probe weight for the tag.")
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
flag = flags.get(column)
scale = flag.rest if flag is not None and flag.rest > 0 else explore.neuron_scale(acts, column)
weights_row = result.weights[neuron] if result.weights is not None else None
picked = picked_by(neuron)
picked.sort(key=lambda r: r["tag"] != tag)  # the tag chosen in the box first, when it picked this neuron
in_minimal = neuron in set(result.minimal.neurons)
st.markdown(f"### Neuron {name(neuron)} · rank {rank_of[neuron] + 1:,} of {D:,}"
            + (" · in the minimal set" if in_minimal else ""))
showcase = state.get("nx_showcase")
if showcase and showcase[0] == neuron:
    st.caption(f"Opened on this neuron because, of the {min(20, D)} most salient neurons, its top 10 words most "
               f"often carry a tag that picked it: {100 * showcase[2]:.0f} % are {S.tag_md(showcase[1])}. The most salient neuron "
               f"is {name(ranking[0])} (rank 1): pick it by rank, or step with Next and Previous.")
if flag is not None:
    where = "the first word of its sentence" if flag.kind == "first word" else ", ".join(f"'{w}'" for w in flag.words)
    st.warning(f"Massive activation: up to {flag.peak:,.0f} ({flag.ratio:,.0f}× its typical value) on "
               f"{flag.n_peak_words} words, mostly {where}.", icon=":material/bolt:")
if result.pair:
    st.caption("Pair task: the probe sees head and dependent words side by side; over running text the neuron is "
               "shown on every word, and a word's tag is the relation to its head.")

# ---- the tags that picked it: signed weight and purity ------------------------------------------------------
base_rate = pd.Series(tags).value_counts(normalize=True)
if picked and weights_row is not None:
    first = picked[0]
    sign_word = "positive" if first["weight"] > 0 else "negative"
    st.markdown(f"Picked as salient by **{len(picked)}** tag{'s' if len(picked) > 1 else ''}. Probe weight for "
                f"**{S.tag_md(first['tag'])}**: **{signed(first['weight'])}** ({sign_word}: "
                f"{reads_as(first['weight'], first['tag'])}).")
    lines = ["| tag | probe weight | reads as | purity of its top %d words | tag's share of the corpus |" % n_top,
             "|---|---:|---|---:|---:|"]
    for r in picked:
        purity = explore.tag_purity(acts, column, words_flat, tags, r["tag"], k=n_top,
                                    sign=explore.weight_sign(result.weights, neuron, result_tags.index(r["tag"])))
        lines.append(f"| {S.tag_md(r['tag'])} | {signed(r['weight'])} | {reads_as(r['weight'], r['tag'])} | "
                     f"{100 * purity:.0f} % | {100 * float(base_rate.get(r['tag'], 0.0)):.1f} % |")
    st.markdown("\n".join(lines))
    st.caption("The sign of a weight says which way the neuron votes: positive, the higher its activation the more "
               "the probe predicts the tag (evidence for it); negative, evidence against it. Purity: the share of "
               f"the neuron's top {n_top} activating words, taken at the end whose activations argue for the tag, "
               "that carry the tag; compare it with the tag's share of the corpus.")
elif weights_row is not None:
    strongest = int(np.argmax(np.abs(weights_row)))
    w, t = float(weights_row[strongest]), result_tags[strongest]
    st.markdown(f"No tag picked this neuron as salient. Its largest probe weight in size: **{S.tag_md(t)}** **{signed(w)}** "
                f"({'positive' if w > 0 else 'negative'}: {reads_as(w, t)}).")
elif picked:
    st.markdown("Picked as salient by " + ", ".join(f"**{S.tag_md(r['tag'])}**" for r in picked) + " (this run has no saved "
                "probe weights).")

# ---- heatmaps -----------------------------------------------------------------------------------------------
# auto: the end whose activations argue for the tag in view (the chosen tag if it picked the neuron,
# else the neuron's first tag, else the tag of its largest weight); the larger extreme without weights.
best_tag = result_tags[int(np.argmax(np.abs(weights_row)))] if weights_row is not None else None
tag_in_view = (tag if tag and neuron in per_tag.get(tag, ()) else picked[0]["tag"] if picked else best_tag)
sign_choice = st.radio("Direction", ["auto", "positive", "negative"], horizontal=True, key="nx_sign",
                       help="Which end of the neuron to look at; auto follows the sign of the probe's weight for "
                            + (f"**{S.tag_md(tag_in_view)}**" if tag_in_view else "the tag") + ".")
sign = {"positive": 1, "negative": -1}.get(sign_choice) or (
    explore.weight_sign(result.weights, neuron, result_tags.index(tag_in_view))
    if tag_in_view and result.weights is not None else explore.preferred_sign(acts, column))
offsets = corpus.sentence_offsets()
view = st.segmented_control("Sentences", list(VIEWS), format_func=VIEWS.get, key="nx_view") or "top"
k = st.slider("Sentences shown", 3, 15, 6, key="nx_k") if view != "text" else 0
text = None
if view == "top":
    chosen = explore.top_sentences(acts, column, offsets, k=k, sign=sign)
elif view == "random":
    chosen = explore.random_sentences(len(corpus.sentences), k=k, seed=int(state.get("nx_seed", 0)))
if view in ("top", "random"):
    sents = [corpus.sentences[i] for i in chosen]
    values = explore.sentence_values(acts, column, offsets, chosen)
    word_tags = [tags[offsets[i]:offsets[i + 1]] for i in chosen]
    fig = viz.token_heatmap(sents, values, scale, title=f"Neuron {name(neuron)}: {VIEWS[view].lower()}",
                            row_labels=[f"s{i + 1}" for i in chosen], tags=word_tags)
    S.chart(fig, f"lca-{rid}-neuron-{name(neuron).replace(':', '_').replace(' ', '_')}-{view}", key="nx_heat")
else:
    text = st.text_area("Type text (a sentence or two)", key="nx_text",
                        help="It goes into the permalink below, so a shared link shows the same text.")
    state["nx_text_kept"] = text
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
           f"{corpus.n_words:,}-word test corpus" + (f", leaving out its {flag.n_peak_words} massive words"
                                                   if flag is not None else "") +
           "), clipped to [-1, 1]; hover a word for the exact value"
           + (" and its tag." if view != "text" else "."))

# ---- top words, distribution, weights -----------------------------------------------------------------------
left, right = st.columns(2)
with left:
    st.subheader("Top activating words")
    n_top = st.slider("How many", 5, 50, 10, key="nx_topk")
    top = explore.top_words(acts, column, words_flat, tags, k=n_top, sign=sign)
    end = "highest" if sign > 0 else "lowest"
    if sign_choice == "auto" and tag_in_view and weights_row is not None:
        w = float(weights_row[result_tags.index(tag_in_view)])
        why = (f", the end whose activations argue for {S.tag_md(tag_in_view)}: its weight for it is "
               + ("positive, so a high activation is evidence for it." if w > 0 else
                  f"negative ({signed(w)}): a high activation is evidence against it, a low one evidence for it."))
    else:
        why = " (the direction chosen above)." if sign_choice != "auto" else ", the neuron's larger extreme."
    st.caption(f"The {n_top} words with the {end} activations{why}")
    dom, share = explore.dominant_tag([t["tag"] for t in top])
    m1, m2 = st.columns(2)
    m1.metric("Dominant tag among them", f"{100 * share:.0f} % {dom}")
    if tag_in_view:
        in_view = sum(t["tag"] == tag_in_view for t in top) / len(top) if top else 0.0
        m2.metric(f"Tagged {S.tag_md(tag_in_view)} (purity)", f"{100 * in_view:.0f} %",
                  help=f"{S.tag_md(tag_in_view)} is {100 * float(base_rate.get(tag_in_view, 0.0)):.1f} % of the test corpus.")
    frame = pd.DataFrame([{"word": t["word"], "tag": t["tag"], "activation": round(t["activation"], 4)} for t in top])
    st.dataframe(frame, hide_index=True, width="stretch")
    S.csv_button(frame, f"lca-{rid}-neuron-{name(neuron).replace(':', '_').replace(' ', '_')}-top-words", key="nx_top")
with right:
    st.subheader("Probe weight per tag")
    if weights_row is not None:
        S.chart(viz.tag_weight_bars(weights_row, result_tags, title=f"Neuron {name(neuron)}: oracle probe weights"),
                f"lca-{rid}-neuron-weights", key="nx_weights")
        st.caption("Red: positive weight, the neuron's activation is evidence for the tag; blue: negative, evidence "
                   "against it.")
    else:
        st.caption("This run has no saved probe weights.")
st.subheader("Activation distribution per tag")
dist = explore.tag_distribution(acts, column, tags, order=result_tags)
S.chart(viz.tag_distribution_box(dist, title=f"Neuron {name(neuron)}: activation per tag (test corpus)"),
        f"lca-{rid}-neuron-distribution", key="nx_dist")

# ---- permalink: neuron, view, and the typed text --------------------------------------------------------------
params = {"s": S.session_token(), "run": rid, "neuron": name(neuron), "view": view}
if view == "text":
    params["text"] = text or ""
elif "text" in st.query_params:
    del st.query_params["text"]
state["nx_written"] = dict(params)
for key, value in params.items():
    if st.query_params.get(key) != value:
        st.query_params[key] = value
base = (st.context.url or "").split("?")[0]
st.markdown("**Permalink to this view** (it carries this session's token: whoever opens it sees this session's runs"
            + (", and the typed text" if view == "text" else "") + ")")
st.code(f"{base}?{urlencode(params)}", language=None)
