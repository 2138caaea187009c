"""Named datasets: where each split lives, where it comes from, and how to read it.

Resolution
----------
A split's file is looked for, in order, in

1. the ``data_dir`` argument, else the folder named by the environment variable ``LCA_DATA_DIR``;
2. the download cache ``$LCA_CACHE_DIR/datasets`` (default ``~/.cache/lca/datasets``),

each laid out like the project's ``../shared/data`` (``ud_english_ewt/en_ewt-ud-dev.conllu``).
When it is in neither, it is downloaded from its public source into the cache, written to a
temporary file, checked against the registry's SHA-256 and renamed into place; a mismatch
deletes the file and raises.  ``LCA_DATASET_MIRROR`` (a base URL) replaces every source by
``<mirror>/<relative path>``, a server with the same layout as a data folder.  The ``demo``
dataset is bundled with the project in ``assets/demo`` and never downloaded.

The UD English EWT train split is the local reconstruction
``en_ewt-ud-train.reconstructed.conllu`` (rebuilt from the treebank's per-document sources); it
has no public single-file source, so it is local-only: its checksum is that of the
reconstruction, and it resolves from a data folder, the cache or a mirror, never from GitHub.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from .download import Progress, fetch
from .._validation import InputError, check_positive
from ..store.cache import default_cache_dir
from .corpus import Corpus, read_conllu
from .formats import read_columns, read_conll2000, read_pmb

__all__ = ["DATASETS", "DatasetSpec", "SplitSpec", "DEMO_DIR", "list_datasets", "availability", "load_dataset", "holdout",
           "dataset_path", "sample_sentences", "cache_dir"]

DEMO_DIR = Path(__file__).resolve().parents[2] / "assets" / "demo"
_READERS = {"conllu": read_conllu, "columns": read_columns, "conll2000": read_conll2000, "pmb": read_pmb}
_DERIVED = ("suffix", "position")
_UD_TASKS = ("xpos", "upos", "deprel", "dep-pair") + _DERIVED


@dataclass(frozen=True)
class SplitSpec:
    """One file of a dataset.

    Attributes
    ----------
    path : str
        Relative to a data folder (or to ``assets/demo`` when ``bundled``).
    sha256 : str or None
        Checksum of the file (``None`` for bundled files, which are never downloaded).
    url : str or None
        Public source; ``None`` when the file has no public single-file source.
    member : str or None
        When ``url`` is a zip archive, the file's path inside it (the checksum is the member's).
    bundled : bool
        Shipped with the project in ``assets/demo``.
    """

    path: str
    sha256: str | None = None
    url: str | None = None
    member: str | None = None
    bundled: bool = False


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its splits, format, tasks and provenance."""

    name: str
    description: str
    language: str
    format: str
    tasks: tuple[str, ...]
    licence: str
    source_page: str
    splits: Mapping[str, SplitSpec] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict:
        """JSON-friendly copy: tasks as a list, splits as dicts."""
        out = asdict(self)
        out["tasks"] = list(self.tasks)
        out["splits"] = {k: asdict(v) for k, v in self.splits.items()}
        return out


