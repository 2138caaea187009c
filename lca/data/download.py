"""Download one file, check its SHA-256, and move it into place atomically."""
from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from ..store.atomic import atomic_write
from .._validation import InputError

Progress = Callable[[int, "int | None"], None]
_CHUNK = 1 << 20


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, dest: Path, sha256: str, member: str | None = None,
          progress: Progress | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` if its SHA-256 (or that of zip ``member``) is ``sha256``.

    The bytes go to a temporary file next to ``dest``, which is renamed onto ``dest`` only
    once the checksum matches; on any failure the temporary file is deleted.
    ``progress(done_bytes, total_bytes)`` is called after each chunk (total ``None`` if unknown).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)

    def download(tmp: Path) -> None:
        _stream(url, tmp, dest.name, progress, timeout)
        if member is not None:
            _extract(tmp, member, url)
        got = sha256_of(tmp)
        if got != sha256:
            raise InputError(
                f"checksum mismatch for {url}{f' ({member})' if member else ''}: expected sha256 {sha256}, "
                f"got {got}; the download was deleted. The source changed or the transfer was corrupted: "
                "try again, or put a verified copy in the folder named by LCA_DATA_DIR"
            )

    return atomic_write(dest, download)


def _stream(url: str, tmp: Path, label: str, progress: Progress | None, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "lca-explorer"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            done = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=None) as bar:
                for block in iter(lambda: response.read(_CHUNK), b""):
                    out.write(block)
                    done += len(block)
                    bar.update(len(block))
                    if progress is not None:
                        progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise InputError(
            f"could not download {url}: {reason}. Check the connection, set LCA_DATASET_MIRROR to a "
            "mirror, or put the file in the folder named by LCA_DATA_DIR"
        ) from None
    if total is not None and done != total:
        raise InputError(f"download of {url} stopped after {done:,} of {total:,} bytes; try again")


def _extract(archive: Path, member: str, url: str) -> None:
    """Replace the zip file ``archive`` by the contents of its ``member``."""
    extracted = archive.with_name(archive.name + ".member")
    try:
        with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(extracted, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
        os.replace(extracted, archive)
    except zipfile.BadZipFile:
        raise InputError(f"{url} is not a valid zip archive") from None
    except KeyError:
        raise InputError(f"{url} has no member {member!r}") from None
    finally:
        extracted.unlink(missing_ok=True)
