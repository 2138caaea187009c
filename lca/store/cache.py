"""Disk cache of activation matrices, on diskcache.

Each entry is a float16 ``.npy`` file that loads by memory map, indexed in a diskcache
``Cache`` by a key that covers everything the activations depend on (see
:func:`activation_key`).  A file is written under a temporary name and renamed when
complete; its size and BLAKE2 digest are checked on every load, and an entry that fails the
check is deleted and recomputed, never served.

No value is lost to float16's range (±65,504; decoder LLMs' "massive activations" exceed it): a
``fill`` that meets a larger finite value raises :class:`Float16Overflow` (see :func:`as_stored`), and
the matrix is written again in float32.  An entry written before this check is read once for
infinities, and recomputed if it has any.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .._version import __version__

__all__ = ["ActivationCache", "Float16Overflow", "FLOAT16_MAX", "activation_key", "as_stored", "default_cache_dir",
           "model_identity"]

log = logging.getLogger(__name__)
CACHE_FORMAT = 1  # bump when the way activations are computed changes
_CHUNK = 1 << 24
FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65,504


class Float16Overflow(ArithmeticError):
    """Finite activations beyond float16's range: the matrix they belong to is stored in float32 instead."""


def as_stored(block: np.ndarray, dtype) -> np.ndarray:
    """``block`` (float32) cast to the storage ``dtype``; :class:`Float16Overflow` where float16 would turn a
    finite value into infinity (an infinity the model itself computed is kept as it is).

    >>> as_stored(np.array([1.5, -7e4], dtype=np.float32), np.float32).dtype
    dtype('float32')
    >>> as_stored(np.array([1.5, -7e4], dtype=np.float32), np.float16)
    Traceback (most recent call last):
    ...
    lca.store.cache.Float16Overflow: 1 activations beyond float16's range (largest |value| 7e+04)
    """
    block = np.asarray(block)
    with np.errstate(over="ignore"):
        out = block.astype(dtype, copy=False)
    # two reductions first: the element-wise test only runs on a block that may hold such a value (or a NaN)
    if out.dtype == np.float16 and block.size and not (-FLOAT16_MAX <= block.min() and block.max() <= FLOAT16_MAX):
        lost = np.isinf(out) & np.isfinite(block)
        if lost.any():
            raise Float16Overflow(f"{int(lost.sum())} activations beyond float16's range "
                                  f"(largest |value| {float(np.abs(block[lost]).max()):.4g})")
    return out


def default_cache_dir() -> Path:
    """``$LCA_CACHE_DIR``, else ``~/.cache/lca``, with ``~`` and environment variables expanded.

    The one home of this policy: every cache (activations, runs, models, datasets) lives under it.

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"LCA_CACHE_DIR": "~/x"}):
    ...     default_cache_dir() == Path.home() / "x"
    True
    """
    root = os.environ.get("LCA_CACHE_DIR") or str(Path("~") / ".cache" / "lca")
    return Path(os.path.expanduser(os.path.expandvars(root)))


def _file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_disk(directory: Path, needed: int) -> None:
    """Refuse before starting when the activation file cannot fit on disk."""
    import shutil

    from .._validation import InputError

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
        # lca_model.json (lca.models.local) says how the folder was made, not what it computes
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "lca_model.json" and (
            p.suffix in {".safetensors", ".bin", ".json", ".model", ".txt"}))
        for file in files:
            digest.update(str(file.relative_to(folder)).encode())
            digest.update(_file_digest(file).encode())
        return f"local:{digest.hexdigest()}"
    return f"hub:{name}@{commit or revision or 'main'}"


