"""The command line: bad input ends with one readable line and a non-zero exit code."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lca.cli.main import main

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
                    "--format", "neurox"], r"1 words of the test data \(u.txt\) have tags never seen in the training "
                                           r"data \(train.txt\): 'ZZ' \(1 words\); .* --drop-unseen"),
    (lambda t, nx: ["--train", write(t / "c.tsv", "a\tDT\n"), "--test", write(t / "d.tsv", "a\tDT\n"),
                    "--format", "columns", "--label-column", "7"], "column"),
    (lambda t, nx: ["--train", nx, "--test", nx, "--format", "neurox", "--model", str(t / "no-model")],
     "model '.*no-model': no such folder"),
    (lambda t, nx: ["--train", str(t), "--test", nx], r"test_bad_input.* is a directory; give the file inside it"),
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


def test_unknown_task_is_one_line_naming_the_valid_tasks(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--out", "x", "--task", "nope"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert "invalid choice: 'nope'" in err and "'xpos', 'upos', 'deprel'" in err


def test_help_shows_defaults_and_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for shown in ("--mode {paper,quick}", "(default: xpos)", "(default: last)", "examples:",
                  "python -m lca run --dataset demo --task xpos --out run1"):
        assert shown in out, shown
    for command in ("compare", "finetune", "datasets"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "example" in capsys.readouterr().out


def test_an_unreachable_hub_fails_at_once_with_a_local_path_suggested(tmp_path, neurox, monkeypatch, capsys):
    import huggingface_hub

    def no_network(*args, **kwargs):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "model_info", no_network)
    monkeypatch.setattr("transformers.AutoConfig.from_pretrained", lambda *a, **k: pytest.fail("went to the hub"))
    code = main(["run", "--train", neurox, "--test", neurox, "--format", "neurox", "--out", str(tmp_path / "o"),
                 "--model", "does-not-exist/xyz", "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and re.search(r"error: cannot reach the Hugging Face Hub to download 'does-not-exist/xyz' "
                                   r"\(\[Errno -2\] Name or service not known\); give a local folder", err), err


def test_offline_the_missing_model_error_stands_on_its_own_line(tmp_path, neurox):
    proc = subprocess.run([sys.executable, "-m", "lca", "run", "--train", neurox, "--test", neurox, "--format",
                           "neurox", "--model", "does-not-exist/xyz", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    pieces = [p for p in re.split(r"[\r\n]", proc.stderr) if p.strip()]
    assert pieces[-1].startswith("error: model 'does-not-exist/xyz' is not a local folder and not in the Hugging Face "
                                 "cache, and the hub is off (HF_HUB_OFFLINE=1)"), proc.stderr
    assert "Retrying" not in proc.stderr


def test_a_sampled_or_registry_run_drops_unseen_test_tags_and_an_explicit_file_does_not(tmp_path, neurox):
    from lca.cli.main import _corpora

    def parsed(*extra):
        import argparse
        args = dict(train=None, test=None, dataset=None, max_sentences=None, data_dir=None, seed=0, format="neurox",
                    task="xpos", word_column="0", label_column=None)
        for key, value in zip(extra[::2], extra[1::2]):
            args[key] = value
        return argparse.Namespace(**args)

    assert _corpora(parsed("dataset", "demo"))[2] is True
    assert _corpora(parsed("train", neurox, "test", neurox))[2] is False
    assert _corpora(parsed("train", neurox, "test", neurox, "max_sentences", 1))[2] is True


def test_dropped_words_are_reported(tmp_path, neurox, tiny_bert, capsys):
    test = write(tmp_path / "u.txt", "the cat sat\n") + "," + write(tmp_path / "u.lbl", "DT ZZ VBD\n")
    code = main(["run", "--train", neurox, "--test", test, "--format", "neurox", "--model", tiny_bert,
                 "--drop-unseen", "--lambdas", "0,0", "--min-steps", "0", "--epochs", "1", "--random-draws", "2",
                 "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"), "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and "dropped 1 test words whose tags never occur in training: ZZ 1" in out, out


def test_no_traceback_from_a_real_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lca", "run", "--train", str(tmp_path / "a"), "--test",
                           str(tmp_path / "a"), "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "no such file" in proc.stderr


def test_datasets_lists_the_registry(capsys):
    assert main(["datasets", "--json"]) == 0
    names = {row["name"] for row in json.loads(capsys.readouterr().out)}
    assert {"demo", "ud-english-ewt", "conll2000", "pmb-en", "ud-pud-fr"} <= names
