"""Atomic file writes: the one way a file of this package is written so that no reader sees half of it.

The content goes to a temporary file beside the target (its name unique to the writer, so two
writers never share one) and is renamed over the target when complete; a failed write leaves the
target as it was and no temporary file behind.  :func:`atomic_dir` does the same for a folder (a
run folder appears whole or not at all).  The activation cache names its partial files its own
way (``KEY.HOST-PID.partial.npy``), as it cleans up after killed writers by that name.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Callable

__all__ = ["atomic_write", "atomic_dir", "write_text_atomic", "write_json_atomic"]


def atomic_write(path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it to ``path``.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = atomic_write(target, lambda tmp: tmp.write_text("done"))
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('done', ['a.txt'])
    """
    path = Path(path)
    tmp = _partial(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")


def atomic_dir(path, write: Callable[[Path], object], keep_existing: bool = False) -> Path:
    """Call ``write(tmp)`` to fill a temporary folder beside ``path``, then rename it to ``path``.

    An existing ``path`` is replaced, or with ``keep_existing`` kept (the same content written twice,
    e.g. by two sessions: the first one stays, and losing the race to another writer is no error).

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "run"
    >>> _ = atomic_dir(target, lambda tmp: (tmp.mkdir(), (tmp / "a.txt").write_text("done")))
    >>> (target / "a.txt").read_text(), [p.name for p in target.parent.iterdir()]
    ('done', ['run'])
    """
    path = Path(path)
    tmp = _partial(path)
    try:
        write(tmp)
        if path.exists():
            if keep_existing:
                return path
            shutil.rmtree(path)
        try:
            os.replace(tmp, path)
        except OSError:
            if not keep_existing:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def write_text_atomic(path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding))


def write_json_atomic(path, data, indent: int | None = 1, default=None) -> Path:
    """Write ``data`` as JSON to ``path`` atomically; ``default`` as in :func:`json.dumps`.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.json"
    >>> json.loads(write_json_atomic(target, {"a": [1, 2]}).read_text())
    {'a': [1, 2]}
    """
    return write_text_atomic(path, json.dumps(data, indent=indent, default=default))