def activation_key(model: str, corpus_hash: str, aggregation: str, dtype: str = "float16",
                   layers: str = "all", version: str | None = None, compute: str = "float32",
                   site: str = "hidden") -> str:
    """Deterministic key of an activation matrix.

    ``dtype`` is how the matrix is stored, ``compute`` the precision the model ran in (float16 on a
    GPU, float32 on the CPU): the two give different activations, so they never share an entry.
    A float16 matrix whose values exceed float16's range is stored in float32 under the same key:
    the same inputs overflow the same way, so the key still says what the entry holds.
    ``site`` is the neuron site (:mod:`lca.models.sites`); ``layers`` says which of its neurons the matrix holds.

    >>> activation_key("hub:bert-base-cased@main", "0" * 64, "last", version="0.1.0")[:16]
    'fe9e6f85eed98331'
    """
    payload = {"model": model, "corpus": corpus_hash, "aggregation": aggregation, "dtype": dtype,
               "layers": layers, "version": version or __version__, "format": CACHE_FORMAT}
    if compute != "float32":  # added later: float32 entries keep the keys they were written under
        payload["compute"] = compute
    if site != "hidden":  # likewise: hidden-state entries keep theirs
        payload["site"] = site
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class ActivationCache:
    """Memory-mapped activation matrices under ``directory`` (default :func:`default_cache_dir`).

    Safe under faults (see the README's "Cache under faults"): a writer's partial file is named
    after its host and process and removed once that process is gone (when a cache opens, and before
    a key is written again); :meth:`get_or_compute` holds a per-key lock, so two processes extracting
    the same key make one entry and neither reads the other's partial file; a damaged entry is
    deleted, logged, remembered in :attr:`repaired` and recomputed; the file's space is reserved
    before writing, so a full disk fails that write with a clear error and leaves nothing behind.
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        import diskcache

        self.directory = Path(directory or default_cache_dir()).expanduser() / "activations"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._index = diskcache.Cache(str(self.directory / "index"))
        self.repaired: set[str] = set()  # keys found damaged (and deleted) by this object
        self.clean_partials()

    def _file(self, key: str) -> Path:
        return self.directory / f"{key}.npy"

    def clean_partials(self, key: str | None = None) -> list[Path]:
        """Delete the partial files (of ``key``, or all) whose writer on this host is no longer running."""
        removed = []
        for path in self.directory.glob(f"{key or '*'}.*.partial.npy"):
            writer = _writer(path)
            if writer is not None and writer[0] == _HOST and not _alive(writer[1]):
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def get(self, key: str) -> np.ndarray | None:
        """The cached matrix (read-only memory map), or None when absent or damaged (then deleted)."""
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
            log.warning("recomputing activations %s: the cached file %s was damaged", key[:12], file)
            self.repaired.add(key)
            self.delete(key)
            return None
        if "dtype" not in meta:  # written before float16 overflow was checked: read it once for infinities
            if array.dtype == np.float16 and _has_inf(array):
                log.warning("recomputing activations %s: the cached float16 file lost values to overflow", key[:12])
                self.delete(key)
                return None
            self._index.set(key, {**meta, "dtype": str(array.dtype)})
        return array

    def put(self, key: str, shape: tuple[int, int], fill: Callable[[np.ndarray], object],
            meta: dict | None = None) -> np.ndarray:
        """Create the matrix with ``fill(out)`` writing into a float16 memory map, then publish it atomically.

        A ``fill`` that raises :class:`Float16Overflow` is called again on a float32 map (decoders' massive
        activations show in the first batch, as every sentence's first word, so little is computed twice).
        """
        try:
            return self._put(key, shape, fill, meta, np.float16)
        except Float16Overflow as err:
            log.info("activations %s stored in float32: %s", key[:12], err)
            return self._put(key, shape, fill, {**(meta or {}), "overflow": str(err)}, np.float32)

    def _put(self, key: str, shape: tuple[int, int], fill: Callable[[np.ndarray], object], meta: dict | None,
             dtype) -> np.ndarray:
        final = self._file(key)
        tmp = final.with_name(f"{key}.{_HOST}-{os.getpid()}.partial.npy")
        needed = int(np.prod(shape)) * np.dtype(dtype).itemsize
        _check_disk(self.directory, needed)
        self.clean_partials(key)
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=tuple(shape))
            _reserve(tmp)
            fill(out)
            out.flush()
            del out
            entry = {"shape": list(shape), "size": tmp.stat().st_size, "digest": _file_digest(tmp),
                     "created": time.time(), **(meta or {}), "dtype": np.dtype(dtype).name}
            os.replace(tmp, final)
            self._index.set(key, entry)
        except (OSError, sqlite3.OperationalError) as err:
            if not _disk_full(err):
                raise
            final.unlink(missing_ok=True)
            from .._validation import InputError

            raise InputError(f"the disk of the activation cache ({self.directory}) is full: the activations need "
                             f"{needed / 1e9:.2f} GB; free space there or set LCA_CACHE_DIR to a larger disk "
                             "(nothing was kept of this write)") from None
        finally:
            tmp.unlink(missing_ok=True)
        return np.load(final, mmap_mode="r")

    def get_or_compute(self, key: str, shape: tuple[int, int], fill: Callable[[np.ndarray], object],
                       meta: dict | None = None) -> tuple[np.ndarray, bool]:
        """``(matrix, was_cached)``; one process computes a key at a time, the others wait and reuse it."""
        cached = self.get(key)
        if cached is not None:
            return cached, True
        with _key_lock(self.directory / f"{key}.lock"):
            cached = self.get(key)  # another process may have written it while this one waited
            if cached is not None:
                return cached, True
            return self.put(key, shape, fill, meta), False

    def delete(self, key: str) -> None:
        self._index.delete(key)
        self._file(key).unlink(missing_ok=True)

    def entries(self) -> list[dict]:
        """Every entry as ``{key, size, shape, ...meta}``, largest first."""
        rows = []
        for key in self._index.iterkeys():
            meta = self._index.get(key)
            if isinstance(meta, dict):
                file = self._file(key)
                created = meta.get("created") or (file.stat().st_mtime if file.is_file() else None)
                rows.append({"key": key, **meta, "created": created, "present": file.is_file()})
        return sorted(rows, key=lambda r: -int(r.get("size", 0)))

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None


def _has_inf(array: np.ndarray) -> bool:
    return any(np.isinf(array[start:start + 4096]).any() for start in range(0, len(array), 4096))


_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"


def _writer(path: Path) -> tuple[str, int] | None:
    """``(host, pid)`` from a partial file's name ``KEY.HOST-PID.partial.npy`` (``KEY.PID...`` before hosts
    were named: this host's)."""
    match = re.fullmatch(r"[0-9a-zA-Z_]+\.(?:(\w+)-)?(\d+)\.partial\.npy", path.name)
    return (match.group(1) or _HOST, int(match.group(2))) if match else None


def _disk_full(err: Exception) -> bool:
    return getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in str(err)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _reserve(path: Path) -> None:
    """Allocate the file's blocks now: a memory map over a sparse file on a full disk dies of SIGBUS
    on the write that finds no block; a reservation fails here with ENOSPC instead."""
    if hasattr(os, "posix_fallocate"):
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, path.stat().st_size)
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            # filesystems without fallocate (some network ones): write as before
        finally:
            os.close(fd)


@contextmanager
def _key_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (POSIX ``flock``; no lock where there is none)."""
    try:
        import fcntl
    except ImportError:  # Windows: one writer per key is not enforced
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
