import numpy as np

from lca.method.features import Features
from lca.method.select import candidate_sizes, minimal_subset
from test_probe import planted


def test_stops_at_the_first_prefix_within_delta():
    X, y = planted(n=3000, d=40)
    ranking = np.array([4, 11] + [d for d in range(40) if d not in (4, 11)])
    train, dev = Features(X).take(np.arange(2000)), Features(X).take(np.arange(2000, 3000))
    found = minimal_subset(train, y[:2000], dev, y[2000:], 4, ranking, oracle_dev_accuracy=0.95, l1=0.0, l2=0.0,
                           delta=0.05, step=0.05, chunk=3, epochs=10, lr=0.05, batch_size=128)
    assert found.neurons.tolist() == [4, 11]
    assert found.tried[0][0] == 2 and found.dev_accuracy > 0.9


def test_bad_ranking_needs_more_neurons():
    X, y = planted(n=3000, d=40)
    ranking = np.array([d for d in range(40) if d not in (4, 11)] + [4, 11])
    train, dev = Features(X).take(np.arange(2000)), Features(X).take(np.arange(2000, 3000))
    found = minimal_subset(train, y[:2000], dev, y[2000:], 4, ranking, oracle_dev_accuracy=0.95, l1=0.0, l2=0.0,
                           delta=0.05, step=0.05, chunk=4, epochs=10, lr=0.05, batch_size=128)
    assert len(found.neurons) == 40  # the informative neurons come last
    assert [n for n, _ in found.tried] == candidate_sizes(40, 0.05)


def test_coarse_to_fine_finds_the_same_subset():
    X, y = planted(n=3000, d=40)
    ranking = np.array([4, 11] + [d for d in range(40) if d not in (4, 11)])
    train, dev = Features(X).take(np.arange(2000)), Features(X).take(np.arange(2000, 3000))
    kw = dict(oracle_dev_accuracy=0.95, l1=0.0, l2=0.0, delta=0.05, step=0.05, epochs=10, lr=0.05, batch_size=128)
    fine = minimal_subset(train, y[:2000], dev, y[2000:], 4, ranking, chunk=3, **kw)
    coarse = minimal_subset(train, y[:2000], dev, y[2000:], 4, ranking, chunk=3, stride=3, **kw)
    assert coarse.neurons.tolist() == fine.neurons.tolist() == [4, 11]
    assert [n for n, _ in coarse.tried] == [2, 6]  # 6 qualified first, then 2 below it
    np.testing.assert_allclose(coarse.probe.coef, fine.probe.coef, atol=1e-5)


def test_progress_moves_as_candidates_train_and_never_back():
    """It used to sit at 0 % until the first batch of candidates was scored, then jump to ~97 % and stay there."""
    X, y = planted(n=3000, d=40)
    ranking = np.array([d for d in range(40) if d not in (4, 11)] + [4, 11])  # needs several chunks
    train, dev = Features(X).take(np.arange(2000)), Features(X).take(np.arange(2000, 3000))
    shown = []
    minimal_subset(train, y[:2000], dev, y[2000:], 4, ranking, oracle_dev_accuracy=0.95, l1=0.0, l2=0.0, delta=0.05,
                   step=0.05, chunk=4, epochs=10, lr=0.05, batch_size=128, progress=shown.append)
    assert shown == sorted(shown) and shown[-1] == 1.0
    assert len({round(v, 2) for v in shown if 0.0 < v < 1.0}) >= 10  # many steps in between, not one jump
    assert 0.0 < shown[0] < 0.2
