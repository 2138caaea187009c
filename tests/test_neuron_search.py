"""Neuron search, the map, the probe against single neurons, the teaching table, the export and the statistics kept
beside a run (lca.report.neuron_search, neuron_probe, neuron_viz, neuron_cache) on a planted neuron."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from lca import InputError
from lca.report import neuron_probe, neuron_search, neuron_viz
from lca.report.neuron_stats import neuron_stats
from test_neuron_stats import planted

PLANTED = 17  # layer 0, unit 17 of a 2 × 32 hidden site


def fake_result(tags, per_tag=None, weights=None, minimal=(PLANTED,)):
    """What the search reads of an LCAResult: layout, ranking, the probe's per-tag sets and weights."""
    ranking = [PLANTED, 3, 40] + [n for n in range(64) if n not in (PLANTED, 3, 40)]
    return SimpleNamespace(layer_size=32, n_layers=2, pair=False, site="hidden", tags=tuple(tags), ranking=tuple(ranking),
                           per_tag=per_tag or {}, weights=weights, minimal=SimpleNamespace(neurons=tuple(minimal)))


@pytest.fixture(scope="module")
def planted_run():
    acts, labels, tags = planted(shift=5.0)  # its top words are JJS words, not noise
    words = np.where(labels == "JJS", np.random.default_rng(2).choice(["biggest", "best", "largest"], size=len(labels)),
                     np.random.default_rng(3).choice(["cat", "ran", "the", "on", "big"], size=len(labels))).tolist()
    stats = neuron_stats(acts, labels, tags, control=np.random.default_rng(1).choice(tags, size=len(labels)))
    return acts, labels.tolist(), words, tags, stats


def test_tag_search_finds_the_planted_neuron_first(planted_run):
    acts, labels, words, tags, stats = planted_run
    result = fake_result(tags)
    rows = neuron_search.tag_search(stats, "JJS", result, k=5)
    top = rows[0]
    assert top["neuron"] == PLANTED and top["label"] == "0:17" and top["lca_rank"] == 1
    assert top["significant"] and top["sign"] == 1 and top["q"] < 1e-20 and top["auroc_ci"][0] > 0.9
    assert [r["neuron"] for r in neuron_search.tag_search(stats, "JJS", result, k=3, sign=-1)][0] != PLANTED
    with pytest.raises(InputError, match="tag must be one of"):
        neuron_search.tag_search(stats, "XYZ", result)


@pytest.mark.parametrize("pattern, regex", [("biggest", False), ("BIGGEST", False), ("est$", True)])
def test_word_and_pattern_search_find_it(planted_run, pattern, regex):
    acts, labels, words, tags, stats = planted_run
    rows, found = neuron_search.word_search(acts, words, pattern, fake_result(tags), regex, k=3)
    assert rows[0]["neuron"] == PLANTED and rows[0]["significant"] and rows[0]["sign"] == 1
    assert found["n_matches"] > 0 and all(w.endswith("est") for w in found["types"])


@pytest.mark.parametrize("pattern, regex, match", [("", False, "type a word"), ("(", True, "not a valid regular"),
                                                   ("zebra", False, "matches no word")])
def test_word_search_refuses_what_it_cannot_compare(planted_run, pattern, regex, match):
    acts, labels, words, tags, stats = planted_run
    with pytest.raises(InputError, match=match):
        neuron_search.word_search(acts, words, pattern, fake_result(tags), regex)


def test_token_search_ranks_by_distance_from_the_usual_value(planted_run):
    acts, labels, words, tags, stats = planted_run
    values = stats.mean.astype(np.float64).copy()
    values[PLANTED] += 5 * stats.sd[PLANTED]
    rows = neuron_search.token_search(values, stats, fake_result(tags), k=3)
    assert rows[0]["neuron"] == PLANTED and rows[0]["z"] == pytest.approx(5, rel=1e-3) and rows[0]["tag"] == "JJS"


