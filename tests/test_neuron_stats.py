"""Single-neuron statistics (lca.report.neuron_stats): equal to direct computations, a planted neuron found,
null neurons kept out at the stated false discovery rate, streamed blocks equal to one block."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control, mannwhitneyu, rankdata
from sklearn.metrics import mutual_info_score, roc_auc_score

from lca import InputError
from lca.report.neuron_stats import benjamini_hochberg, neuron_stats

TAGS = ["A", "B", "C"]


def _small(seed=0, n=300, d=5):
    rng = np.random.default_rng(seed)
    acts = np.round(rng.normal(size=(n, d)), 1).astype(np.float16)  # rounded: many ties
    labels = rng.choice(TAGS + ["other"], size=n, p=[0.2, 0.3, 0.1, 0.4])
    acts[labels == "A", 1] += 0.8
    control = rng.choice(TAGS, size=n)
    return acts, labels, control


def _cohen_d(x, y):
    pooled = np.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
    return (x.mean() - y.mean()) / pooled


def test_statistics_equal_a_direct_computation():
    acts, labels, control = _small()
    stats = neuron_stats(acts, labels, TAGS, control=control, bins=8)
    X = acts.astype(np.float64)
    for j in range(X.shape[1]):
        x = X[:, j]
        bins = np.minimum(((rankdata(x) - 1) * 8 / len(x)).astype(int), 7)  # equal-frequency bins, ties together
        for t, tag in enumerate(TAGS):
            y = labels == tag
            assert stats.auroc[j, t] == pytest.approx(roc_auc_score(y, x), abs=1e-6)
            p = mannwhitneyu(x[y], x[~y], alternative="two-sided", method="asymptotic", use_continuity=True).pvalue
            assert 10 ** stats.log10_p[j, t] == pytest.approx(p, rel=1e-4)
            assert stats.smd[j, t] == pytest.approx(_cohen_d(x[y], x[~y]), rel=1e-4)
            assert stats.mi[j, t] == pytest.approx(mutual_info_score(y, bins) / np.log(2), abs=1e-5)
            assert stats.control_auroc[j, t] == pytest.approx(roc_auc_score(control == tag, x), abs=1e-6)
            assert stats.auroc_lo[j, t] < stats.auroc[j, t] < stats.auroc_hi[j, t]
            assert stats.smd_lo[j, t] < stats.smd[j, t] < stats.smd_hi[j, t]
    q = false_discovery_control(10.0 ** stats.log10_p.ravel().astype(np.float64))
    assert np.allclose(10.0 ** stats.log10_q.ravel(), q, rtol=1e-4)
    assert stats.n_tests == X.shape[1] * len(TAGS)
    assert np.allclose(stats.mean, X.mean(axis=0), atol=1e-5)


def test_pair_rows_give_head_then_dependent_features():
    acts, labels, _ = _small(n=200, d=3)
    rows = np.stack([np.roll(np.arange(200), 1), np.arange(200)], axis=1)
    stats = neuron_stats(acts, labels, TAGS, rows=rows)
    assert stats.auroc.shape == (6, 3)
    head = acts[rows[:, 0], 2].astype(float)
    assert stats.auroc[2, 0] == pytest.approx(roc_auc_score(labels == "A", head), abs=1e-6)
    assert stats.auroc[4, 0] == pytest.approx(roc_auc_score(labels == "A", acts[:, 1].astype(float)), abs=1e-6)


def test_blocks_do_not_change_the_result():
    acts, labels, control = _small(seed=3, d=9)
    one = neuron_stats(acts, labels, TAGS, control=control)
    streamed = []
    many = neuron_stats(acts, labels, TAGS, control=control, block_bytes=1, progress=lambda d, t: streamed.append(d))
    assert streamed == list(range(1, 10))  # one column a block
    for name, value in one.arrays().items():
        assert np.array_equal(value, many.arrays()[name], equal_nan=True), name


def planted(n=3000, d=64, seed=0, neuron=17, shift=2.0):
    """Words of 6 tags; neuron ``neuron`` fires ``shift`` sd higher on JJS (3 % of words), every other neuron is noise."""
    rng = np.random.default_rng(seed)
    tags = ["NN", "VB", "DT", "IN", "JJ", "JJS"]
    labels = rng.choice(tags, size=n, p=[0.3, 0.25, 0.2, 0.12, 0.1, 0.03])
    acts = rng.normal(size=(n, d)).astype(np.float16)
    acts[:, neuron] += (shift * (labels == "JJS")).astype(np.float16)
    return acts, labels, tags


def test_planted_neuron_is_significant_and_strongest():
    acts, labels, tags = planted()
    stats = neuron_stats(acts, labels, tags, control=np.random.default_rng(1).choice(tags, size=len(labels)))
    t = tags.index("JJS")
    assert int(np.nanargmax(stats.strength[:, t])) == 17
    assert stats.significant(0.05)[17, t] and stats.sign[17, t] == 1
    assert stats.auroc[17, t] > 0.9 and stats.smd_lo[17, t] > 1.5
    assert stats.selectivity[17, t] > 0.3  # the control task's JJS is random words
    others = np.delete(stats.significant(0.05), 17, axis=0)
    assert others.sum() <= 3  # noise neurons: at most a rare false discovery


def test_null_neurons_are_not_significant_at_the_stated_rate():
    """Under the complete null, BH at 5 % rejects anything in at most ~5 % of simulated runs (its family-wise rate
    under the complete null is alpha); with one planted neuron, false discoveries stay ≤ 5 % of discoveries."""
    any_null, fdp = 0, []
    runs = 40
    for seed in range(runs):
        rng = np.random.default_rng(100 + seed)
        acts = rng.normal(size=(400, 40)).astype(np.float16)
        labels = rng.choice(TAGS, size=400)
        any_null += bool(neuron_stats(acts, labels, TAGS).significant(0.05).any())
        acts[:, 0] += (1.5 * (labels == "A")).astype(np.float16)
        sig = neuron_stats(acts, labels, TAGS).significant(0.05)
        fdp.append(sig[1:].sum() / max(sig.sum(), 1))
    assert any_null <= 0.05 * runs + 3  # 2 + binomial slack; 0.1 × runs would mean no correction worked
    assert np.mean(fdp) <= 0.05 + 0.03


def test_benjamini_hochberg_keeps_nan_and_caps_at_one():
    q = benjamini_hochberg(np.array([[np.nan, -3.0], [0.0, -0.1]]))
    assert np.isnan(q[0, 0]) and q[1, 0] == 0.0 and np.all(q[~np.isnan(q)] <= 0)


def test_tags_without_examples_are_not_tested():
    acts, labels, _ = _small()
    stats = neuron_stats(acts, labels, TAGS + ["absent"])
    assert np.isnan(stats.auroc[:, 3]).all() and np.isnan(stats.log10_q[:, 3]).all()
    assert stats.n_tests == acts.shape[1] * 3


def test_constant_neuron_has_p_one():
    acts, labels, _ = _small()
    acts[:, 0] = 0.5
    stats = neuron_stats(acts, labels, TAGS)
    assert np.all(stats.log10_p[0] == 0) and np.all(stats.auroc[0] == 0.5) and np.isnan(stats.smd[0]).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(labels=["A"] * 5), "one entry per example"),
    (dict(control=["A"] * 5), "control must have one label"),
    (dict(bins=1), "bins must be an integer"),
    (dict(neurons=np.arange(3)), "neurons must name each"),
])
def test_bad_input_is_refused(kwargs, match):
    acts, labels, _ = _small(n=20)
    args = dict(labels=labels, tags=TAGS) | kwargs
    with pytest.raises(InputError, match=match):
        neuron_stats(acts, **args)
