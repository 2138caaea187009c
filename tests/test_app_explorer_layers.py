"""AppTests of the neuron explorer and the Layers page (issue 12): the probe weight shown with its sign and
what the sign means, the purity of a neuron's top words for its tag, a tag box that follows the neuron,
typed text kept in the permalink, neurons on the Layers page that open in the explorer, and captions
that read the run's numbers.  Every test starts from the entry point (app.py) and switches page."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

pytest.importorskip("streamlit")

from test_app_pages import open_app, texts  # noqa: E402

from lca.report import explore, layer_tables  # noqa: E402

EXPLORER, LAYERS = "pages/explorer.py", "pages/layers.py"


def heading(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("### Neuron"))


def md(tag: str) -> str:
    """A tag as the pages write it in markdown (``$``, ``|`` and the like escaped)."""
    text = re.sub(r"([\\`*_\[\]#|$~<>])", r"\\\1", tag)
    return text if re.search(r"[A-Za-z0-9]", tag) else f"“{text}”"  # a punctuation tag, quoted to be seen


def name(result, flat: int) -> str:
    return f"{flat // result.layer_size}:{flat % result.layer_size}"


def test_acts(result) -> np.ndarray:
    from lca.store.cache import ActivationCache

    keys = result.activation_keys
    return np.asarray(ActivationCache(keys.cache_dir).get(keys.test))


test_acts.__test__ = False  # a helper, not a test


def neuron_with_first_weight(result, negative: bool) -> int:
    """A neuron whose largest-|weight| picking tag has a weight of the asked sign."""
    for n in result.ranking:
        picked = explore.neuron_tags(n, result.per_tag, result.weights, result.tags)
        if picked and (picked[0]["weight"] < 0) == negative:
            return n
    pytest.skip(f"no neuron of the tiny run has a {'negative' if negative else 'positive'} first weight")


@pytest.mark.parametrize("negative", [True, False])
def test_explorer_shows_the_signed_weight_and_what_its_sign_means(tiny_run, negative):
    token, rid, result = tiny_run
    neuron = neuron_with_first_weight(result, negative)
    first = explore.neuron_tags(neuron, result.per_tag, result.weights, result.tags)[0]
    at = open_app(token, rid, EXPLORER, neuron=name(result, neuron))
    assert not at.exception and not at.error
    assert heading(at).startswith(f"### Neuron {name(result, neuron)} ")
    assert "strongest probe weight" not in texts(at)  # the old unsigned claim
    line = next(m.value for m in at.markdown if "Probe weight for" in m.value)
    word = "against" if negative else "for"
    assert f"**{md(first['tag'])}**: **{first['weight']:+.4f}**" in line
    meaning = f"a high activation is evidence {word} {md(first['tag'])}"
    assert f"({'negative' if negative else 'positive'}: {meaning})" in line
    assert ("-" if negative else "+") in f"{first['weight']:+.4f}"[0]


def test_explorer_shows_purity_next_to_each_tag_and_lists_a_tags_neurons_by_rank(tiny_run):
    token, rid, result = tiny_run
    acts = test_acts(result)
    from lca.runs.store import RunStore
    from pathlib import Path

    corpus = RunStore(Path(result.activation_keys.cache_dir) / "runs").load_test_corpus(rid)
    words = [w for s in corpus.sentences for w in s]
    tags = explore.word_tags(corpus, result.task)
    neuron = result.ranking[0]
    at = open_app(token, rid, EXPLORER, neuron=name(result, neuron))
    table = next(m.value for m in at.markdown if m.value.startswith("| tag | probe weight"))
    assert "purity of its top 10 words" in table.splitlines()[0]
    for r in explore.neuron_tags(neuron, result.per_tag, result.weights, result.tags):
        t = list(result.tags).index(r["tag"])
        purity = explore.tag_purity(acts, neuron % acts.shape[1], words, tags, r["tag"], k=10,
                                    sign=explore.weight_sign(result.weights, neuron, t))
        row = next(line for line in table.splitlines() if line.startswith(f"| {md(r['tag'])} |"))
        assert f"| {r['weight']:+.4f} |" in row and f"| {100 * purity:.0f} % |" in row
    # the tag box shows a tag that picked the neuron; its neurons come by rank, each with weight and purity
    tag = at.selectbox(key="nx_tag").value
    assert neuron in result.per_tag[tag]
    picker = at.selectbox(key="nx_tag_neuron")
    assert picker.value == neuron
    ranks = [result.ranking.index(n) for n in result.per_tag[tag]]
    shown = [int(o.split(" · rank ")[1].split(" ")[0]) for o in picker.options]
    assert shown == sorted(r + 1 for r in ranks)
    assert all(re.search(r" · \d+ % pure · rank \d+ · w [+-]\d\.\d\d$", o) for o in picker.options), picker.options
    # and the top-words column says how pure the shown words are for the tag in view
    labels = [m.label for m in at.metric]
    assert f"Tagged {md(tag)} (purity)" in labels


def test_explorer_tag_box_follows_the_neuron(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, EXPLORER)
    for _ in range(6):
        at.button(key="nx_next").click().run()
        assert not at.exception
        neuron = next(n for n in result.ranking if heading(at).startswith(f"### Neuron {name(result, n)} "))
        picked = [r["tag"] for r in explore.neuron_tags(neuron, result.per_tag, result.weights, result.tags)]
        tag = at.selectbox(key="nx_tag").value
        if picked:
            assert tag in picked and at.selectbox(key="nx_tag_neuron").value == neuron
        else:
            assert tag is None and at.selectbox(key="nx_tag_neuron").value is None
    # a tag chosen by hand lists its neurons; picking one of them keeps the tag
    other = next(t for t in result.per_tag if result.per_tag[t])
    at.selectbox(key="nx_tag").set_value(other).run()
    target = sorted(result.per_tag[other], key=result.ranking.index)[-1]
    at.selectbox(key="nx_tag_neuron").set_value(target).run()
    assert heading(at).startswith(f"### Neuron {name(result, target)} ")
    assert at.selectbox(key="nx_tag").value == other


def test_explorer_permalink_carries_typed_text(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, EXPLORER, neuron="0:2", view="text", text="the dog ran")
    assert not at.exception and not at.error
    assert at.text_area(key="nx_text").value == "the dog ran"
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [w for w in spec["data"][0]["text"][0] if w] == ["the", "dog", "ran"]
    at.text_area(key="nx_text").set_value("a cat sat on the mat").run()
    assert at.query_params["text"] == ["a cat sat on the mat"] or at.query_params["text"] == "a cat sat on the mat"
    link = urlparse(at.code[0].value)
    params = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert params["text"] == "a cat sat on the mat" and params["view"] == "text" and params["neuron"] == "0:2"
    # the shared link, opened afresh, shows the same neuron and text
    again = open_app(params["s"], params["run"], EXPLORER, neuron=params["neuron"], view=params["view"],
                     text=params["text"])
    assert heading(again).startswith("### Neuron 0:2 ")
    assert again.text_area(key="nx_text").value == "a cat sat on the mat"
    # the text leaves the address with its view
    at.get("button_group")[0].set_value("top").run()
    assert "text" not in at.query_params and "text=" not in at.code[0].value


def test_explorer_pickers_agree_after_another_page(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, EXPLORER, neuron="1:3")
    at.switch_page(LAYERS).run()
    at.switch_page(EXPLORER).run()
    assert not at.exception
    n = 1 * result.layer_size + 3
    assert heading(at).startswith("### Neuron 1:3 ")
    assert at.number_input(key="nx_rank").value == result.ranking.index(n) + 1


def test_layers_neuron_opens_in_the_explorer(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, LAYERS)
    assert not at.exception and not at.error
    tag = max(result.per_tag, key=lambda t: len(result.per_tag[t]))
    at.selectbox(key="ly_tag").set_value(tag).run()
    frame = at.dataframe[1].value
    by_rank = sorted(result.per_tag[tag], key=result.ranking.index)
    assert frame["neuron"].tolist() == [name(result, n) for n in by_rank]  # sorted by rank
    assert frame["rank"].tolist() == [result.ranking.index(n) + 1 for n in by_rank]
    assert "purity of top 10 words %" in frame.columns
    assert all(f"neuron={name(result, n).replace(':', '%3A')}" in u and f"run={rid}" in u
               for n, u in zip(by_rank, frame["open"]))
    link = at.get("page_link")[0].proto  # the tag's most salient neuron, as a link to the explorer
    assert link.page == "explorer"
    assert parse_qs(link.query_string) == {"s": [token], "run": [rid], "neuron": [name(result, by_rank[0])]}
    target = by_rank[min(1, len(by_rank) - 1)]
    at.session_state["ly_neurons"] = {"selection": {"rows": [by_rank.index(target)], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    assert heading(at).startswith(f"### Neuron {name(result, target)} ")  # the explorer, on that neuron
    assert at.query_params["neuron"] in (name(result, target), [name(result, target)])
    assert at.number_input(key="nx_rank").value == result.ranking.index(target) + 1


def test_layers_captions_read_the_numbers(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, LAYERS)
    shown = texts(at)
    assert "Lexical tasks tend" not in shown and "Related tags (e.g. NN and NNS)" not in shown  # no fixed claims
    first, last, held = layer_tables.densest_layers(result.layer_histogram)
    span = f"Layer {first} holds" if first == last else f"Layers {first}–{last} hold"
    assert f"{span} {100 * held:.0f} % of them" in shown
    overlap = layer_tables.tag_overlap_table(result.per_tag)
    tags = overlap["tags"]
    pairs = [(overlap["jaccard"][i][j], overlap["shared"][i][j], tags[i], tags[j])
             for i in range(len(tags)) for j in range(i + 1, len(tags))]
    jac, shared, a, b = max(pairs, key=lambda p: (p[0], p[1]))
    assert f"{shared:,} shared neuron{'' if shared == 1 else 's'} (Jaccard {jac:.2f})" in shown
    most = max(result.per_tag, key=lambda t: (len(result.per_tag[t]), [-ord(c) for c in t]))
    assert f"has the most ({len(result.per_tag[most]):,})" in shown


@pytest.mark.parametrize("page", [EXPLORER, LAYERS])
def test_pages_read_a_run_saved_without_weights(tiny_run, app_cache, page):
    """An older result without probe weights: the tags are listed, no weight or sign is invented."""
    import dataclasses

    from lca.runs.store import RunStore

    token, rid, result = tiny_run
    store = RunStore(app_cache / "runs")
    bare = "0" * 15 + "1"
    store.save(bare, dataclasses.replace(result, weights=None), store.load_test_corpus(rid), {"dataset": "tiny"})
    store.claim(token, bare)
    at = open_app(token, bare, page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    if page == EXPLORER:
        assert "Probe weight for" not in texts(at) and "no saved probe weights" in texts(at)
    else:
        assert at.dataframe[1].value["weight"].isna().all()


def test_explorer_opens_on_its_purest_top_neuron_and_says_why(tiny_run):
    """Issue 26, item 10: the first neuron shown is the purest of the top ranks, not merely rank 1."""
    token, rid, result = tiny_run
    at = open_app(token, rid, EXPLORER)
    acts = test_acts(result)
    corpus = __import__("lca.runs.store", fromlist=["RunStore"]).RunStore(
        __import__("pathlib").Path(result.activation_keys.cache_dir) / "runs").load_test_corpus(rid)
    words, tags = [w for s in corpus.sentences for w in s], explore.word_tags(corpus, result.task)
    neuron, tag, purity, rank = explore.showcase_neuron(result.ranking, result.per_tag, result.weights, result.tags,
                                                        acts, lambda n: n % acts.shape[1], words, tags)
    assert heading(at).startswith(f"### Neuron {name(result, neuron)} · rank {rank} ")
    assert at.selectbox(key="nx_tag").value == tag
    assert any(c.value.startswith("Opened on this neuron because") and f"{100 * purity:.0f} % are {md(tag)}" in c.value
               for c in at.caption)


def test_explorer_leads_with_the_tag_picked_in_the_box(tiny_run):
    """Issue 26, item 11: after picking a tag in 'By tag', the headline and the table start with it."""
    token, rid, result = tiny_run
    neuron = next((n for n in result.ranking
                   if len(explore.neuron_tags(n, result.per_tag, result.weights, result.tags)) > 1), None)
    if neuron is None:
        pytest.skip("no neuron of the tiny run was picked by two tags")
    second = explore.neuron_tags(neuron, result.per_tag, result.weights, result.tags)[1]
    at = open_app(token, rid, EXPLORER, neuron=name(result, neuron))
    at.selectbox(key="nx_tag").set_value(second["tag"]).run()
    assert heading(at).startswith(f"### Neuron {name(result, neuron)} ")
    lead = next(m.value for m in at.markdown if m.value.startswith("Picked as salient by"))
    assert f"Probe weight for **{md(second['tag'])}**: **{second['weight']:+.4f}**" in lead
    table = next(m.value for m in at.markdown if m.value.startswith("| tag | probe weight"))
    assert table.splitlines()[2].startswith(f"| {md(second['tag'])} |")


def test_explorer_says_which_end_of_the_activations_its_top_words_are(tiny_run):
    """Issue 26, item 12: a negative weight lists the lowest activations, and says why in the table's words."""
    token, rid, result = tiny_run
    neuron = neuron_with_first_weight(result, negative=True)
    tag = explore.neuron_tags(neuron, result.per_tag, result.weights, result.tags)[0]["tag"]
    at = open_app(token, rid, EXPLORER, neuron=name(result, neuron))
    at.selectbox(key="nx_tag").set_value(tag).run()
    (said,) = [c.value for c in at.caption if c.value.startswith("The 10 words with the")]
    assert said.startswith(f"The 10 words with the lowest activations, the end whose activations argue for "
                           f"{md(tag)}: its weight for it is negative")
    assert "a high activation is evidence against it, a low one evidence for it." in said
    listed = list(at.dataframe[-1].value["activation"])
    column = test_acts(result)[:, neuron % test_acts(result).shape[1]]
    assert listed == sorted(listed) and listed[0] == pytest.approx(float(column.min()), abs=1e-3)
