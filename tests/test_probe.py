import numpy as np
import pytest

from lca._validation import InputError
from lca.method.ablate import kept_accuracy
from lca.method.features import Features
from lca.method.probe import ElasticNetProbe, accuracy, train_probes


def planted(n=2000, d=30, seed=0):
    """Class = sign pattern of neurons 4 and 11; every other neuron is noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 4] > 0).astype(int) + 2 * (X[:, 11] > 0)
    return X, y


def test_batched_equals_one_by_one():
    X, y = planted()
    l1, l2 = [0.0, 1e-3, 1e-1], [0.0, 1e-2, 0.0]
    together = train_probes(X, y, 4, l1, l2, epochs=3, batch_size=64)
    alone = [train_probes(X, y, 4, [a], [b], epochs=3, batch_size=64) for a, b in zip(l1, l2)]
    np.testing.assert_allclose(together.coef, np.concatenate([p.coef for p in alone]), atol=1e-5)
    np.testing.assert_allclose(accuracy(X, y, together), [accuracy(X, y, p)[0] for p in alone], atol=1e-3)


def test_batched_columns_equal_one_by_one():
    X, y = planted()
    cols = np.array([[4, 11, 0], [1, 2, 3]])
    together = train_probes(X, y, 4, [0.0, 0.0], [0.0, 0.0], cols, epochs=3, batch_size=64, lr=0.05)
    alone = train_probes(X, y, 4, [0.0], [0.0], cols[:1], epochs=3, batch_size=64, lr=0.05)
    np.testing.assert_allclose(together.coef[:1], alone.coef, atol=1e-5)
    acc = accuracy(X, y, together)
    assert acc[0] > 0.9 > 0.5 > acc[1]


def test_seeded_and_deterministic():
    X, y = planted()
    a = train_probes(X, y, 4, [1e-3], [0.0], epochs=2, seed=5)
    b = train_probes(X, y, 4, [1e-3], [0.0], epochs=2, seed=5)
    np.testing.assert_array_equal(a.coef, b.coef)


def test_l1_shrinks_noise_weights():
    X, y = planted()
    weak = train_probes(X, y, 4, [0.0], [0.0], epochs=20, batch_size=128, lr=0.05).coef[0]
    strong = train_probes(X, y, 4, [30.0], [0.0], epochs=20, batch_size=128, lr=0.05).coef[0]
    noise = np.setdiff1d(np.arange(30), [4, 11])
    assert np.abs(strong[noise]).mean() < 0.5 * np.abs(weak[noise]).mean()


def test_kept_accuracy_equals_zeroed_matrix():
    X, y = planted()
    w = train_probes(X, y, 4, [0.0, 1e-2], [0.0, 0.0], epochs=2)
    rankings = np.array([np.arange(30), np.arange(30)[::-1]])
    sizes = [2, 5, 30]
    got = kept_accuracy(X, y, w, rankings, [0, 1], sizes)
    for r, g in enumerate([0, 1]):
        for s, size in enumerate(sizes):
            zeroed = np.zeros_like(X)
            keep = rankings[r][:size]
            zeroed[:, keep] = X[:, keep]
            assert got[r, s] == pytest.approx(accuracy(zeroed, y, w.probe(g))[0], abs=1e-3)
    assert got[0, 2] == pytest.approx(accuracy(X, y, w.probe(0))[0], abs=1e-3)  # keeping all: the probe itself


def test_per_probe_labels_and_columns():
    X, y = planted()
    flipped = 3 - y
    cols = np.array([[4, 11, 0], [11, 4, 1]])
    w = train_probes(X, np.stack([y, flipped]), 4, [0.0, 0.0], [0.0, 0.0], cols, epochs=3, batch_size=64, lr=0.05)
    alone = train_probes(X, flipped, 4, [0.0], [0.0], cols[1:], epochs=3, batch_size=64, lr=0.05)
    np.testing.assert_allclose(w.coef[1], alone.coef[0], atol=1e-5)
    assert (w.columns == cols).all()
    assert (accuracy(X, np.stack([y, flipped]), w) > 0.9).all()


def test_missing_class_does_not_break_training_or_scoring():
    X, y = planted()
    w = train_probes(X, y, 6, [0.0], [0.0], epochs=5, lr=0.05)  # classes 4 and 5 never occur
    assert w.coef.shape == (1, 30, 6)
    assert accuracy(X, y, w)[0] > 0.5


def test_streams_from_memory_map(tmp_path):
    X, y = planted()
    path = tmp_path / "x.npy"
    np.save(path, X.astype(np.float16))
    mm = np.load(path, mmap_mode="r")
    a = train_probes(Features(mm), y, 4, [0.0], [0.0], epochs=2)
    b = train_probes(X.astype(np.float16), y, 4, [0.0], [0.0], epochs=2)
    np.testing.assert_array_equal(a.coef, b.coef)


def test_estimator_api():
    X, y = planted()
    labels = np.array(["a", "b", "c", "d"])[y]
    probe = ElasticNetProbe(epochs=5, batch_size=64, lr=0.05)
    with pytest.raises(RuntimeError, match="not fitted"):
        probe.predict(X)
    assert probe.fit(X, labels) is probe
    assert probe.coef_.shape == (30, 4) and probe.classes_.tolist() == ["a", "b", "c", "d"]
    assert probe.score(X, labels) > 0.9


@pytest.mark.parametrize("kwargs, match", [
    (dict(l1=-1.0), "l1 must be >= 0"),
    (dict(epochs=0), "epochs must be > 0"),
])
def test_bad_hyperparameters(kwargs, match):
    X, y = planted(n=50)
    with pytest.raises(InputError, match=match):
        ElasticNetProbe(**kwargs).fit(X, y)


def test_shape_mismatch():
    X, y = planted(n=50)
    with pytest.raises(InputError, match="X has 50 examples but y has shape"):
        train_probes(X, y[:-1], 4, [0.0], [0.0])


def test_nested_masks_equal_separate_column_sets():
    X, y = planted()
    columns = np.array([4, 11, 0, 1])
    mask = np.array([[True, True, True, True], [True, False, False, False]])
    nested = train_probes(X, y, 4, [0.0, 0.0], [0.0, 0.0], columns, mask, epochs=3, lr=0.05)
    full = train_probes(X, y, 4, [0.0], [0.0], columns, epochs=3, lr=0.05)
    np.testing.assert_allclose(nested.coef[:1], full.coef, atol=1e-5)
    assert not nested.coef[1, 1:].any()  # masked weights stay out of the probe
    assert accuracy(X, y, nested)[0] > accuracy(X, y, nested)[1]


def test_hand_written_gradient_equals_autograd():
    """The training step's gradient is the objective's: summed cross-entropy plus λ1‖W‖₁ + λ2‖W‖₂²."""
    import torch

    from lca.method.probe_blocks import Block, layouts

    X, y = planted(n=64)
    columns = np.array([[4, 11, 0, 1, 2, 3, 5, 6, 7, 8], [11, 4, 0, 1, 2, 3, 5, 6, 7, 9]])
    layout, = layouts(columns, None, 2, 30)  # one block: the union of their columns, masked
    l1, l2 = np.array([0.5, 0.0], np.float32), np.array([0.1, 0.3], np.float32)
    generator = torch.Generator().manual_seed(0)
    block = Block(layout, torch.rand(30, 4, generator=generator) - 0.5, torch.rand(4, generator=generator), l1, l2,
                   64, torch.device("cpu"))
    x = torch.as_tensor(X[:, layout.cols])
    block.gradient(x, torch.as_tensor(np.stack([y, 3 - y])))

    W = block.coef[:, :8].reshape(len(layout.cols), 2, 4).clone().requires_grad_()  # (k, G, T)
    b = block.intercept.clone().requires_grad_()
    loss = 0
    for g, target in enumerate([y, 3 - y]):
        logits = x @ W[:, g] + b[g]
        loss = loss + torch.nn.functional.cross_entropy(logits, torch.as_tensor(target), reduction="sum")
        loss = loss + l1[g] * W[:, g].abs().sum() + l2[g] * (W[:, g] ** 2).sum()
    loss.backward()
    keep = torch.as_tensor(layout.keep.T)[:, :, None]  # masked weights get no gradient
    np.testing.assert_allclose(block.coef.grad[:, :8].reshape(-1, 2, 4), W.grad * keep, atol=1e-4)
    np.testing.assert_allclose(block.intercept.grad, b.grad, atol=1e-4)
    assert not block.coef.grad[:, 8:].any()  # the padding columns


def test_programs_split_by_memory_train_the_same_probes(monkeypatch):
    """A grid too big for one program trains in several; each probe ends the same."""
    import lca.method.probe_blocks

    X, y = planted()
    l1, l2 = [0.0, 1e-3, 1e-1, 0.0, 1e-2], [0.0, 1e-2, 0.0, 1e-1, 0.0]
    monkeypatch.setattr(lca.method.probe_blocks, "BLOCK", 2)
    one = train_probes(X, y, 4, l1, l2, epochs=2, batch_size=64)
    monkeypatch.setattr(lca.method.probe_blocks, "PROGRAM_WEIGHTS", 2 * 30 * 4)  # one block of two probes per program
    assert len(lca.method.probe_blocks.programs(lca.method.probe_blocks.layouts(None, None, 5, 30), 30, 4)) == 3
    split = train_probes(X, y, 4, l1, l2, epochs=2, batch_size=64)
    np.testing.assert_allclose(split.coef, one.coef, atol=1e-5)
    np.testing.assert_allclose(split.intercept, one.intercept, atol=1e-5)


def test_progress_reports_tenths_of_epochs():
    X, y = planted()  # 2,000 examples: 32 steps of 64 per epoch
    calls = []
    train_probes(X, y, 4, [0.0], [0.0], epochs=2, batch_size=64, progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert done == sorted(done) and calls[-1] == (2, 2) and 1 in done  # whole epochs are among them
    assert len(calls) >= 2 * 10
