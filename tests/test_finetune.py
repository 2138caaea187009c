"""Fine-tuning and random-weights controls on a tiny random BERT (a few steps, seconds)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from lca._validation import InputError
from lca.cli.main import main
from lca.models.extract import load_model
from lca.models.finetune import MODEL_INFO, SENTENCE_POLARITY, FinetuneConfig, finetune, load_sentences, local_models, random_model, read_labelled


@pytest.fixture
def sentences(tmp_path):
    path = tmp_path / "sent.tsv"
    lines = [f"pos\tthe cat sat on the mat {i}" if i % 2 else f"neg\tdogs were running {i}" for i in range(30)]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("text, match", [
    ("pos\tgood\nno tab here\n", r"bad\.tsv, line 2: expected 'label<TAB>sentence'"),
    ("pos\tgood\n\tno label\n", r"line 2: expected"),
    ("pos\tgood\npos\tfine\n", "at least 2 labels; found \\['pos'\\]"),
    (b"pos\tgood\nneg\tbad \xff\n", r"line 2: not valid UTF-8"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, match):
    path = tmp_path / "bad.tsv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError, match=match):
        read_labelled(path)


def test_unknown_source_is_explained():
    with pytest.raises(InputError, match="sentence-polarity.*or a file"):
        load_sentences("/no/such/file.tsv")


def test_sentence_polarity_reads_in_place(shared_data, monkeypatch):
    monkeypatch.setenv("LCA_DATA_DIR", str(shared_data))
    data = load_sentences(SENTENCE_POLARITY)
    assert data.classes == ("negative", "positive") and len(data.texts) == 10_662
    assert data.labels.count("positive") == 5331


@pytest.mark.parametrize("kwargs, match", [({"steps": 0}, "steps must be > 0"), ({"device": "tpu"}, "device must be"),
                                           ({"dev_fraction": 1.5}, "dev_fraction")])
def test_config_is_validated(kwargs, match):
    with pytest.raises(InputError, match=match):
        FinetuneConfig(**kwargs)


def test_finetune_saves_a_loadable_encoder(tiny_bert, sentences, tmp_path):
    seen = []
    config = FinetuneConfig(model=tiny_bert, data=str(sentences), steps=4, batch_size=4, lr=1e-3, device="cpu")
    result = finetune(config, tmp_path / "ft", progress=lambda step, total, loss: seen.append((step, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)] and len(result.losses) == 4
    assert result.n_dev == 3 and result.n_train == 27 and 0 <= result.dev_accuracy <= 1
    loaded = load_model(str(tmp_path / "ft"), "cpu")
    base = load_model(tiny_bert, "cpu")
    assert (loaded.n_layers, loaded.layer_size) == (base.n_layers, base.layer_size)
    changed = [not torch.equal(a, b) for a, b in zip(loaded.model.parameters(), base.model.parameters())]
    assert any(changed)  # the encoder was trained, not just copied
    info = json.loads((tmp_path / "ft" / MODEL_INFO).read_text())
    assert info["kind"] == "finetuned" and info["classes"] == ["neg", "pos"]


def test_failed_progress_saves_nothing(tiny_bert, sentences, tmp_path):
    def stop(step, total, loss):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune(FinetuneConfig(model=tiny_bert, data=str(sentences), steps=3, device="cpu"), tmp_path / "x", stop)
    assert not (tmp_path / "x").exists()


def test_random_model_is_seeded_and_listed(tiny_bert, tmp_path):
    a, b = random_model(tiny_bert, tmp_path / "a", seed=1), random_model(tiny_bert, tmp_path / "b", seed=1)
    ma, mb, base = (load_model(str(p), "cpu").model for p in (a, b, tiny_bert))
    wa, wb, wbase = (next(m.parameters()).detach().numpy() for m in (ma, mb, base))
    assert np.array_equal(wa, wb) and not np.array_equal(wa, wbase)
    listed = local_models(tmp_path)
    assert {e["kind"] for e in listed} == {"random"} and {e["path"] for e in listed} == {str(a), str(b)}


def test_finetune_command(tiny_bert, sentences, tmp_path, capsys):
    code = main(["finetune", "--model", tiny_bert, "--data", str(sentences), "--steps", "2", "--batch-size", "4",
                 "--device", "cpu", "--out", str(tmp_path / "ft")])
    out = capsys.readouterr().out
    assert code == 0 and "dev accuracy" in out and (tmp_path / "ft" / "config.json").is_file()
    assert main(["finetune", "--random-init", "--model", tiny_bert, "--out", str(tmp_path / "r")]) == 0
    assert json.loads((tmp_path / "r" / MODEL_INFO).read_text())["kind"] == "random"


@pytest.mark.parametrize("args, match", [
    (["--data", "nope.tsv"], "sentence-polarity.*or a file"),
    (["--steps", "0"], "steps must be > 0"),
    (["--model", "/no/model", "--random-init"], "model '/no/model': no such folder"),
])
def test_finetune_command_errors(tmp_path, capsys, args, match):
    code = main(["finetune", "--out", str(tmp_path / "o"), "--device", "cpu"] + args)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and re.search("error: .*" + match, err), err
