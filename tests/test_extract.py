import numpy as np
import pytest
import torch

import tiny_models
from lca._validation import InputError
from lca.models.extract import _windows, extract_activations, load_model

SENTENCES = [["The", "unbelievable", "cats", "sat", "."], ["walking"], ["Paris", "in", "1990", "was", "considered", "biggest"]]
KINDS = ["bert", "roberta", "gpt2", "xlnet"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    return {kind: load_model(str(tiny_models.build(kind, root)), device="cpu") for kind in KINDS}


def reference(loaded, words, aggregation):
    """One sentence alone, no padding: fold its subwords by hand."""
    enc = loaded.tokenizer([words], is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        states = loaded.model(**enc, output_hidden_states=True).hidden_states
    stacked = torch.cat(states, dim=-1)[0].numpy()  # (tokens, D)
    ids = enc.word_ids(0)
    rows = []
    for w in range(len(words)):
        pos = [i for i, v in enumerate(ids) if v == w]
        pick = {"first": stacked[pos[0]], "last": stacked[pos[-1]], "average": stacked[pos].mean(axis=0)}
        rows.append(pick[aggregation])
    return np.stack(rows)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("aggregation", ["first", "last", "average"])
def test_alignment_matches_hand_folding(models, kind, aggregation):
    loaded = models[kind]
    out = extract_activations(loaded, SENTENCES, aggregation)
    assert out.shape == (12, loaded.n_layers * loaded.layer_size) and out.dtype == np.float16
    start = 0
    for words in SENTENCES:  # batched with padding (left padding for XLNet) must equal each sentence alone
        np.testing.assert_allclose(out[start:start + len(words)], reference(loaded, words, aggregation), atol=2e-2)
        start += len(words)


def test_subwords_really_differ_by_aggregation(models):
    loaded = models["bert"]
    first = extract_activations(loaded, SENTENCES, "first")
    last = extract_activations(loaded, SENTENCES, "last")
    assert np.abs(first[1] - last[1]).max() > 1e-3  # "unbelievable" has several word pieces
    np.testing.assert_array_equal(first[0], last[0])  # "the" has one


def test_prefix_space_for_byte_level_tokenizers(models):
    enc = models["roberta"].tokenizer([["the", "cat"]], is_split_into_words=True)
    assert enc.tokens(0)[1].startswith("Ġ")


def test_long_sentence_is_windowed_not_truncated(models):
    loaded = models["bert"]  # 64 positions
    words = (["the", "cats", "walking", "unbelievable"] * 40)[:150]
    out = np.full((150, loaded.n_layers * loaded.layer_size), np.nan, dtype=np.float16)
    extract_activations(loaded, [words], "last", out=out)
    assert not np.isnan(out).any()
    # A word in the middle of the first window sees the same context as when that window runs alone.
    first_window = words[:20]
    alone = extract_activations(loaded, [first_window], "last")
    np.testing.assert_allclose(out[5], alone[5], atol=2e-2)


def test_windows_cover_every_word_within_budget():
    counts = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])
    windows = _windows(counts, 10)
    assert windows[0][0] == 0 and windows[-1][1] == len(counts)
    for (s, e), (s2, _) in zip(windows, windows[1:]):
        assert s2 < e or e - s == 1  # overlap, unless a window holds a single word
    assert all(counts[s:e].sum() <= 10 or e - s == 1 for s, e in windows)


def test_progress_reports_all_words(models):
    seen = []
    extract_activations(models["gpt2"], SENTENCES, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (12, 12)


def test_empty_input_and_bad_aggregation(models):
    with pytest.raises(InputError, match="non-empty"):
        extract_activations(models["bert"], [[]])
    with pytest.raises(InputError, match="aggregation must be one of"):
        extract_activations(models["bert"], SENTENCES, "max")


def test_unloadable_model_suggests_a_local_path(tmp_path):
    with pytest.raises(InputError, match="nothing-here': no such folder"):
        load_model(str(tmp_path / "nothing-here"), device="cpu")
    (tmp_path / "empty").mkdir()  # a folder without config.json: transformers' own error, with the hint
    with pytest.raises(InputError, match="could not load model .*local folder"):
        load_model(str(tmp_path / "empty"), device="cpu")
    with pytest.raises(InputError, match="not in the Hugging Face cache, and the hub is off .* give a local folder"):
        load_model("no-such-org/no-such-model-xyz", device="cpu")


def test_cuda_refused_without_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InputError, match="no CUDA GPU"):
        load_model(device="cuda")


def test_a_run_config_loads_the_model_it_names(tmp_path):
    """load_model is the one entry: a RunConfig, or a result's config dict, gives the same model settings."""
    from lca.models.loading import model_settings, pick_device
    from lca.runs.result import RunConfig

    config = RunConfig(device="cpu")
    assert model_settings(config) == model_settings(config.to_dict()) == ("all-MiniLM-L6-v2", "cpu", None, False)
    assert pick_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    loaded = load_model(config)
    assert (loaded.device.type, loaded.n_layers) == ("cpu", 7)
    with pytest.raises(InputError, match="nothing-here': no such folder"):
        load_model({"model": str(tmp_path / "nothing-here"), "device": "cpu"})


def test_bundled_model_shape():
    loaded = load_model(device="cpu")
    assert (loaded.n_layers, loaded.layer_size, loaded.max_tokens) == (7, 384, 512)


def test_streamed_batches_cover_every_word_once(models):
    from lca.models.extract import iter_activations

    loaded = models["gpt2"]
    full = extract_activations(loaded, SENTENCES, "last")
    seen = np.zeros(12, dtype=int)
    for rows, values in iter_activations(loaded, SENTENCES, "last", max_batch_tokens=4):  # one sentence a batch
        seen[rows] += 1
        np.testing.assert_allclose(values.numpy(), full[rows].astype(np.float32), atol=2e-2)
    assert seen.tolist() == [1] * 12


def test_unknown_site_is_refused(models):
    with pytest.raises(InputError, match="site must be one of 'hidden', 'mlp'"):
        extract_activations(models["bert"], SENTENCES, site="attention")
