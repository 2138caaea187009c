"""The activation cache under faults: killed writers, concurrent writers, damaged files, a full disk;
and `python -m lca cache`."""
from __future__ import annotations

import errno
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lca._validation import InputError
from lca.store.cache import ActivationCache
from lca.cli.main import main

ROOT = Path(__file__).resolve().parents[1]

WRITER = """
import sys, time
from lca.store.cache import ActivationCache
cache = ActivationCache(sys.argv[1])
def fill(out):
    out[:10] = 1
    print("writing", flush=True)
    time.sleep(60)
cache.get_or_compute("k" * 64, (1000, 50), fill)
"""


def test_a_killed_writer_leaves_no_partial_file_after_the_next_start(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "writing"
    folder = tmp_path / "activations"
    assert len(list(folder.glob("*.partial.npy"))) == 1  # the writer's, while it runs
    assert ActivationCache(tmp_path).clean_partials() == []  # a live writer's file is kept
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cache = ActivationCache(tmp_path)  # a new start cleans what the dead writer left
    assert not list(folder.glob("*.partial.npy"))
    value, hit = cache.get_or_compute("k" * 64, (1000, 50), lambda out: out.fill(3))
    assert not hit and (value == 3).all()


def _extract(folder: str, marks: str, results) -> None:
    cache = ActivationCache(folder)

    def fill(out):
        with open(marks, "a") as handle:
            handle.write("x")
        time.sleep(1.0)  # long enough for the other process to arrive while this one writes
        out[:] = np.arange(out.size, dtype=np.float16).reshape(out.shape)

    array, hit = cache.get_or_compute("c" * 64, (20, 5), fill)
    results.put((hit, array.sum().item()))


def test_two_processes_extracting_one_key_make_one_entry_and_both_read_it_whole(tmp_path):
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    marks = tmp_path / "fills"
    procs = [ctx.Process(target=_extract, args=(str(tmp_path), str(marks), results)) for _ in range(2)]
    for proc in procs:
        proc.start()
    outcomes = sorted(results.get(timeout=60) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    assert marks.read_text() == "x"  # computed once
    expected = float(np.arange(100, dtype=np.float16).sum())
    assert outcomes == [(False, expected), (True, expected)]
    assert len(list((tmp_path / "activations").glob("*.npy"))) == 1


def test_a_damaged_entry_is_recomputed_and_said(tmp_path, tiny_bert):
    from lca.data.corpus import Corpus
    from lca.models.extract import load_model
    from lca.runs.pipeline import corpus_activations

    corpus = Corpus((("the", "cat", "sat"),), {"xpos": (("DT", "NN", "VBD"),)}, name="tiny")
    loaded = load_model(tiny_bert, "cpu")
    cache = ActivationCache(tmp_path)
    clean, key, _ = corpus_activations(loaded, corpus, cache=cache)
    clean = np.array(clean)
    path = cache.directory / f"{key}.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="recomputed the activations of tiny: the cached file was damaged"):
        again, _, hit = corpus_activations(loaded, corpus, cache=cache)
    assert not hit and key in cache.repaired
    np.testing.assert_array_equal(again, clean)


@pytest.mark.parametrize("where", ["reserve", "fill"])
def test_a_full_disk_fails_the_write_clearly_and_leaves_the_cache_consistent(tmp_path, monkeypatch, where):
    cache = ActivationCache(tmp_path)
    cache.put("a" * 64, (4, 4), lambda out: out.fill(1))

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "reserve":
        monkeypatch.setattr(os, "posix_fallocate", full)
        fill = lambda out: out.fill(2)  # noqa: E731
    else:
        fill = full
    with pytest.raises(InputError, match=r"the disk of the activation cache .* is full: .*LCA_CACHE_DIR"):
        cache.get_or_compute("b" * 64, (4, 4), fill)
    monkeypatch.undo()
    assert sorted(p.name for p in cache.directory.glob("*.npy")) == ["a" * 64 + ".npy"]
    assert cache.get("b" * 64) is None and (cache.get("a" * 64) == 1).all()
    value, hit = cache.get_or_compute("b" * 64, (4, 4), lambda out: out.fill(5))
    assert not hit and (value == 5).all()


def test_the_cache_command_lists_verifies_and_clears(tmp_path, capsys):
    cache = ActivationCache(tmp_path)
    cache.put("a" * 64, (100, 10), lambda out: out.fill(1), {"model": "m", "corpus": "c"})
    cache.put("b" * 64, (10, 10), lambda out: out.fill(1))
    assert main(["cache", "list", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("a" * 12) and "100×10" in out[0] and "m · c" in out[0]
    assert out[-1].startswith("2 entries")
    path = cache.directory / ("b" * 64 + ".npy")
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    assert main(["cache", "verify", "--cache-dir", str(tmp_path)]) == 1
    assert "1 of 2 entries intact; 1 damaged ones removed" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 2
    assert "needs --all" in capsys.readouterr().err
    assert main(["cache", "clear", "--key", "aaaa", "--cache-dir", str(tmp_path)]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert ActivationCache(tmp_path).entries() == []
