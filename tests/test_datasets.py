"""The dataset registry: resolution from local folders, downloads from a loopback server, sampling."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import zipfile

import pytest

from lca._validation import InputError
from lca.data.corpus import Corpus
from lca.data.datasets import DATASETS, DEMO_DIR, DatasetSpec, SplitSpec, dataset_path, list_datasets, load_dataset, sample_sentences

TINY = b"1\tHello\thello\tINTJ\tUH\t_\t0\troot\t_\t_\n2\tworld\tworld\tNOUN\tNN\t_\t1\tvocative\t_\t_\n\n"
SHA = hashlib.sha256(TINY).hexdigest()

SENTENCES = {  # dataset -> split -> number of sentences in ../shared/data
    "ud-english-ewt": {"train": 12544, "dev": 2001, "test": 2077},
    "conll2000": {"train": 8936, "test": 2012},
    "pmb-en": {"train": 7745, "dev": 1174, "test": 1053, "eval": 841},
    "pmb-de": {"train": 1741, "dev": 559, "test": 547},
    "ud-pud-en": {"test": 1000}, "ud-pud-de": {"test": 1000}, "ud-pud-fr": {"test": 1000},
    "ud-gsd-de": {"dev": 799, "test": 977}, "ud-gsd-fr": {"dev": 1476, "test": 416},
}


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No user environment: an empty cache under tmp_path, no data folder, no mirror."""
    monkeypatch.setenv("LCA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LCA_DATA_DIR", raising=False)
    monkeypatch.delenv("LCA_DATASET_MIRROR", raising=False)


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 serving ``server.files`` (path -> bytes), counting requests."""
    files: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.files, httpd.hits, httpd.url = files, hits, f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def tiny_spec(monkeypatch, url, sha=SHA, member=None) -> str:
    spec = DatasetSpec("tiny", "two words", "English", "conllu", ("upos",), "CC0", url,
                       {"test": SplitSpec("tiny/tiny.conllu", sha, url, member)})
    monkeypatch.setitem(DATASETS, "tiny", spec)
    return "tiny"


def leftovers(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())


# --- the registry ---------------------------------------------------------------------------

def test_registry_entries_are_complete():
    for name, spec in DATASETS.items():
        assert spec.name == name and spec.splits and spec.licence and spec.source_page and spec.language
        assert spec.format in ("conllu", "columns", "conll2000", "pmb")
        json.dumps(spec.to_dict())
        for split, entry in spec.splits.items():
            if entry.bundled:
                continue
            assert len(entry.sha256) == 64, (name, split)
            assert entry.url is None or entry.url.startswith("https://"), (name, split)
    assert {"demo", "ud-english-ewt", "conll2000", "pmb-en", "pmb-de", "ud-pud-en", "ud-pud-de", "ud-pud-fr",
            "ud-gsd-de", "ud-gsd-fr"} <= set(DATASETS)
    assert DATASETS["ud-english-ewt"].splits["train"].url is None  # the local reconstruction


def test_to_dict_is_plain_data():
    d = DATASETS["ud-pud-en"].to_dict()
    assert d["tasks"][0] == "xpos" and d["splits"]["test"]["path"] == "ud_english_pud/en_pud-ud-test.conllu"
    assert "15d613d8" in DATASETS["ud-english-ewt"].to_dict()["splits"]["dev"]["url"]


@pytest.mark.parametrize("name, split, match", [
    ("ud-klingon", "test", r"unknown dataset 'ud-klingon'; the datasets are demo, ud-english-ewt, "),
    ("ud-pud-en", "train", r"dataset 'ud-pud-en' has no split 'train'; its splits are test"),
])
def test_unknown_name_or_split(name, split, match):
    with pytest.raises(InputError, match=match):
        load_dataset(name, split)


def test_registry_checksums_match_the_shared_files(shared_data):
    for name, spec in DATASETS.items():
        for split, entry in spec.splits.items():
            if not entry.bundled:
                digest = hashlib.sha256((shared_data / entry.path).read_bytes()).hexdigest()
                assert digest == entry.sha256, (name, split)


@pytest.mark.parametrize("name", list(SENTENCES))
def test_every_dataset_loads_from_shared_data(shared_data, name):
    for split, expected in SENTENCES[name].items():
        corpus = load_dataset(name, split, data_dir=shared_data)
        assert len(corpus.sentences) == expected, (name, split)
        assert corpus.name == f"{name}/{split}"
        assert set(DATASETS[name].tasks) <= set(corpus.available_tasks()), (name, split)


def test_demo_dataset():
    if not (DEMO_DIR / "train.tsv").is_file():
        pytest.skip("assets/demo not written yet")
    for split in ("train", "test"):
        corpus = load_dataset("demo", split)
        assert {"xpos", "upos", "sem", "chunk"} <= set(corpus.columns)


# --- resolution -----------------------------------------------------------------------------

def test_data_dir_argument_wins_over_env(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("LCA_DATA_DIR", str(tmp_path / "elsewhere"))
    assert dataset_path("ud-pud-en", "test", data_dir=shared_data) == shared_data / "ud_english_pud/en_pud-ud-test.conllu"
    monkeypatch.setenv("LCA_DATA_DIR", str(shared_data))
    assert dataset_path("ud-pud-en", "test") == shared_data / "ud_english_pud/en_pud-ud-test.conllu"


def test_absent_file_without_download(tmp_path):
    with pytest.raises(InputError, match=r"ud-pud-en/test: ud_english_pud/en_pud-ud-test.conllu is not in .*"
                                         r"allow download=True to fetch https://raw.githubusercontent.com/"):
        dataset_path("ud-pud-en", "test", data_dir=tmp_path, download=False)


def test_local_only_split_is_never_downloaded(tmp_path):
    with pytest.raises(InputError, match=r"ud-english-ewt/train: .* is not in .*it has no public source"):
        dataset_path("ud-english-ewt", "train", data_dir=tmp_path)


def test_list_datasets_says_where_each_split_resolves(shared_data, tmp_path):
    found = {d["name"]: d for d in list_datasets(data_dir=shared_data)}
    assert found["ud-pud-fr"]["resolved"]["test"] == str(shared_data / "ud_french_pud/fr_pud-ud-test.conllu")
    missing = {d["name"]: d["resolved"] for d in list_datasets(data_dir=tmp_path)}
    assert missing["ud-pud-fr"]["test"].startswith("download from https://raw.githubusercontent.com/UniversalDependencies/")
    assert missing["ud-english-ewt"]["train"].startswith("missing: local-only (no public download; put ud_english_ewt/")
    assert missing["conll2000"]["train"].endswith("conll2000.zip")


# --- downloads from a loopback server -------------------------------------------------------

def test_download_is_verified_cached_and_reused(server, monkeypatch, tmp_path):
    server.files["/tiny.conllu"] = TINY
    name = tiny_spec(monkeypatch, server.url + "/tiny.conllu")
    calls = []
    corpus = load_dataset(name, "test", progress=lambda done, total: calls.append((done, total)))
    assert corpus.sentences == (("Hello", "world"),)
    assert calls[-1] == (len(TINY), len(TINY))
    assert (tmp_path / "cache/datasets/tiny/tiny.conllu").read_bytes() == TINY
    assert load_dataset(name, "test").sentences == corpus.sentences
    assert server.hits == ["/tiny.conllu"]  # the second call read the cache
    assert leftovers(tmp_path) == ["tiny.conllu"]


def test_checksum_mismatch_deletes_the_download(server, monkeypatch, tmp_path):
    server.files["/tiny.conllu"] = TINY
    name = tiny_spec(monkeypatch, server.url + "/tiny.conllu", sha="0" * 64)
    with pytest.raises(InputError, match=r"checksum mismatch for http://127\.0\.0\.1:\d+/tiny\.conllu: "
                                         rf"expected sha256 0{{64}}, got {SHA}; the download was deleted"):
        load_dataset(name, "test")
    assert leftovers(tmp_path) == []


def test_http_error_leaves_nothing(server, monkeypatch, tmp_path):
    name = tiny_spec(monkeypatch, server.url + "/absent.conllu")
    with pytest.raises(InputError, match=r"could not download http://127\.0\.0\.1:\d+/absent\.conllu: Not Found"):
        load_dataset(name, "test")
    assert leftovers(tmp_path) == []


def test_zip_member_is_extracted_and_checked(server, monkeypatch, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("corpora/tiny.conllu", TINY)
        zf.writestr("corpora/other.txt", b"other")
    server.files["/corpora.zip"] = buffer.getvalue()
    name = tiny_spec(monkeypatch, server.url + "/corpora.zip", member="corpora/tiny.conllu")
    assert load_dataset(name, "test").sentences == (("Hello", "world"),)
    assert leftovers(tmp_path) == ["tiny.conllu"]


def test_mirror_replaces_the_public_source(server, monkeypatch, tmp_path):
    entry = DATASETS["ud-pud-en"].splits["test"]
    server.files["/" + entry.path] = TINY
    monkeypatch.setitem(DATASETS["ud-pud-en"].splits, "test", SplitSpec(entry.path, SHA, entry.url))
    monkeypatch.setenv("LCA_DATASET_MIRROR", server.url + "/")
    path = dataset_path("ud-pud-en", "test", data_dir=tmp_path / "empty")
    assert path == tmp_path / "cache/datasets" / entry.path
    assert server.hits == ["/" + entry.path]


# --- sampling -------------------------------------------------------------------------------

def test_sample_sentences_is_reproducible_and_keeps_order():
    corpus = Corpus(tuple((f"w{i}", "x") for i in range(50)), {"upos": tuple(("NOUN", "X") for _ in range(50))})
    a, b = sample_sentences(corpus, 10, seed=3), sample_sentences(corpus, 10, seed=3)
    assert a == b and len(a.sentences) == 10
    order = [int(s[0][1:]) for s in a.sentences]
    assert order == sorted(order)
    assert sample_sentences(corpus, 10, seed=4) != a
    assert sample_sentences(corpus, 50, seed=0) is corpus
    with pytest.raises(InputError, match=r"max_sentences must be > 0; got 0"):
        sample_sentences(corpus, 0, seed=0)


def test_train_test_pairs_and_single_split_holdout(shared_data):
    from lca.data.datasets import train_test

    train, test = train_test("ud-pud-en", shared_data, seed=0)
    assert (len(train.sentences), len(test.sentences)) == (800, 200)
    again, _ = train_test("ud-pud-en", shared_data, seed=0)
    assert again.sentences == train.sentences
    dev, gsd_test = train_test("ud-gsd-de", shared_data)
    assert dev.name != gsd_test.name
