"""Fail in a second, not after half a minute of retries, when a hub model cannot be had.

``from_pretrained`` on an id that is neither a local folder nor in the Hugging Face cache
retries the hub for ~30 s (five back-offs) before an error about "cached files".  One metadata
request answers the same question at once, and says which of three things went wrong: the hub
is off (``HF_HUB_OFFLINE``), unreachable, or has no such model.
"""
from __future__ import annotations

from pathlib import Path

from .._validation import InputError

__all__ = ["check_model_source"]

_LOCAL_HINT = ("give a local folder that holds config.json, the weights and the tokenizer files "
               "(one saved with save_pretrained), or the bundled default")


def check_model_source(name: str, path: str, revision: str | None = None) -> None:
    """Raise :class:`InputError` when ``path`` is neither a local folder, nor cached, nor on a reachable hub."""
    if Path(path).exists():
        return
    if path.startswith((".", "/", "~")) or path.count("/") > 1:
        raise InputError(f"model {name!r}: no such folder ({Path(path).expanduser().absolute()})")
    from huggingface_hub import constants, model_info, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        if isinstance(try_to_load_from_cache(path, "config.json", revision=revision), str):
            return  # downloaded before: from_pretrained finds it offline
    except HFValidationError:
        raise InputError(f"model {name!r} is neither a local folder nor a valid Hugging Face id; {_LOCAL_HINT}") from None
    if constants.HF_HUB_OFFLINE:
        raise InputError(f"model {name!r} is not a local folder and not in the Hugging Face cache, and the hub is off "
                         f"(HF_HUB_OFFLINE=1); {_LOCAL_HINT}")
    try:
        model_info(path, revision=revision, timeout=10)
    except GatedRepoError:
        return  # exists; from_pretrained explains the access it needs
    except RevisionNotFoundError:
        raise InputError(f"model {name!r} has no revision {revision!r} on the Hugging Face Hub") from None
    except RepositoryNotFoundError:
        raise InputError(f"no model {name!r} on the Hugging Face Hub (or it is private) and no local folder of that "
                         f"name; check the id, or {_LOCAL_HINT}") from None
    except Exception as err:  # noqa: BLE001 - httpx's connection errors: no internet, a proxy, DNS
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise InputError(f"cannot reach the Hugging Face Hub to download {name!r} ({reason}); {_LOCAL_HINT}") from None
