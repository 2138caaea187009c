"""GGUF models: a tiny random Llama written as a GGUF file (tests/tiny_gguf.py) converts once into a Hugging Face
folder that gives the source model's activations, wherever a model name goes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lca._validation import InputError
from lca.data.corpus import Corpus

CORPUS = Corpus((("the", "cat", "sat", "on", "the", "mat"), ("in", "1990", "people", "travelled", "to", "paris", ".")),
                {"xpos": (("DT", "NN", "VBD", "IN", "DT", "NN"), ("IN", "CD", "NNS", "VBD", "TO", "NNP", "."))},
                name="c")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import tiny_gguf

    return tiny_gguf.build(tmp_path_factory.mktemp("gguf"))


@pytest.fixture
def models_root(tmp_path, monkeypatch):
    monkeypatch.setenv("LCA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def test_a_gguf_file_loads_with_the_source_models_activations(tiny, models_root):
    from lca.models.extract import extract_activations
    from lca.models.loading import load_model

    file, source = tiny
    expected = load_model(str(source), "cpu")
    for name in (str(file), str(file.parent)):  # the file, or the folder that holds it
        loaded = load_model(name, "cpu")
        assert loaded.name == name and loaded.path.startswith(str(models_root / "gguf-"))
        assert (loaded.n_layers, loaded.layer_size) == (expected.n_layers, expected.layer_size)
        for aggregation in ("last", "first"):
            got = extract_activations(loaded, CORPUS.sentences, aggregation)
            want = extract_activations(expected, CORPUS.sentences, aggregation)
            np.testing.assert_array_equal(got, want)
    assert len(list(models_root.glob("gguf-*"))) == 1  # converted once


def test_conversion_is_cached_by_digest_and_records_what_it_is(tiny, models_root, tmp_path, capsys):
    import shutil

    from lca.models.gguf import convert_gguf
    from lca.models.local import local_models, named_model

    file, _ = tiny
    folder = convert_gguf(file)
    assert "converting tiny-llama.F32.gguf" in capsys.readouterr().err
    copy = tmp_path / "elsewhere" / "renamed.gguf"
    copy.parent.mkdir()
    shutil.copy(file, copy)
    assert convert_gguf(copy, alias="tiny", info={"licence": "MIT"}) == folder  # same bytes: same folder
    assert "converting" not in capsys.readouterr().err
    info = json.loads((folder / "lca_model.json").read_text())
    assert info["kind"] == "gguf" and info["architecture"] == "llama" and info["quantization"] == "ALL_F32"
    assert info["alias"] == "tiny" and info["licence"] == "MIT" and info["parameters"] > 0
    assert [m["path"] for m in local_models()] == [str(folder)] and named_model("tiny") == folder
    assert not list(models_root.glob("*.partial"))


def test_a_named_model_loads_by_its_name_and_its_cache_key_ignores_its_info(tiny, models_root):
    from lca.models.gguf import convert_gguf
    from lca.models.loading import load_model, model_path
    from lca.store.cache import model_identity

    file, _ = tiny
    folder = convert_gguf(file, alias="tiny")
    assert model_path("tiny") == str(folder)
    before = model_identity("tiny", str(folder))
    convert_gguf(file, alias="tiny", info={"licence": "changed"})
    assert model_identity("tiny", str(folder)) == before
    assert load_model("tiny", "cpu").path == str(folder)


def test_bad_gguf_names_are_refused_readably(tmp_path, models_root):
    from lca.models.loading import model_path

    with pytest.raises(InputError, match="no such GGUF file"):
        model_path(str(tmp_path / "missing.gguf"))
    (tmp_path / "two").mkdir()
    for n in ("a.gguf", "b.gguf"):
        (tmp_path / "two" / n).write_bytes(b"GGUF")
    with pytest.raises(InputError, match="holds 2 GGUF files"):
        model_path(str(tmp_path / "two"))
    (tmp_path / "bad.gguf").write_bytes(b"not a gguf file")
    with pytest.raises(InputError, match="could not read the GGUF file"):
        model_path(str(tmp_path / "bad.gguf"))
    assert not list(models_root.glob("gguf-*"))


def test_lca_models_lists_what_is_installed_and_refuses_unknown_names(tiny, models_root, capsys):
    from lca.cli.main import main
    from lca.models.gguf import convert_gguf

    convert_gguf(tiny[0], alias="tiny", info={"licence": "MIT", "title": "a tiny llama"})
    capsys.readouterr()
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "all-MiniLM-L6-v2  bundled" in out and "Apache-2.0" in out
    line = next(l for l in out.splitlines() if l.startswith("tiny "))
    assert "gguf" in line and "MB · MIT" in line and "a tiny llama" in line
    assert "not installed: smollm2" in out and "python -m lca models add smollm2" in out
    assert main(["models", "add", "nonesuch"]) == 2
    assert "no model 'nonesuch' in the catalogue" in capsys.readouterr().err
