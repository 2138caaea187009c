"""Causal check: silence neurons inside the model and see what changes, on typed text and on the corpus."""
import time

import numpy as np
import pandas as pd
import streamlit as st

import lca_app as S
from lca.report import explore
from lca.causal import intervene, viz as intervene_viz
from lca._validation import InputError
from lca.data.datasets import sample_sentences
from lca.causal.effects import clean_layer_probe, information_flow, typed_tags
from lca.causal.lm import load_lm_head, typed_predictions
from lca.runs.pipeline import corpus_activations

S.intro("Causal check",
        "The other views test the probe. Here the chosen neurons are silenced *inside the model* (set to zero, or to "
        "their mean over the training corpus) and everything above them is recomputed: does a probe trained on the "
        "clean top layer still read the task, compared with silencing as many random neurons? This is the open "
        "question the paper leaves (Section 6): whether the model itself uses the salient neurons.")

rid, result = S.require_run()
cfg = result.run_config
if result.pair or getattr(result, "site", "hidden") != "hidden" or getattr(result, "screen", None):
    st.info("Interventions need a word-level task over every layer output (not a pair task, MLP site or screened run).")
    st.stop()
state = st.session_state
S_ = result.layer_size
name = lambda flat: S.neuron_name(result, flat)  # noqa: E731

# ---- what to silence ------------------------------------------------------------------------------------------
c1, c2, c3 = st.columns([2, 2, 1])
what = c1.radio("Silence", ["the minimal set", "a tag's neurons", "the current neuron", "the top N"], key="iv_what")
if what == "a tag's neurons":
    tags = sorted(t for t, n in result.per_tag.items() if n)
    tag = c2.selectbox("Tag", tags, key="iv_tag", format_func=lambda t: f"{t} ({len(result.per_tag[t])} neurons)")
    spec = f"tag:{tag}"
elif what == "the current neuron":
    current = state.get("nx_neuron", result.ranking[0])  # the neuron explorer's current neuron
    typed = c2.text_input("Neuron (layer:unit)", name(current), key="iv_neuron")
    spec = typed
elif what == "the top N":
    spec = f"top:{c2.number_input('N', 1, result.n_neurons, min(100, result.n_neurons), key='iv_n')}"
else:
    spec = "top"
mode = c3.radio("Replace by", ["zero", "mean"], key="iv_mode")
try:
    set_name, neurons = intervene.parse_neuron_set(spec, result)
except InputError as err:
    st.error(str(err))
    st.stop()
read_layer = result.n_layers - 1
below = intervene.below_layer(neurons, read_layer, S_)
st.caption(f"{set_name}: {len(neurons)} neurons, {len(below)} of them below the top layer (layer {read_layer}), "
           "whose effect on it is measured.")


# cached here: the page's own computations (models and run data come from lca_app).  One probe and one read of
# the training activations serve the typed text and the corpus measurement.
@st.cache_data(show_spinner=False, max_entries=4)
def _probe_and_means(rid: str, layer: int):
    loaded = S.get_model(cfg.model, cfg.device, cfg.revision)
    train = S.load_train_corpus(rid)
    acts, _, _ = corpus_activations(loaded, train, cfg.aggregation)
    steps = min(2000, cfg.min_steps or 2000)  # an interactive probe: at most 2000 steps
    return clean_layer_probe(acts, train, result, layer, steps, loaded.device), intervene.mean_activations(acts)


@st.cache_resource(show_spinner=False, max_entries=2)
def _head(rid: str):
    return load_lm_head(S.get_model(cfg.model, cfg.device, cfg.revision))


try:
    with st.spinner("Loading the model and training a probe on the clean top layer…"):
        loaded = S.get_model(cfg.model, cfg.device, cfg.revision)
        probe, means = _probe_and_means(rid, read_layer)
        head = _head(rid)
except (InputError, OSError, ValueError) as err:
    st.error(f"The run's model or training corpus cannot be used: {err}")
    st.stop()
values = means if mode == "mean" else None

# ---- typed text -----------------------------------------------------------------------------------------------
st.subheader("On a sentence")
text = st.text_area("Sentence", "She was considering the biggest offers from three companies in Berlin .", key="iv_text")
words = explore.tokenize(text)
if words:
    try:
        rows = typed_tags(loaded, words, probe, list(result.tags), neurons, read_layer, values,
                          cfg.aggregation)
        frame = pd.DataFrame(rows).rename(columns={"clean": f"tag at layer {read_layer}, clean",
                                                   "silenced": f"tag at layer {read_layer}, silenced"})
        if head is not None:
            model, kind = head
            guesses = typed_predictions(loaded, model, kind, words, [np.zeros(0, np.int64), neurons], values)
            word = "masked word" if kind == "masked" else "next word"
            frame[f"{word}, clean"], frame[f"{word}, silenced"] = guesses[0], guesses[1]
        st.dataframe(frame, hide_index=True, width="stretch")
        changed = sum(r["changed"] for r in rows)
        st.markdown(f"**{changed} of {len(rows)} words** change tag at layer {read_layer}.")
        if head is None:
            st.caption("This model was saved without a pretrained language-model head, so only the probe's tags are "
                       "shown (a random head would predict nothing).")
    except InputError as err:
        st.error(str(err))
else:
    st.info("Type a sentence above.")

