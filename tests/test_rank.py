import numpy as np

from lca.method.features import Features
from lca.method.probe import train_probes
from lca.method.probeless import probeless_ranking
from lca.method.rank import entry_steps, lca_ranking, tag_neurons, top_columns, weight_magnitude_ranking
from test_probe import planted


def test_planted_neuron_ranks_first():
    X, y = planted()
    w = train_probes(X, y, 4, [1.0], [0.0], epochs=10, batch_size=128, lr=0.05).coef[0]
    ranking = lca_ranking(w)
    assert set(ranking[:2].tolist()) == {4, 11}
    assert sorted(ranking.tolist()) == list(range(30))  # a complete permutation


def test_iterative_algorithm_matches_vectorized():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(50, 5)) * rng.exponential(size=(50, 1))
    order = []
    for step in range(1, 1001):  # Algorithm 3 as written: grow the mass, append new neurons
        p = step / 1000
        new = set()
        for t in range(5):
            mass = np.abs(w[:, t])
            idx = np.argsort(-mass, kind="stable")
            before = (np.cumsum(mass[idx]) - mass[idx]) / mass.sum()
            new |= set(idx[before < p - 1e-12].tolist())
        fresh = sorted(new - set(order), key=lambda n: -np.abs(w[n]).max())
        order += fresh
    assert order == lca_ranking(w).tolist()


def test_tag_neurons_claim_their_own():
    w = np.zeros((6, 2))
    w[0, 0], w[1, 1], w[2, 0], w[2, 1] = 5, 4, 1, 1
    per_tag = tag_neurons(w, lca_ranking(w)[:2])
    assert per_tag[0].tolist() == [0] and per_tag[1].tolist() == [1]
    assert entry_steps(w)[0, 0] == 1


def test_baselines():
    X, y = planted()
    assert set(probeless_ranking(Features(X), y, 4)[:2].tolist()) == {4, 11}
    w = np.zeros((4, 2))
    w[2] = [1, -3]
    assert weight_magnitude_ranking(w)[0] == 2
    assert top_columns(np.array([3, 1, 2, 0]), 0.5).tolist() == [1, 3]
