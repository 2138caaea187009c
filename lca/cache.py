"""Disk cache of activation matrices, on diskcache.

Each entry is a float16 ``.npy`` file that loads by memory map, indexed in a diskcache
``Cache`` by a key that covers everything the activations depend on (see
:func:`activation_key`).  A file is written under a temporary name and renamed when
complete; its size and BLAKE2 digest are checked on every load, and an entry that fails the
check is deleted and recomputed, never served.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["ActivationCache", "activation_key", "default_cache_dir", "model_identity"]

CACHE_FORMAT = 1  # bump when the way activations are computed changes
_CHUNK = 1 << 24


def default_cache_dir() -> Path:
    """``$LCA_CACHE_DIR``, else ``~/.cache/lca``."""
    return Path(os.environ.get("LCA_CACHE_DIR") or Path.home() / ".cache" / "lca")


def _file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_disk(directory: Path, needed: int) -> None:
    """Refuse before starting when the activation file cannot fit on disk."""
    import shutil

    from ._validation import InputError

    free = shutil.disk_usage(directory).free
    if needed > free * 0.95:
        raise InputError(
            f"the activations need {needed / 1e9:.1f} GB of disk in {directory} but only {free / 1e9:.1f} GB are free; "
            "set LCA_CACHE_DIR to a larger disk, use fewer sentences (--max-sentences) or a smaller model")


def model_identity(name: str, path: str, revision: str | None = None, commit: str | None = None) -> str:
    """What identifies a model's weights: a hash of the local files, or the hub id and revision."""
    folder = Path(path)
    if folder.is_dir():
        digest = hashlib.sha256()
        files = sorted(p for p in folder.rglob("*") if p.is_file() and (
            p.suffix in {".safetensors", ".bin", ".json", ".model", ".txt"}))
        for file in files:
            digest.update(str(file.relative_to(folder)).encode())
            digest.update(_file_digest(file).encode())
        return f"local:{digest.hexdigest()}"
    return f"hub:{name}@{commit or revision or 'main'}"


def activation_key(model: str, corpus_hash: str, aggregation: str, dtype: str = "float16",
                   layers: str = "all", version: str | None = None, compute: str = "float32") -> str:
    """Deterministic key of an activation matrix.

    ``dtype`` is how the matrix is stored, ``compute`` the precision the model ran in (float16 on a
    GPU, float32 on the CPU): the two give different activations, so they never share an entry.

    >>> activation_key("hub:bert-base-cased@main", "0" * 64, "last", version="0.1.0")[:16]
    'fe9e6f85eed98331'
    """
    from . import __version__

    payload = {"model": model, "corpus": corpus_hash, "aggregation": aggregation, "dtype": dtype,
               "layers": layers, "version": version or __version__, "format": CACHE_FORMAT}
    if compute != "float32":  # added later: float32 entries keep the keys they were written under
        payload["compute"] = compute
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class ActivationCache:
    """Memory-mapped activation matrices under ``directory`` (default :func:`default_cache_dir`)."""

    def __init__(self, directory: str | os.PathLike | None = None):
        import diskcache

        self.directory = Path(directory or default_cache_dir()) / "activations"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._index = diskcache.Cache(str(self.directory / "index"))

    def _file(self, key: str) -> Path:
        return self.directory / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """The cached matrix (read-only memory map), or None when absent or corrupt."""
        meta = self._index.get(key)
        file = self._file(key)
        if meta is None or not file.is_file():
            return None
        try:
            ok = file.stat().st_size == meta["size"] and _file_digest(file) == meta["digest"]
            array = np.load(file, mmap_mode="r") if ok else None
        except (OSError, ValueError):
            array = None
        if array is None or list(array.shape) != meta["shape"]:
            self.delete(key)
            return None
        return array

    def put(self, key: str, shape: tuple[int, int], fill: Callable[[np.ndarray], object],
            meta: dict | None = None) -> np.ndarray:
        """Create the matrix with ``fill(out)`` writing into a float16 memory map, then publish it atomically."""
        final = self._file(key)
        tmp = final.with_name(f"{key}.{os.getpid()}.partial.npy")
        _check_disk(self.directory, int(np.prod(shape)) * 2)
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=tuple(shape))
            fill(out)
            out.flush()
            del out
            entry = {"shape": list(shape), "size": tmp.stat().st_size, "digest": _file_digest(tmp), **(meta or {})}
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        self._index.set(key, entry)
        return np.load(final, mmap_mode="r")

    def get_or_compute(self, key: str, shape: tuple[int, int], fill: Callable[[np.ndarray], object],
                       meta: dict | None = None) -> tuple[np.ndarray, bool]:
        """``(matrix, was_cached)``."""
        cached = self.get(key)
        if cached is not None:
            return cached, True
        return self.put(key, shape, fill, meta), False

    def delete(self, key: str) -> None:
        self._index.delete(key)
        self._file(key).unlink(missing_ok=True)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None