def _gh(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def _ud(name, treebank, commit, folder, language, licence, files, note="", tasks=_UD_TASKS,
        local_only=()) -> DatasetSpec:
    repo = f"UniversalDependencies/{treebank}"
    splits = {s: SplitSpec(f"{folder}/{f}", sha, None if s in local_only else _gh(repo, commit, f))
              for s, (f, sha) in files.items()}
    return DatasetSpec(name, f"Universal Dependencies {treebank.removeprefix('UD_')} ({language})", language,
                       "conllu", tasks, licence, f"https://github.com/{repo}/tree/{commit}", splits, note)


_EWT, _PMB, _NLTK = "15d613d8447b3478787d4c278730a1e48a945efb", "190838f9adea2af616eb76156d2e66c8565a6c6e", \
    "5db857e6f7df11eabb5e5665836db9ec8df07e28"
_PMB_SUMS = {
    "en": {"train": "cdbb6035a71112ad1c0e1707b9a16f7180cc78fe6e5d308f9240ec2da22a3f7a",
           "dev": "ac2abf3c55607a13efea523d258854633b1225d6173031e69bf56023adafc761",
           "test": "1c6c137292ad2cb6750fa2fd22655bb17eb71aa282b9e15b88ba0a11217c83c9",
           "eval": "cd5a92a0e07ed03d4e10e9d28b79c7ae8b6d18fe4efc99059845a267913aa8b6"},
    "de": {"train": "ff09288b3ed4e20e85d576d15ff24f3741d7c1c9c873088355910f676d9aab69",
           "dev": "adb7f60e5f264ca61c27b3ba6953feacc2bd19f34ce261a33a1118e26422f0dd",
           "test": "3d9324f7ca3db8be4cc76bf7aacc70a500de9e78a4be7461e51273897a27a3cf"},
}


def _pmb(lang: str, language: str) -> DatasetSpec:
    splits = {s: SplitSpec(f"pmb_4.0.0/{lang}/gold/{s}.conll", sha,
                           _gh("RikVN/DRS_parsing", _PMB, f"parsing/layer_data/4.0.0/{lang}/gold/{s}.conll"))
              for s, sha in _PMB_SUMS[lang].items()}
    return DatasetSpec(
        f"pmb-{lang}", f"Parallel Meaning Bank 4.0.0 gold semantic tags and CCG supertags ({language})", language,
        "pmb", ("sem", "ccg") + _DERIVED, "PMB 4.0.0 research release (layer files from the MIT-licensed RikVN/DRS_parsing)",
        "https://pmb.let.rug.nl/", splits, "Multiword units (New~York) are one word with spaces (New York).")


_SPECS = [
    DatasetSpec("demo", "Small English demo corpus bundled with the project", "English", "columns",
                ("xpos", "upos", "sem", "chunk") + _DERIVED, "CC BY 4.0 (written for LCA Explorer)", "assets/README.md",
                {s: SplitSpec(f"{s}.tsv", bundled=True) for s in ("train", "test")}),
    _ud("ud-english-ewt", "UD_English-EWT", _EWT, "ud_english_ewt", "English", "CC BY-SA 4.0", {
        "train": ("en_ewt-ud-train.reconstructed.conllu", "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b"),
        "dev": ("en_ewt-ud-dev.conllu", "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6"),
        "test": ("en_ewt-ud-test.conllu", "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd"),
    }, note="train is local-only: en_ewt-ud-train.reconstructed.conllu was rebuilt from the per-document "
            "sources of the same commit (12,544 sentences) and has no public single-file source; "
            f"the official file is {_gh('UniversalDependencies/UD_English-EWT', _EWT, 'en_ewt-ud-train.conllu')}",
        local_only=("train",)),
    DatasetSpec("conll2000", "CoNLL-2000 chunking (WSJ sections 15-18 train, 20 test), PTB POS tags", "English",
                "conll2000", ("xpos", "chunk") + _DERIVED, "research use (derived from the Penn Treebank WSJ)",
                "https://www.clips.uantwerpen.be/conll2000/chunking/",
                {s: SplitSpec(f"conll2000/{s}.txt", sha, _gh("nltk/nltk_data", _NLTK, "packages/corpora/conll2000.zip"),
                              member=f"conll2000/{s}.txt")
                 for s, sha in (("train", "82033cd7a72b209923a98007793e8f9de3abc1c8b79d646c50648eb949b87cea"),
                                ("test", "73b7b1e565fa75a1e22fe52ecdf41b6624d6f59dacb591d44252bf4d692b1628"))},
                "Downloaded from NLTK's conll2000.zip; the checksum is of the extracted file."),
    _pmb("en", "English"),
    _pmb("de", "German"),
    _ud("ud-pud-en", "UD_English-PUD", "f16eba4ae7f3d161870ed320676c5088b8fa476c", "ud_english_pud", "English",
        "CC BY-SA 3.0", {"test": ("en_pud-ud-test.conllu", "c80584f2bc2b31d5bada78a1136f9feec7ac49e5e18898db02dea434b5b8f0aa")},
        "The 1,000 parallel PUD sentences (same sent_ids in every language)."),
    _ud("ud-pud-de", "UD_German-PUD", "ff80846ae60a0a70fc4d6251ef73e6a483a620ee", "ud_german_pud", "German",
        "CC BY-SA 3.0", {"test": ("de_pud-ud-test.conllu", "a530bdb50349bbd7c13706b6a759a9d73e8f514fff41fbf27149e914b0c3e723")},
        "The 1,000 parallel PUD sentences; XPOS is Google's tagset, not STTS: compare languages on UPOS."),
    _ud("ud-pud-fr", "UD_French-PUD", "c245786cfb3020d43bcfc96215ae531a1b07bcbc", "ud_french_pud", "French",
        "CC BY-SA 3.0", {"test": ("fr_pud-ud-test.conllu", "793540702db111d2bfe04f846edddb23e7a2a432294fe17cb612dd795fb0301f")},
        "The 1,000 parallel PUD sentences; XPOS is Google's tagset: compare languages on UPOS."),
    _ud("ud-gsd-de", "UD_German-GSD", "297fcf350481058d0737a27f0f8fd03b2eadd67a", "ud_german_gsd", "German",
        "CC BY-SA 4.0", {
            "dev": ("de_gsd-ud-dev.conllu", "00431f2624cbbf66796c097a9303bbc8f8e8ca88ef35c4c5664aa396b2d674c9"),
            "test": ("de_gsd-ud-test.conllu", "bceb8e867ba3ee7f1449d44fb31538d63a514f07e6763e7d9a5ffe794407bed4"),
        }, "XPOS is STTS."),
    _ud("ud-gsd-fr", "UD_French-GSD", "830e2782304af08b3cc1c9250475343e04274d81", "ud_french_gsd", "French",
        "CC BY-SA 4.0", {
            "dev": ("fr_gsd-ud-dev.conllu", "3e7531b645e5bd6fe37bb619cdd8292e87f5937e64cd8627b4094324eb830e6b"),
            "test": ("fr_gsd-ud-test.conllu", "5d1743c7a9ce2908943d4a430ed9a77755e2a8d7e32d42ee0f1d6a0b528f0be8"),
        }, "No XPOS (every tag is '_').", tasks=tuple(t for t in _UD_TASKS if t != "xpos")),
]
DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def cache_dir() -> Path:
    """``datasets`` in the activation cache's folder (:func:`lca.store.cache.default_cache_dir`)."""
    return default_cache_dir() / "datasets"


def _spec(name: str, split: str | None = None) -> DatasetSpec:
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; the datasets are {', '.join(DATASETS)}")
    spec = DATASETS[name]
    if split is not None and split not in spec.splits:
        raise InputError(f"dataset {name!r} has no split {split!r}; its splits are {', '.join(spec.splits)}")
    return spec


def _folders(data_dir) -> list[Path]:
    first = data_dir if data_dir is not None else os.environ.get("LCA_DATA_DIR")
    return ([Path(first).expanduser()] if first else []) + [cache_dir()]


def _source(split: SplitSpec) -> tuple[str | None, str | None]:
    """(url, zip member) to download ``split`` from, honouring ``LCA_DATASET_MIRROR``."""
    mirror = os.environ.get("LCA_DATASET_MIRROR")
    if mirror:
        return f"{mirror.rstrip('/')}/{split.path}", None
    return split.url, split.member


def _local(split: SplitSpec, data_dir) -> Path | None:
    if split.bundled:
        return DEMO_DIR / split.path if (DEMO_DIR / split.path).is_file() else None
    return next((f / split.path for f in _folders(data_dir) if (f / split.path).is_file()), None)


def dataset_path(name: str, split: str, data_dir=None, download: bool = True,
                 progress: Progress | None = None) -> Path:
    """The local file of ``name``/``split``, downloading it into the cache if needed.

    ``progress(done_bytes, total_bytes)`` is called while downloading (total ``None`` if unknown).
    """
    spec = _spec(name, split)
    entry = spec.splits[split]
    found = _local(entry, data_dir)
    if found is not None:
        return found
    where = DEMO_DIR if entry.bundled else " or ".join(map(str, _folders(data_dir)))
    url, member = _source(entry)
    if entry.bundled or url is None:
        why = "it is bundled with the project" if entry.bundled else f"it has no public source ({spec.note})"
        raise InputError(f"{name}/{split}: {entry.path} is not in {where}, and {why}")
    if not download:
        raise InputError(f"{name}/{split}: {entry.path} is not in {where}; allow download=True to fetch {url}")
    return fetch(url, cache_dir() / entry.path, entry.sha256, member, progress)


def list_datasets(data_dir=None) -> list[dict]:
    """Each dataset as ``to_dict()`` plus ``resolved``: split → local path or ``download from URL``."""
    out = []
    for spec in DATASETS.values():
        resolved = {}
        for split, entry in spec.splits.items():
            local, (url, _) = _local(entry, data_dir), _source(entry)
            if local or (url and not entry.bundled):
                resolved[split] = str(local) if local else f"download from {url}"
            else:
                resolved[split] = ("missing: bundled file not in " + str(DEMO_DIR) if entry.bundled else
                                   f"missing: local-only (no public download; put {entry.path} under $LCA_DATA_DIR)")
        out.append({**spec.to_dict(), "resolved": resolved})
    return out


def load_dataset(name: str, split: str, data_dir=None, progress: Progress | None = None) -> Corpus:
    """Read ``name``/``split`` (downloading it if needed) as a :class:`Corpus` named ``name/split``."""
    spec = _spec(name, split)
    path = dataset_path(name, split, data_dir, progress=progress)
    return _READERS[spec.format](path, name=f"{name}/{split}")


def sample_sentences(corpus: Corpus, max_sentences: int, seed: int = 0) -> Corpus:
    """At most ``max_sentences`` sentences drawn without replacement by ``seed``, in corpus order.

    >>> c = Corpus(tuple((f"w{i}",) for i in range(10)))
    >>> [s[0] for s in sample_sentences(c, 3, seed=1).sentences]
    ['w3', 'w4', 'w7']
    """
    check_positive("max_sentences", max_sentences, integer=True)
    n = len(corpus.sentences)
    if n <= max_sentences:
        return corpus
    picked = np.sort(np.random.default_rng(seed).choice(n, size=max_sentences, replace=False))
    return corpus.subset(picked.tolist())


def train_test(name: str, data_dir=None, seed: int = 0, test_fraction: float = 0.2,
               progress: Progress | None = None) -> tuple[Corpus, Corpus]:
    """The training and test corpora of a registered dataset.

    ``train`` against ``test`` where both exist (``dev`` stands in for a missing one); a
    dataset with a single split (the PUD treebanks) is cut by sentences, seeded, holding out
    ``test_fraction`` for testing.
    """
    splits = list(_spec(name).splits)
    train_split = next((s for s in ("train", "dev") if s in splits), None)
    test_split = next((s for s in ("test", "dev") if s in splits and s != train_split), None)
    if train_split and test_split:
        return (load_dataset(name, train_split, data_dir, progress), load_dataset(name, test_split, data_dir, progress))
    return holdout(load_dataset(name, splits[0], data_dir, progress), test_fraction, seed)


def holdout(corpus: Corpus, fraction: float = 0.2, seed: int = 0) -> tuple[Corpus, Corpus]:
    """Cut a corpus by sentences into ``(train, test)``: a seeded ``fraction`` of them (at least one) for testing.

    The one split policy: :func:`train_test` uses it for single-split datasets, the app for an upload or a
    dataset split without a test part.  Both parts keep corpus order.

    >>> c = Corpus(tuple((f"w{i}",) for i in range(5)))
    >>> [[s[0] for s in part.sentences] for part in holdout(c)]
    [['w0', 'w1', 'w3', 'w4'], ['w2']]
    """
    n = len(corpus.sentences)
    if n < 2:
        raise InputError(f"{corpus.name or 'the corpus'} has {n} sentence(s): at least 2 are needed to hold some "
                         "out for testing; give a separate test file or split")
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_test = max(1, round(fraction * n))
    return corpus.subset(sorted(order[n_test:])), corpus.subset(sorted(order[:n_test]))


def availability() -> dict[str, str]:
    """Each registry dataset's state on this machine: "here" (every split found without downloading),
    "download" (a split must be downloaded first) or "local-only" (a split has no public source)."""
    state = {}
    for entry in list_datasets():
        where = entry["resolved"].values()
        state[entry["name"]] = ("local-only" if any(w.startswith("missing") for w in where) else
                                "download" if any(w.startswith("download from") for w in where) else "here")
    return state
