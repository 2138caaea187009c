"""A store of finished runs on disk, keyed by a deterministic run id, with per-session ownership.

Layout under ``root`` (default ``$LCA_CACHE_DIR/runs``)::

    <run id>/result.json, weights.npy, activations.json   (lca.runs.result.save_result)
    <run id>/test_corpus.json                              (the test corpus: words and labels)
    <run id>/train_corpus.json                             (the training corpus, to run again at other λs;
                                                            absent from runs saved before it was kept)
    <run id>/meta.json                                     (what the run list shows)
    sessions/<token>.json                                  (the run ids a browser session owns)

The run id hashes the configuration and the content of both corpora (words and labels), so
the same run asked for twice reopens from disk instead of running again.  A session lists
only the runs it owns; a token is random, and only ever used as a file name after
:func:`check_token` accepted it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from pathlib import Path

from ..store.atomic import atomic_dir, write_json_atomic
from .._validation import InputError
from ..store.cache import default_cache_dir
from ..data.corpus import Corpus
from .result import LCAResult, RunConfig, load_result, save_result

__all__ = ["run_id", "corpus_fingerprint", "corpus_to_dict", "corpus_from_dict", "new_token", "check_token",
           "RunStore", "save_corpora", "import_run", "run_label", "folder_label"]

_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_RUN_ID = re.compile(r"^[0-9a-f]{16}$")
# Settings that change where or how fast a run executes but not what it finds.
_NOT_IN_ID = ("device",)


def corpus_fingerprint(corpus: Corpus) -> str:
    """SHA-256 of a corpus's words, label columns and heads (its name does not count).

    >>> a = Corpus((("a", "b"),), {"xpos": (("DT", "NN"),)}, name="x")
    >>> corpus_fingerprint(a) == corpus_fingerprint(Corpus(a.sentences, a.columns, name="y"))
    True
    """
    payload = {"words": corpus.content_hash(), "columns": {k: list(map(list, v)) for k, v in sorted(corpus.columns.items())},
               "heads": None if corpus.heads is None else list(map(list, corpus.heads))}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def run_id(config: RunConfig, train: Corpus | str, test: Corpus | str) -> str:
    """16 hex digits naming a run: hash of the config (less ``device``) and both corpora.

    ``train`` and ``test`` are corpora or their :func:`corpus_fingerprint`.

    >>> c = Corpus((("a",),), {"xpos": (("DT",),)})
    >>> run_id(RunConfig(), c, c) == run_id(RunConfig(device="cpu"), c, c)
    True
    >>> run_id(RunConfig(), c, c) == run_id(RunConfig(seed=1), c, c)
    False
    """
    settings = {k: v for k, v in config.to_dict().items() if k not in _NOT_IN_ID}
    prints = [x if isinstance(x, str) else corpus_fingerprint(x) for x in (train, test)]
    payload = json.dumps({"config": settings, "train": prints[0], "test": prints[1]}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def corpus_to_dict(corpus: Corpus) -> dict:
    """JSON-friendly copy of a corpus (lists of lists)."""
    return {"name": corpus.name, "sentences": [list(s) for s in corpus.sentences],
            "columns": {k: [list(s) for s in v] for k, v in corpus.columns.items()},
            "heads": None if corpus.heads is None else [list(h) for h in corpus.heads]}


def corpus_from_dict(data: dict) -> Corpus:
    """Inverse of :func:`corpus_to_dict`.

    >>> c = Corpus((("a", "b"),), {"xpos": (("DT", "NN"),)}, ((2, 0),), "x")
    >>> corpus_from_dict(corpus_to_dict(c)) == c
    True
    """
    tup = lambda rows: tuple(tuple(r) for r in rows)  # noqa: E731
    return Corpus(tup(data["sentences"]), {k: tup(v) for k, v in data.get("columns", {}).items()},
                  None if data.get("heads") is None else tup(data["heads"]), data.get("name", "corpus"))


def new_token() -> str:
    """A fresh random session token (32 hex digits)."""
    return secrets.token_hex(16)


def check_token(token) -> str:
    """Return ``token`` if it is a well-formed session token, else raise ``InputError``.

    >>> check_token("0" * 32) == "0" * 32
    True
    """
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise InputError(f"session token must be 32 hex digits; got {token!r}")
    return token


def _check_run_id(rid) -> str:
    if not isinstance(rid, str) or not _RUN_ID.match(rid):
        raise InputError(f"run id must be 16 hex digits; got {rid!r}")
    return rid


class RunStore:
    """Finished runs on disk and which session owns which (see the module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir() / "runs"
        (self.root / "sessions").mkdir(parents=True, exist_ok=True)

    def path(self, rid: str) -> Path:
        return self.root / _check_run_id(rid)

    def exists(self, rid: str) -> bool:
        folder = self.path(rid)
        return all((folder / name).is_file() for name in ("result.json", "test_corpus.json", "meta.json"))

    def save(self, rid: str, result: LCAResult, test: Corpus, meta: dict | None = None,
             train: Corpus | None = None) -> Path:
        """Write a finished run; ``meta.json`` is written last, so a run is listed only when complete."""
        info = {"run_id": rid, "created": time.time(), "model": result.model, "task": result.task,
                "n_train_words": result.n_train_words, "n_test_words": result.n_test_words,
                "oracle_accuracy": result.oracle_accuracy, "minimal_fraction": result.minimal.fraction,
                "config": result.config, **(meta or {})}

        def write(tmp: Path) -> None:
            save_result(result, tmp)
            write_json_atomic(tmp / "test_corpus.json", corpus_to_dict(test))
            if train is not None:
                write_json_atomic(tmp / "train_corpus.json", corpus_to_dict(train))
            write_json_atomic(tmp / "meta.json", info)

        # the same run finished twice (two sessions): keep the first
        return atomic_dir(self.path(rid), write, keep_existing=True)

    def load(self, rid: str) -> LCAResult:
        if not self.exists(rid):
            raise InputError(f"run {rid} is not in {self.root}")
        return load_result(self.path(rid))

    def _load_corpus(self, rid: str, name: str) -> Corpus:
        try:
            data = json.loads((self.path(rid) / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise InputError(f"run {rid}: {name} is not readable ({err})") from None
        return corpus_from_dict(data)

    def load_test_corpus(self, rid: str) -> Corpus:
        return self._load_corpus(rid, "test_corpus.json")

    def has_train_corpus(self, rid: str) -> bool:
        return (self.path(rid) / "train_corpus.json").is_file()

    def load_train_corpus(self, rid: str) -> Corpus:
        if not self.has_train_corpus(rid):
            raise InputError(f"run {rid} was saved without its training corpus (runs made before it was kept); "
                             "start it again from the Run page")
        return self._load_corpus(rid, "train_corpus.json")

    def meta(self, rid: str) -> dict:
        try:
            return json.loads((self.path(rid) / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"run_id": rid, "broken": True}

    # sessions -----------------------------------------------------------------------------------------
    def _session_file(self, token: str) -> Path:
        return self.root / "sessions" / f"{check_token(token)}.json"

    def session_runs(self, token: str) -> list[str]:
        """Run ids owned by ``token``, newest first, skipping runs no longer on disk."""
        try:
            ids = json.loads(self._session_file(token).read_text())
        except (OSError, ValueError):
            return []
        return [r for r in ids if isinstance(r, str) and _RUN_ID.match(r) and self.exists(r)]

    def claim(self, token: str, rid: str) -> None:
        """Record that session ``token`` owns run ``rid`` (moved to the front of its list)."""
        _check_run_id(rid)
        ids = [r for r in self.session_runs(token) if r != rid]
        write_json_atomic(self._session_file(token), [rid] + ids)

    def list(self, token: str) -> list[dict]:
        """``meta.json`` of each run the session owns, newest first."""
        return [self.meta(r) for r in self.session_runs(token)]


def run_label(meta: dict, form: str = "full") -> str:
    """How a run of the store is named, from its ``meta.json``; the one place run labels are built.

    ``"full"`` (lists): task, model, data, then search mode, seed, λ pair and site when set, the time it
    started (``started``; for runs saved before it was kept, the time it was saved) and a short id (a
    quick and a paper run of one task must not read the same); ``"short"`` (narrow places, the sidebar):
    task, model, mode, seed and the id; ``"data"`` (comparison legends, folders): task · model · dataset.

    >>> meta = {"task": "xpos", "model": "/m/bert-base", "dataset": "demo", "run_id": "a1b2c3d4e5f60718",
    ...         "config": {"mode": "paper", "seed": 2}}
    >>> run_label(meta), run_label(meta, "short"), run_label(meta, "data")
    ('xpos · bert-base · demo · paper · seed 2 · a1b2c3', 'xpos · bert-base · paper · seed 2 · a1b2c3', 'xpos · bert-base · demo')
    """
    config = meta.get("config") or {}
    model = Path(str(meta.get("model_label") or meta.get("model") or "?")).name
    if form == "data":
        return f"{meta.get('task', '?')} · {model} · {meta.get('dataset', '?')}"
    rid = meta.get("run_id", "")[:6]
    seed = f"seed {config['seed']}" if config.get("seed") else None
    if form == "short":
        parts = [meta.get("task", "?"), model, config.get("mode"), seed, rid]
    else:
        fixed = config.get("lambdas")  # a run at a λ pair picked from another run's grid
        at = meta.get("started") or meta.get("created")
        when = time.strftime("%d %b %H:%M", time.localtime(at)) if at else None
        parts = [meta.get("task", "?"), model, meta.get("dataset", "?"), config.get("mode"), seed,
                 f"λ {fixed[0]:g}, {fixed[1]:g}" if fixed else None,
                 "MLP neurons" if config.get("site") == "mlp" else None, when, rid]
    return " · ".join(str(p) for p in parts if p)


def folder_label(path) -> str:
    """:func:`run_label` (``"data"``) of a run folder (or of the folder of its ``result.json``) that has a readable
    ``meta.json`` (a run of the store), else the folder's name."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    try:
        return run_label(json.loads((folder / "meta.json").read_text(encoding="utf-8")), "data")
    except (OSError, ValueError, AttributeError):
        return folder.name


def save_corpora(out_dir, train: Corpus, test: Corpus) -> None:
    """Write ``train_corpus.json`` and ``test_corpus.json`` beside a run's ``result.json``, so that the
    app can open the folder (:func:`import_run`): its views show the test words and retrain on train."""
    out = Path(out_dir)
    write_json_atomic(out / "train_corpus.json", corpus_to_dict(train))
    write_json_atomic(out / "test_corpus.json", corpus_to_dict(test))


def import_run(store: RunStore, run_dir) -> str:
    """Copy a folder written by ``python -m lca run --out DIR`` into ``store``; returns its run id.

    The id is :func:`run_id` of its config and corpora, the one the app gives the same run.
    """
    folder = Path(str(run_dir)).expanduser()
    if not (folder / "result.json").is_file():
        raise InputError(f"{folder}: no result.json there; give a folder written by `python -m lca run --out`")
    if not (folder / "test_corpus.json").is_file():
        raise InputError(f"{folder}: no test_corpus.json (runs written before the command line saved its corpora); "
                         "run it again with `python -m lca run`")
    result = load_result(folder)
    corpora = {}
    for split in ("train", "test"):
        path = folder / f"{split}_corpus.json"
        try:
            corpora[split] = corpus_from_dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise InputError(f"{path}: not a readable corpus ({err})") from None
    train, test = corpora["train"], corpora["test"]
    rid = run_id(result.run_config, train or corpus_fingerprint(test) + "-no-train", test)
    if not store.exists(rid):
        store.save(rid, result, test, {"dataset": folder.name, "source": str(folder.resolve()),
                                       "config": result.config}, train=train)
    return rid
