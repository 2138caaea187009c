"""``python -m lca neurons RUN_DIR`` (lca.cli.neurons) on the tiny run's folder: counts, search by tag, word, pattern
and typed word, the export, and bad input as one line with exit code 2."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from lca.cli.main import main


@pytest.fixture
def run_dir(tiny_run):
    from lca.runs.store import RunStore
    from lca.store.cache import default_cache_dir

    token, rid, result = tiny_run
    return str(RunStore(default_cache_dir() / "runs").path(rid)), result


def test_summary_and_teaching_table(run_dir, capsys):
    folder, result = run_dir
    assert main(["neurons", folder]) == 0
    out = capsys.readouterr().out
    assert f"{result.n_neurons:,} neurons × {len(result.tags)} tags" in out and "computed in" in out
    assert "significant detectors of at least one tag" in out and "Benjamini–Hochberg" in out
    assert "best single-neuron detector of each tag" in out and "top:" in out
    assert main(["neurons", folder, "--tag", "DT", "--top", "4"]) == 0
    out = capsys.readouterr().out
    assert "read from" in out  # kept in the folder by the first call
    assert sum(" DT " in line for line in out.splitlines()) == 4


def test_search_by_word_pattern_and_typed_word(run_dir, capsys):
    folder, _ = run_dir
    assert main(["neurons", folder, "--word", "CAT", "--json", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "words match (cat)" in out
    rows = json.loads(out[out.index("["):])
    assert len(rows) == 3 and {"label", "lca_rank", "auroc", "q", "significant"} <= set(rows[0])
    assert main(["neurons", folder, "--regex", "ing$"]) == 0
    assert "words match" in capsys.readouterr().out
    assert main(["neurons", folder, "--sentence", "the cat sat on the mat .", "--token", "cat", "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert "'cat': the neurons it moves furthest" in out and out.count("  z ") == 5


def test_export_writes_every_pair(run_dir, tmp_path, capsys):
    folder, result = run_dir
    path = tmp_path / "table.csv"
    assert main(["neurons", folder, "--export", str(path)]) == 0
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == result.n_neurons * len(result.tags)
    assert {"neuron", "tag", "auroc", "p", "q_bh", "significant", "lca_rank", "selectivity"} <= set(rows[0])


@pytest.mark.parametrize("args, match", [
    (["--tag", "NOPE"], "tag must be one of"),
    (["--export", "table.txt"], "--export must name a .csv or .json"),
    (["--sentence", "the cat", "--token", "9"], "--token must be a position from 1 to 2"),
    (["--regex", "("], "not a valid regular expression"),
])
def test_bad_input_is_one_line(run_dir, args, match, capsys, tmp_path, monkeypatch):
    folder, _ = run_dir
    monkeypatch.chdir(tmp_path)
    assert main(["neurons", folder, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and len(err.strip().splitlines()) == 1


def test_the_command_is_listed():
    proc = subprocess.run([sys.executable, "-m", "lca", "neurons", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--regex" in proc.stdout and "--export" in proc.stdout