# ---- the corpus -----------------------------------------------------------------------------------------------
st.subheader("On the test corpus")
test = S.load_test_corpus(rid)
d1, d2, d3 = st.columns(3)
draws = d1.number_input("Random draws", 2, 10, 5, key="iv_draws")
heat = d2.number_input("Tags in the per-tag map", 0, 20, 8, key="iv_heat")
n_sent = d3.number_input("Test sentences (a seeded sample)", 1, len(test.sentences), min(300, len(test.sentences)),
                         key="iv_sentences")
evaluation = sample_sentences(test, int(n_sent), 0)
key = (rid, spec, mode, int(draws), int(heat), int(n_sent))
n_words, conditions = evaluation.n_words, 3 + int(draws) + 2 * int(heat)  # at most: map tags need neurons below


def word_rate() -> tuple[float | None, str]:
    """Seconds to extract one word under one condition, and where the figure comes from."""
    if state.get("iv_rate", {}).get(rid):
        return state["iv_rate"][rid], "from the last measurement here"
    reused = result.activation_keys.reused
    if result.timings.get("extract") and reused and not any(reused):
        return result.timings["extract"] / (result.n_train_words + result.n_test_words), "from this run's extraction"
    return S.extraction_rate(cfg), "from the extractions of the runs on this server"


rate, basis = word_rate()
expected = None if rate is None else rate * conditions * n_words
if st.button("Measure on the corpus", key="iv_run", type="primary"):
    started = time.time()
    doing = f"Re-extracting {n_words:,} words under up to {conditions} conditions"
    bar = st.progress(0.0, text=f"{doing}…" + ("" if expected is None else
                                              f" about {S.format_duration(expected, rough=True)}"))

    def report(stage: str, fraction: float) -> None:
        f, spent = min(1.0, fraction), time.time() - started
        left = f" · about {S.format_duration(spent * (1 - f) / f, rough=True)} left" if f >= 0.05 else ""
        bar.progress(f, text=f"{doing}… {100 * f:.0f} %{left}")

    try:
        flow = information_flow(loaded, result, evaluation, probe, {set_name: neurons}, mode, means, read_layer,
                                int(draws), int(heat), seed=0, progress=report)
        state["iv_result"] = (key, flow.to_dict())
        done = 2 + int(draws) + 1 + 2 * len(flow.heatmap.get("tags", ()))
        state.setdefault("iv_rate", {})[rid] = (time.time() - started) / (done * n_words)
    except InputError as err:
        st.error(str(err))
    bar.empty()
saved = state.get("iv_result")
rate, basis = word_rate()  # again: a measurement just made times the next one
expected = None if rate is None else rate * conditions * n_words
st.caption(f"The measurement re-extracts the {n_words:,} words once per condition, up to {conditions}: the clean one, "
           f"the set, {int(draws)} random draws, the bottom neurons and two per map tag: "
           + (f"about {S.format_duration(expected, rough=True)} on this server ({basis})." if expected is not None
              else "no time estimate yet (the run read its activations from the cache, and no run on this server "
                   "has timed an extraction of this model)."))
if not saved:
    st.stop()
if saved[0] != key:
    st.caption("Shown: the last measurement, made with other settings; press the button to measure these.")
flow = saved[1]
s = flow["sets"][0]
clean, top, rnd, bottom = flow["clean"]["accuracy"], s["top"]["accuracy"], s["random"], s["bottom"]["accuracy"]
gap = rnd["accuracy"] - top
verdict = ("hurts the task far more than as many random neurons" if gap > 2 * max(rnd["sd"], 0.005)
           else "does not hurt the task more than as many random neurons")
st.markdown(f"Silencing **{s['name']}** ({s['n_neurons']} neurons below layer {flow['read_layer']}) {verdict}: "
            f"{top:.1%} of words decoded, against {rnd['accuracy']:.1%} ± {rnd['sd']:.1%} for random sets "
            f"({len(rnd['draws'])} draws), {bottom:.1%} for the least salient, {clean:.1%} clean.")
st.caption(f"Words decoded: the share of the {flow['n_words']:,} words of the {int(n_sent):,} sampled test sentences "
           f"whose tag a probe reads correctly at layer {flow['read_layer']}. That probe was trained on this page, on "
           f"the clean activations of layer {flow['read_layer']} alone, so its clean {clean:.1%} is not the Overview's "
           f"oracle accuracy ({result.oracle_accuracy:.2%}), which reads the neurons of every layer with the run's "
           "own probe on the whole test set. The charts give the same shares in %.")
S.chart(intervene_viz.flow_bars(flow), f"lca-{rid}-intervene-flow", key="iv_flow")
S.chart(intervene_viz.flow_tag_bars(flow), f"lca-{rid}-intervene-tags", key="iv_tags")
if flow["heatmap"]:
    S.chart(intervene_viz.silencing_heatmap(flow["heatmap"], unit="accuracy drop in points", scale=100),
            f"lca-{rid}-intervene-heatmap", key="iv_heat_chart")
    st.caption("Each row silences one tag's own neurons; each cell is the drop in the column tag's accuracy, in "
               "points, beyond the drop from as many random neurons (red: the tag's neurons matter more than random "
               "ones).")
S.csv_button(pd.DataFrame([{"condition": "clean", "accuracy": clean}, {"condition": s["name"], "accuracy": top},
                           {"condition": "random (mean)", "accuracy": rnd["accuracy"], "sd": rnd["sd"]},
                           {"condition": "bottom", "accuracy": bottom}]), f"lca-{rid}-intervene", key="iv_csv")