def test_planted_neuron_tops_the_map_and_the_teaching_table(planted_run):
    acts, labels, words, tags, stats = planted_run
    best, strength = neuron_search.best_tags(stats)
    assert int(np.nanargmax(strength)) == PLANTED and tags[best[PLANTED]] == "JJS"
    fig = neuron_viz.neuron_map(stats.neurons, strength, [str(n) for n in stats.neurons], 32, 2, minimal=[PLANTED])
    cells = fig.data[1]
    assert list(cells.customdata[PLANTED]) == [PLANTED] and fig.data[2].customdata[0][0] == PLANTED
    z = np.asarray(fig.data[0].z, dtype=float)
    row, col, _, _ = neuron_viz.map_grid(np.array([PLANTED]), 32, 2)
    assert z[row[0], col[0]] == pytest.approx(np.nanmax(z))
    table = neuron_search.teaching_table(stats, acts, words, labels, fake_result(tags), k_words=3)
    jjs = next(r for r in table if r["tag"] == "JJS")
    assert table[0]["tag"] == "JJS" and jjs["neuron"] == PLANTED and jjs["top_tagged"] == 1.0
    assert set(jjs["top_words"]) <= {"biggest", "best", "largest"}


def test_probe_against_single_neurons_names_distributed_and_redundant(planted_run):
    acts, labels, words, tags, stats = planted_run
    weights = np.zeros((64, len(tags)))
    t = tags.index("JJS")
    weights[PLANTED, t], weights[3, t] = 2.0, 1.5
    # the probe picks a noise neuron (3) for JJS and leaves the planted one out: 3 is distributed, 17 redundant
    view = neuron_probe.probe_vs_single(stats, fake_result(tags, {"JJS": [3]}, weights), "JJS")
    assert view["kind"][3] == "distributed" and view["kind"][PLANTED] == "redundant"
    assert PLANTED in view["front"].tolist()
    agree = neuron_probe.probe_vs_single(stats, fake_result(tags, {"JJS": [PLANTED]}, weights), "JJS")
    assert agree["kind"][PLANTED] == "agree" and agree["counts"] == {"distributed": 0, "redundant": 0, "agree": 1}
    summary = neuron_probe.disagreement(stats, fake_result(tags, {"JJS": [3]}, weights))
    assert summary["distributed"] == 1 and summary["redundant"] >= 1
    lines = " ".join(neuron_probe.disagreement_lines(summary))
    assert "1 of them (100 %) are weak alone" in lines and "Most distributed: JJS" in lines
    for fig in (neuron_viz.probe_scatter(view), neuron_viz.probe_scatter(view, "weight"), neuron_viz.pareto_figure(view)):
        assert any(PLANTED in np.asarray(trace.customdata)[:, 0] for trace in fig.data)


def test_table_columns_cover_every_pair(planted_run):
    acts, labels, words, tags, stats = planted_run
    columns = neuron_search.table_columns(stats, fake_result(tags, weights=np.ones((64, len(tags)))))
    assert {len(v) for v in columns.values()} == {64 * len(tags)}
    i = PLANTED * len(tags) + tags.index("JJS")
    assert columns["neuron"][i] == "0:17" and columns["tag"][i] == "JJS" and columns["significant"][i]
    assert columns["lca_rank"][i] == 1 and columns["probe_weight"][i] == 1.0


def test_statistics_are_kept_beside_the_run_and_read_back(tiny_run, tmp_path):
    from lca.cli.neurons import export_table
    from lca.report.neuron_cache import load_neuron_stats, run_neuron_stats
    from lca.runs.store import RunStore
    from lca.store.cache import default_cache_dir

    token, rid, result = tiny_run
    runs = RunStore(default_cache_dir() / "runs")  # the fixture's store ($LCA_CACHE_DIR)
    folder = runs.path(rid)
    stats, meta = run_neuron_stats(result, runs.load_test_corpus(rid), runs.load_train_corpus(rid), folder)
    assert not meta["cached"] and meta["control"] == "run" and stats.auroc.shape == (result.n_neurons, len(result.tags))
    again, meta2 = run_neuron_stats(result, runs.load_test_corpus(rid), runs.load_train_corpus(rid), folder)
    assert meta2["cached"]
    for name, value in stats.arrays().items():
        assert np.array_equal(value, again.arrays()[name], equal_nan=True), name
    assert load_neuron_stats(folder, key="another") is None  # other inputs: recomputed, never served
    no_train, meta3 = run_neuron_stats(result, runs.load_test_corpus(rid), None, folder)
    assert not meta3["cached"] and meta3["control"] == "drawn over these words alone"
    columns = neuron_search.table_columns(stats, result)
    path = export_table(columns, tmp_path / "t.json", meta)
    data = json.loads(path.read_text())
    assert len(data["rows"]) == stats.auroc.size and data["meta"]["split"] == "test"
