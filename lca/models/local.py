"""Model folders kept under ``$LCA_CACHE_DIR/models``: where they live, what each is, and the names they go by.

Fine-tuned and random copies (:mod:`.finetune`), GGUF files converted to Hugging Face folders (:mod:`.gguf`)
and models added by name (:mod:`.catalogue`, ``python -m lca models add``) all live there, one folder
each, holding a model that ``from_pretrained`` loads and ``lca_model.json``: what it is and how it was
made.  A folder whose info has an ``alias`` is a named model: ``--model ALIAS`` loads it
(:func:`lca.models.loading.model_path`).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..store.atomic import write_json_atomic
from ..store.cache import default_cache_dir

__all__ = ["MODEL_INFO", "models_dir", "write_info", "read_info", "local_models", "named_model", "folder_size",
           "parameter_count"]

MODEL_INFO = "lca_model.json"


def models_dir() -> Path:
    """Where model folders are kept: ``$LCA_CACHE_DIR/models``."""
    return default_cache_dir() / "models"


def write_info(folder, info: dict) -> None:
    """Write ``folder``'s ``lca_model.json`` (atomically)."""
    write_json_atomic(Path(folder) / MODEL_INFO, info)


def read_info(folder) -> dict | None:
    """``folder``'s ``lca_model.json``, or None when it has none (or an unreadable one)."""
    try:
        info = json.loads((Path(folder) / MODEL_INFO).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def folder_size(folder) -> int:
    """Bytes of the files in ``folder`` (and below)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def parameter_count(folder) -> int | None:
    """Parameters stored in ``folder``'s ``.safetensors`` files (read from their headers), or None without any."""
    total, found = 0, False
    for file in Path(folder).glob("*.safetensors"):
        try:
            with open(file, "rb") as handle:
                header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
        except (OSError, ValueError):
            return None
        for name, tensor in header.items():
            if name != "__metadata__":
                n = 1
                for dim in tensor["shape"]:
                    n *= dim
                total, found = total + n, True
    return total if found else None


def local_models(root=None) -> list[dict]:
    """The model folders under ``root`` (default :func:`models_dir`) that hold ``lca_model.json`` and a model.

    Each entry is its ``lca_model.json`` with ``path`` set to the folder; newest first.

    >>> import tempfile
    >>> local_models(tempfile.mkdtemp())
    []
    """
    root = Path(root) if root is not None else models_dir()
    found = []
    for info_file in root.glob(f"*/{MODEL_INFO}") if root.is_dir() else ():
        entry = read_info(info_file.parent)
        if entry is not None and (info_file.parent / "config.json").is_file() and \
                not info_file.parent.name.endswith(".partial"):  # one being written (lca.store.atomic)
            found.append({**entry, "path": str(info_file.parent), "mtime": info_file.stat().st_mtime})
    return sorted(found, key=lambda e: -e["mtime"])


def named_model(name: str, root=None) -> Path | None:
    """The folder of the model added as ``name`` (its ``alias``), or None."""
    if not name or "/" in name or "\\" in name:
        return None
    for entry in local_models(root):
        if entry.get("alias") == name:
            return Path(entry["path"])
    return None
