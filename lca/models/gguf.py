"""GGUF files (llama.cpp's format) as Hugging Face model folders: converted once, then loaded as any local model.

transformers reads a GGUF with ``from_pretrained(folder, gguf_file=NAME)`` (the ``gguf`` package
installed), dequantizing every tensor to float32, but its ``save_pretrained`` refuses that model (the
config carries the file's ``quantization_config``).  :func:`convert_gguf` builds the same architecture
from the config without that entry, on the ``meta`` device, hands it the loaded tensors (assigned, not
copied) and saves it with the tokenizer read from the file.  The saved weights are those float32
values, so the folder gives the activations of the GGUF as transformers reads it.

The folder is ``$LCA_CACHE_DIR/models/gguf-<first 16 hex digits of the file's SHA-256>``
(:func:`converted_path`): a file converts once, whatever its name or place; the digest of a file is
remembered by path, size and modification time, so a large file is not read again on every run.  A
conversion is written to a temporary folder and renamed when complete (two processes converting the
same file: the first to finish wins), so an interrupted one leaves nothing that loads.  It says what it
does on stderr, with transformers' progress bar over the tensors.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from .._validation import InputError
from ..store.atomic import atomic_dir, write_json_atomic
from .local import folder_size, models_dir, read_info, write_info

__all__ = ["GGUF_SUFFIX", "find_gguf", "gguf_digest", "gguf_info", "converted_path", "convert_gguf"]

GGUF_SUFFIX = ".gguf"
_DIGESTS = ".gguf-digests.json"  # {absolute path: {"size", "mtime_ns", "sha256"}} under models_dir()
_CHUNK = 1 << 24


def find_gguf(name) -> Path | None:
    """The GGUF file ``name`` stands for: a ``.gguf`` file, or a folder holding exactly one and no ``config.json``
    (a Hugging Face folder that also carries a GGUF loads as itself); None for anything else.

    >>> find_gguf("bert-base-cased") is None
    True
    """
    path = Path(str(name)).expanduser()
    if path.suffix.lower() == GGUF_SUFFIX:
        if not path.is_file():
            raise InputError(f"model {str(name)!r}: no such GGUF file ({path.absolute()})")
        return path.resolve()
    if not path.is_dir() or (path / "config.json").is_file():
        return None
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == GGUF_SUFFIX and p.is_file())
    if len(files) > 1:
        raise InputError(f"model {str(name)!r}: the folder holds {len(files)} GGUF files "
                         f"({', '.join(p.name for p in files[:5])}); give the one to load, e.g. {files[0]}")
    return files[0].resolve() if files else None


def gguf_digest(file, root=None) -> str:
    """SHA-256 (hex) of ``file``, remembered under ``root`` (default :func:`models_dir`) by path, size and mtime."""
    file = Path(file).resolve()
    stat = file.stat()
    index_file = Path(root if root is not None else models_dir()) / _DIGESTS
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError):
        index = {}
    known = index.get(str(file)) if isinstance(index, dict) else None
    if known and known.get("size") == stat.st_size and known.get("mtime_ns") == stat.st_mtime_ns:
        return known["sha256"]
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    index = index if isinstance(index, dict) else {}
    index[str(file)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest.hexdigest()}
    index_file.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(index_file, index)
    return digest.hexdigest()


def gguf_info(file) -> dict:
    """What a GGUF file says of itself: ``{"title", "architecture", "licence", "size_label", "quantization"}``
    (None where it says nothing)."""
    import gguf

    reader = gguf.GGUFReader(str(file))

    def field(key):
        f = reader.fields.get(key)
        try:
            return None if f is None else f.contents()
        except (ValueError, IndexError, TypeError):
            return None

    file_type = field("general.file_type")
    try:
        quantization = gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_") if file_type is not None else None
    except ValueError:
        quantization = str(file_type)
    return {"title": field("general.name"), "architecture": field("general.architecture"),
            "licence": field("general.license"), "size_label": field("general.size_label"),
            "quantization": quantization}


def converted_path(file, root=None) -> Path:
    """The folder the GGUF ``file`` converts into (whether or not it exists yet)."""
    return Path(root if root is not None else models_dir()) / f"gguf-{gguf_digest(file, root)[:16]}"


def convert_gguf(file, root=None, alias: str | None = None, info: dict | None = None) -> Path:
    """The Hugging Face folder of the GGUF ``file`` under ``root`` (default :func:`models_dir`), converting it
    the first time.

    ``alias`` names the model for ``--model`` (:func:`lca.models.local.named_model`); ``info`` joins its
    ``lca_model.json`` (a licence, where the file came from).  Both are added to a folder converted before.
    """
    file = Path(file).resolve()
    root = Path(root if root is not None else models_dir())
    folder = converted_path(file, root)
    existing = read_info(folder)
    if existing is not None and (folder / "config.json").is_file():
        extra = {**(info or {}), **({"alias": alias} if alias else {})}
        if any(existing.get(k) != v for k, v in extra.items()):
            write_info(folder, {**existing, **extra})
        return folder
    print(f"converting {file.name} ({file.stat().st_size / 1e6:,.0f} MB) once into {folder}", file=sys.stderr)
    start = time.perf_counter()
    atomic_dir(folder, lambda tmp: _convert(file, tmp, alias, info or {}, start), keep_existing=True)
    print(f"converted in {time.perf_counter() - start:.0f} s: {folder_size(folder) / 1e6:,.0f} MB", file=sys.stderr)
    return folder


def _convert(file: Path, out: Path, alias: str | None, info: dict, start: float) -> None:
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    kwargs = dict(gguf_file=file.name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(file.parent, **kwargs)
        try:
            auto = AutoModelForCausalLM
            model = auto.from_pretrained(file.parent, dtype=torch.float32, **kwargs)
        except ValueError as err:  # no causal LM head for this architecture (an encoder): the bare model
            if "Unrecognized configuration class" not in str(err):
                raise
            auto = AutoModel
            model = auto.from_pretrained(file.parent, dtype=torch.float32, **kwargs)
    except (OSError, ValueError, KeyError, ImportError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        raise InputError(f"could not read the GGUF file {file}: {first}") from None
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # what makes save_pretrained refuse the model
    with torch.device("meta"):
        plain = auto.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict(), assign=True)  # the dequantized tensors themselves, no copy
    plain.tie_weights()
    out.mkdir(parents=True)
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
    meta = gguf_info(file)
    write_info(out, {"kind": "gguf", **({"alias": alias} if alias else {}), "title": meta["title"],
                     "architecture": meta["architecture"], "licence": meta["licence"],
                     "quantization": meta["quantization"], "parameters": sum(p.numel() for p in plain.parameters()),
                     "gguf_file": str(file), "gguf_sha256": gguf_digest(file, out.parent),
                     "converted_seconds": round(time.perf_counter() - start, 1), **info})
