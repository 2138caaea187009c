"""A classifier made by ``lca finetune``: saved whole, its encoder loaded as before, its accuracy under silencing."""
import json

import numpy as np
import pytest

from conftest import app_corpus, fake_run_result
from lca.models.extract import extract_activations, load_model
from lca.models.finetune import MODEL_INFO, FinetuneConfig, finetune, random_model
from lca.causal.classifier import classifier_effects, classifier_predictions, load_classifier

SENTENCES = [["the", "cat", "sat", "on", "the", "mat"], ["dogs", "were", "running", "quickly"]]


@pytest.fixture(scope="module")
def tiny_clf(tiny_bert, tmp_path_factory):
    """A tiny BERT fine-tuned on an easy two-class file (9 held-out sentences): ``(folder, result)``."""
    root = tmp_path_factory.mktemp("clf")
    data = root / "sent.tsv"
    data.write_text("\n".join(f"pos\tthe cat sat on the mat {i}" if i % 2 else f"neg\tdogs were running {i}"
                              for i in range(30)) + "\n")
    config = FinetuneConfig(model=tiny_bert, data=str(data), steps=40, batch_size=8, lr=1e-2, device="cpu",
                            dev_fraction=0.3)
    return str(root / "ft"), finetune(config, root / "ft")


def test_finetune_keeps_the_head_and_the_encoder_loads_as_before(tiny_clf, tmp_path):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    folder, result = tiny_clf
    config = AutoConfig.from_pretrained(folder)
    assert config.architectures == ["BertForSequenceClassification"] and config.id2label == {0: "neg", 1: "pos"}
    info = json.loads(open(f"{folder}/{MODEL_INFO}").read())
    assert info["kind"] == "finetuned" and len(info["dev_indices"]) == result.n_dev == 9
    # the old format: the encoder alone, saved from the same weights
    clf = AutoModelForSequenceClassification.from_pretrained(folder)
    clf.base_model.save_pretrained(tmp_path / "enc")
    load_model(folder, "cpu").tokenizer.save_pretrained(tmp_path / "enc")
    now, before = (extract_activations(load_model(p, "cpu"), SENTENCES) for p in (folder, str(tmp_path / "enc")))
    assert np.array_equal(now, before)


def test_only_a_finetuned_classifier_loads(tiny_clf, tiny_bert, tmp_path):
    assert load_classifier(load_model(tiny_bert, "cpu")) is None
    assert load_classifier(load_model(str(random_model(tiny_bert, tmp_path / "rand")), "cpu")) is None
    clf = load_classifier(load_model(tiny_clf[0], "cpu"))
    assert clf.classes == ("neg", "pos") and len(clf.texts) == 9 and clf.data.endswith("sent.tsv")


def test_silencing_nothing_keeps_the_finetune_accuracy_and_everything_changes_it(tiny_clf):
    folder, result = tiny_clf
    loaded = load_model(folder, "cpu")
    clf = load_classifier(loaded)
    D = loaded.n_layers * loaded.layer_size
    guesses = classifier_predictions(loaded, clf, [[], np.arange(D), []], max_stack=2)
    assert np.array_equal(guesses[0], guesses[2])  # a clean copy stays clean beside a silenced one
    assert np.mean(guesses[0] == clf.labels) == pytest.approx(result.dev_accuracy) == 1.0
    assert len(set(guesses[1].tolist())) == 1 and not np.array_equal(guesses[1], guesses[0])


def test_cli_writes_the_classifier_section(tiny_clf, app_cache, capsys):
    from lca.store.cache import ActivationCache
    from lca.cli.main import main
    from lca.runs.result import RunConfig
    from lca.runs.store import RunStore, run_id

    train, test = app_corpus(40, seed=1, name="tiny/train"), app_corpus(12, seed=2, name="tiny/test")
    result = fake_run_result(load_model(tiny_clf[0], "cpu"), train, test, ActivationCache(app_cache))
    rid = run_id(RunConfig.from_dict(result.config), train, test)
    RunStore(app_cache / "runs").save(rid, result, test, {"dataset": "tiny"}, train=train)
    assert main(["intervene", str(app_cache / "runs" / rid), "--draws", "5", "--heatmap-tags", "0",
                 "--min-steps", "20"]) == 0
    out = capsys.readouterr().out
    data = json.loads((app_cache / "runs" / rid / "intervention.json").read_text())
    c = data["classifier"]
    assert data["cost"]["classifier_conditions"] == 1 + (1 + 5 + 1)
    assert c["n_sentences"] == 9 and c["clean"] == pytest.approx(tiny_clf[1].dev_accuracy)
    s = c["sets"][0]
    assert len(s["random"]["draws"]) == 5 and {"top", "bottom"} <= set(s)
    assert "classifier (" in out and "held-out sentences" in out


def test_effects_compare_random_draws(tiny_clf):
    loaded = load_model(tiny_clf[0], "cpu")

    class Run:  # the fields classifier_effects reads
        layer_size, n_layers, ranking = loaded.layer_size, loaded.n_layers, list(range(loaded.n_layers * loaded.layer_size))

    out = classifier_effects(loaded, load_classifier(loaded), Run, {"all": np.arange(Run.n_layers * Run.layer_size)},
                             draws=2)
    s = out["sets"][0]
    assert s["top"] == s["bottom"] == s["random"]["accuracy"] < out["clean"] and s["random"]["sd"] == 0
    json.dumps(out)
