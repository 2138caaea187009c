"""Playground: the probe's tags for a typed sentence, and a tag's top neurons over it."""

import pandas as pd
import streamlit as st

import lca_app as S
from lca.report import explore, viz
from lca._validation import InputError

S.intro("Playground",
        "Type a sentence: the run's model encodes it, the oracle probe of Algorithm 1 tags every word, and the "
        "chosen tag's most salient neurons (Section 2.3) are shown over the words. Use it to test the probe and "
        "the neurons of Figures 3–5 on examples of your own.")

rid, result = S.require_run()
cfg = result.run_config
text = st.text_area("Sentence", "She was considering the biggest offers from three companies in Berlin .", key="pg_text")
words = explore.tokenize(text)
if not words:
    st.info("Type a sentence above.")
    st.stop()
st.caption("Words: " + " · ".join(words))

try:
    with st.spinner("Encoding the sentence…"):
        loaded = S.get_model(cfg.model, cfg.device, cfg.revision)
except InputError as err:
    st.error(f"The run's model cannot be loaded: {err}")
    st.stop()

st.subheader("Predicted tags")
preds = []
if result.pair:
    st.info("This run's task labels pairs of words (head and dependent): the probe cannot tag single words, "
            "so only the neurons are shown below.")
elif result.weights is None:
    st.info("This run has no saved probe weights.")
else:
    try:
        preds = explore.predict_words(loaded, words, result.weights, list(result.tags), cfg.aggregation,
                                      intercept=getattr(result, "intercept", None), site=result.site)
        frame = pd.DataFrame([{"word": p["word"], "predicted tag": p["tag"], "probability": round(p["probability"], 3)}
                              for p in preds])
        st.markdown(" ".join(f"{S.literal_md(p['word'])}&nbsp;`{p['tag']}`" for p in preds))
        with st.expander("Probabilities"):
            st.dataframe(frame, hide_index=True, width="stretch")
        S.csv_button(frame, f"lca-{rid}-playground-tags", key="pg_tags")
        if getattr(result, "intercept", None) is None:
            st.caption("The probe's bias is not saved with the run, so the tags come from the weights alone.")
    except InputError as err:
        st.error(str(err))

st.subheader("A tag's top neurons over the sentence")
tags = sorted(result.per_tag)
if st.session_state.get("pg_tag") not in tags:  # start with the tag predicted for the longest word
    guess = max(preds, key=lambda p: len(p["word"]))["tag"] if preds else None
    st.session_state["pg_tag"] = guess if guess in tags else tags[0]
c1, c2 = st.columns([2, 1])
tag = c1.selectbox("Tag", tags, key="pg_tag", format_func=lambda t: f"{t} ({len(result.per_tag[t])} neurons)")
k = c2.slider("Neurons", 1, 30, 10, key="pg_k")
neurons = list(result.per_tag.get(tag, []))[:k]
if not neurons:
    st.info(f"No salient neuron for {tag} in this run.")
    st.stop()
if len(neurons) < k:  # the slider asks for more than the tag has
    st.caption(f"{S.tag_md(tag)} has {S.count(len(neurons), 'salient neuron')} in this run, fewer than the {k} asked "
               f"for: all of them are shown.")
try:
    values = explore.sentence_activations(loaded, words, neurons, cfg.aggregation, result.site)
    acts = S.test_activations(rid)
    scales = [explore.neuron_scale(acts, S.neuron_column(result, n, acts.shape[1])) for n in neurons]
except (InputError, OSError, ValueError) as err:
    st.error(str(err))
    st.stop()
labels = [S.neuron_name(result, n) for n in neurons]
title = f"Top {len(neurons)} neurons of {tag}" if len(neurons) > 1 else f"The one salient neuron of {tag}"
S.chart(viz.neurons_heatmap(words, values, labels, scales, title=title),
        f"lca-{rid}-playground-{tag}", key="pg_heat")
st.caption("Each row is normalized by that neuron's largest absolute activation over the test corpus; hover a cell "
           "for the exact value. Red: positive, blue: negative, white: zero.")
