import numpy as np
import pytest

from lca.method.grid import grid_search, quick_grid_search
from lca.method.probe import accuracy, train_probes
from lca.method.rank import lca_ranking, top_columns

GRID = [(a, b) for a in (0.0, 1e-2, 1.0, 10.0) for b in (0.0, 1e-1)]
KW = dict(epochs=4, batch_size=64, lr=0.05)


def planted(n=1500, d=24, seed=0):
    """Class = sign pattern of neurons 4 and 11 with a little of 7; the others are noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 4] + 0.3 * X[:, 7] > 0).astype(int) + 2 * (X[:, 11] > 0)
    return X[:1000], y[:1000], X[1000:], y[1000:]


def one_by_one(X, y, Xd, yd, pairs, fraction=0.2):
    """Algorithm 2 as written: every probe trained alone, then its top and bottom retrained alone."""
    rows = []
    for a, b in pairs:
        probe = train_probes(X, y, 4, [a], [b], **KW)
        ranking = lca_ranking(probe.coef[0])
        top, bottom = top_columns(ranking, fraction), top_columns(ranking[::-1], fraction)
        acc_top, acc_bottom = (accuracy(Xd, yd, train_probes(X, y, 4, [a], [b], cols[None], **KW))[0]
                               for cols in (top, bottom))
        rows.append(dict(l1=a, l2=b, accuracy=accuracy(Xd, yd, probe)[0], accuracy_top=acc_top, accuracy_bottom=acc_bottom))
    noreg = rows[pairs.index((0.0, 0.0))]["accuracy"]
    for r in rows:
        r["score"] = 0.5 * (r["accuracy_top"] - r["accuracy_bottom"]) - 0.5 * (noreg - r["accuracy"])
    return rows


def test_batched_grid_equals_probes_trained_one_by_one():
    X, y, Xd, yd = planted()
    batched = grid_search(X, y, Xd, yd, 4, GRID, **KW)
    reference = one_by_one(X, y, Xd, yd, GRID)
    for got, want in zip(batched.rows, reference):
        assert (got["l1"], got["l2"]) == (want["l1"], want["l2"])
        for key in ("accuracy", "accuracy_top", "accuracy_bottom", "score"):
            assert got[key] == pytest.approx(want[key], abs=2e-3), (got, want, key)
    best = max(reference, key=lambda r: (round(r["score"], 9), r["accuracy"]))
    assert batched.lambdas == {"l1": best["l1"], "l2": best["l2"]}
    # The planted signal: the chosen probe ranks the two planted neurons first.
    assert set(lca_ranking(batched.oracle.coef[0])[:2]) == {4, 11}


def test_quick_search_screens_a_cross_of_the_grid_and_trains_its_choice_in_full():
    X, y, Xd, yd = planted()
    quick = quick_grid_search(X, y, Xd, yd, 4, GRID, screen_epochs=2, **KW)
    trained = {(r["l1"], r["l2"]) for r in quick.rows}
    round1 = {(a, 0.0) for a in (0.0, 1e-2, 1.0, 10.0)}
    assert round1 <= trained and len(trained - round1) == 1  # every λ1, then the other λ2 of the best one
    assert all(r["screened"] for r in quick.rows)
    best = max(quick.rows, key=lambda r: (round(r["score"], 9), r["accuracy"]))
    assert quick.lambdas == {"l1": best["l1"], "l2": best["l2"]}
    # The chosen probe and (0, 0) are trained exactly as paper mode trains them.
    for probe, (a, b) in ((quick.oracle, (best["l1"], best["l2"])), (quick.noreg, (0.0, 0.0))):
        alone = train_probes(X, y, 4, [a], [b], **KW)
        np.testing.assert_allclose(probe.coef, alone.coef, atol=1e-5)
    assert quick.oracle_dev_accuracy == pytest.approx(accuracy(Xd, yd, quick.oracle)[0]) and quick.oracle_dev_accuracy > 0.9
