import copy
import dataclasses
from pathlib import Path

import pytest
import numpy as np

from lca.store.cache import ActivationCache, activation_key


def test_key_is_pinned():
    # Changing what goes into the key invalidates every user's cache: do it on purpose only.
    key = activation_key("hub:bert-base-cased@main", "0" * 64, "last", version="0.1.0")
    assert key == PINNED


def test_key_covers_every_input():
    base = dict(model="m", corpus_hash="c", aggregation="last", dtype="float16", version="1")
    keys = {activation_key(**base)}
    for name, other in [("model", "m2"), ("corpus_hash", "c2"), ("aggregation", "first"), ("dtype", "float32"),
                        ("version", "2"), ("compute", "float16")]:
        keys.add(activation_key(**{**base, name: other}))
    assert len(keys) == 7


def test_a_gpu_and_a_cpu_extraction_never_share_an_entry(tiny_bert, tmp_path):
    import torch

    from lca.data.corpus import Corpus
    from lca.models.extract import load_model
    from lca.runs.pipeline import corpus_activations

    corpus = Corpus((("the", "cat"),), {"xpos": (("DT", "NN"),)}, name="c")
    cpu = load_model(tiny_bert, "cpu")
    half = dataclasses.replace(cpu, model=copy.deepcopy(cpu.model).half(), dtype=torch.float16)
    cache = ActivationCache(tmp_path)
    _, key_cpu, _ = corpus_activations(cpu, corpus, cache=cache)
    try:
        _, key_half, hit = corpus_activations(half, corpus, cache=cache)
    except RuntimeError:  # a CPU without float16 kernels: the key alone is the point
        pytest.skip("no float16 kernels on this CPU")
    assert key_half != key_cpu and not hit


def test_second_call_is_served_from_cache(tmp_path):
    cache = ActivationCache(tmp_path)
    calls = []

    def fill(out):
        calls.append(1)
        out[:] = np.arange(12).reshape(3, 4)

    a, hit_a = cache.get_or_compute("k", (3, 4), fill)
    b, hit_b = cache.get_or_compute("k", (3, 4), fill)
    assert (hit_a, hit_b, len(calls)) == (False, True, 1)
    assert isinstance(b, np.memmap) and b.dtype == np.float16
    np.testing.assert_array_equal(a, b)
    assert ActivationCache(tmp_path).get("k") is not None  # survives a new process


def test_corrupt_entry_is_recomputed_not_served(tmp_path):
    cache = ActivationCache(tmp_path)
    cache.put("k", (3, 4), lambda out: out.fill(1))
    path = cache.directory / "k.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert cache.get("k") is None and not path.exists()
    value, hit = cache.get_or_compute("k", (3, 4), lambda out: out.fill(2))
    assert not hit and (value == 2).all()


def test_failed_fill_leaves_nothing(tmp_path):
    cache = ActivationCache(tmp_path)

    def broken(out):
        raise RuntimeError("boom")

    try:
        cache.put("k", (2, 2), broken)
    except RuntimeError:
        pass
    assert cache.get("k") is None
    assert not list(cache.directory.glob("*.npy"))


PINNED = "fe9e6f85eed983314d2bae312aa69ea364e3881675e65bc2fe83579787ff23cf"


def test_refused_before_start_when_the_disk_is_too_small(tmp_path, monkeypatch):
    import shutil

    import pytest

    from lca._validation import InputError

    cache = ActivationCache(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    called = []
    with pytest.raises(InputError, match="the activations need .* GB of disk"):
        cache.put("k", (1000, 1000), lambda out: called.append(1))
    assert not called


def test_default_cache_dir_expands_the_home_folder_and_environment_variables(monkeypatch, tmp_path):
    from lca.store.cache import default_cache_dir

    monkeypatch.setenv("LCA_TEST_ROOT", str(tmp_path))
    monkeypatch.setenv("LCA_CACHE_DIR", "$LCA_TEST_ROOT/lca")
    assert default_cache_dir() == tmp_path / "lca"
    monkeypatch.setenv("LCA_CACHE_DIR", "~/lca-cache")
    assert default_cache_dir() == Path.home() / "lca-cache"
    monkeypatch.delenv("LCA_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "lca"
