"""The command line: bad input ends with one readable line and a non-zero exit code."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lca.cli import main

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def neurox(tmp_path):
    text = write(tmp_path / "train.txt", "the cat sat\na dog ran\n")
    labels = write(tmp_path / "train.lbl", "DT NN VBD\nDT NN VBD\n")
    return f"{text},{labels}"


@pytest.mark.parametrize("make_args, match", [
    (lambda t, nx: ["--train", write(t / "x.txt", "a b c\n") + "," + write(t / "x.lbl", "DT NN\n"), "--test", nx,
                    "--format", "neurox"], r"x\.lbl, line 1: 2 tags for 3 words"),
    (lambda t, nx: ["--train", write(t / "e.conllu", "\n\n"), "--test", write(t / "f.conllu", "\n")], "is empty"),
    (lambda t, nx: ["--train", str(t / "missing.conllu"), "--test", str(t / "missing.conllu")], "no such file"),
    (lambda t, nx: ["--train", nx, "--test", write(t / "u.txt", "the cat\n") + "," + write(t / "u.lbl", "DT ZZ\n"),
                    "--format", "neurox"], "test tags never seen in training: 'ZZ'"),
    (lambda t, nx: ["--train", write(t / "c.tsv", "a\tDT\n"), "--test", write(t / "d.tsv", "a\tDT\n"),
                    "--format", "columns", "--label-column", "7"], "column"),
    (lambda t, nx: ["--train", nx, "--test", nx, "--format", "neurox", "--model", str(t / "no-model")],
     "could not load model .* local folder"),
    (lambda t, nx: ["--dataset", "nope"], "unknown dataset 'nope'"),
    (lambda t, nx: ["--train", nx], "give both --train and --test"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, neurox, capsys, make_args, match):
    args = ["run", "--out", str(tmp_path / "out"), "--device", "cpu", "--cache-dir", str(tmp_path / "c")]
    code = main(args + make_args(tmp_path, neurox))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert re.search("error: .*" + match, err), err
    assert not (tmp_path / "out" / "result.json").exists()


def test_unknown_task_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", "x", "--task", "nope"])
    assert exit_info.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


def test_no_traceback_from_a_real_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lca", "run", "--train", str(tmp_path / "a"), "--test",
                           str(tmp_path / "a"), "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "no such file" in proc.stderr


def test_datasets_lists_the_registry(capsys):
    assert main(["datasets", "--json"]) == 0
    names = {row["name"] for row in json.loads(capsys.readouterr().out)}
    assert {"demo", "ud-english-ewt", "conll2000", "pmb-en", "ud-pud-fr"} <= names
