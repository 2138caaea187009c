"""A fine-tuned sentence classifier's accuracy under silencing.

A folder written by ``lca finetune`` holds the whole ``AutoModelForSequenceClassification`` and,
in ``lca_model.json``, the rows of its data it held out (``dev_indices``).  :func:`load_classifier`
loads it (None for any other model); :func:`classifier_effects` scores the held-out sentences
clean and with each neuron set silenced in every layer of the classifier's own encoder, against
layer-matched random draws and the least salient neurons (:mod:`lca.causal.intervene`).  Conditions
are batched like the LM check: K sets, one forward pass over the batch stacked K times.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .._validation import InputError
from ..method.ablate import mean_sd
from ..models.loading import LoadedModel, with_pad_token
from .intervene import condition_plan, silence

__all__ = ["Classifier", "load_classifier", "classifier_predictions", "classifier_effects"]


@dataclasses.dataclass(frozen=True)
class Classifier:
    """A fine-tuned classifier and its held-out sentences.

    ``labels`` are class indices, shape (n,), in the order of ``classes`` (the head's outputs).
    """

    model: torch.nn.Module
    tokenizer: object
    texts: tuple
    labels: np.ndarray
    classes: tuple
    data: str
    max_length: int
    dev_accuracy: float | None
    dev_majority: float | None


def load_classifier(loaded: LoadedModel, data_dir=None) -> Classifier | None:
    """The classifier of ``loaded``'s folder if ``lca finetune`` made it with its head, else None.

    Raises :class:`InputError` when the folder is a fine-tuned classifier but its held-out
    sentences cannot be read again.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ..models.finetune import MODEL_INFO, load_sentences

    path = Path(loaded.path)  # resolved by load_model (the bundled folder for the default model)
    info_file = path / MODEL_INFO
    if not info_file.is_file():
        return None
    info = json.loads(info_file.read_text())
    archs = " ".join(loaded.model.config.architectures or [])  # as config.json names them
    if info.get("kind") != "finetuned" or "ForSequenceClassification" not in archs:
        return None  # a random control, or a folder saved before the head was kept
    if not info.get("dev_indices"):
        raise InputError(f"{info_file} does not list its held-out sentences (dev_indices): fine-tune it again "
                         "with `lca finetune`, or pass --no-classifier")
    data = load_sentences(info["config"]["data"], data_dir)
    classes = tuple(info["classes"])
    if data.classes != classes:
        raise InputError(f"{data.name} now has labels {list(data.classes)}, the classifier {list(classes)}: "
                         "the data changed since fine-tuning")
    rows = np.asarray(info["dev_indices"], dtype=np.int64)
    if rows.max() >= len(data.texts):
        raise InputError(f"{data.name} has {len(data.texts)} sentences but the held-out rows go up to {rows.max()}: "
                         "the data changed since fine-tuning")
    model = AutoModelForSequenceClassification.from_pretrained(path, dtype=loaded.dtype).to(loaded.device).eval()
    labels = np.searchsorted(np.array(classes), np.array([data.labels[i] for i in rows]))
    tok = with_pad_token(AutoTokenizer.from_pretrained(path))
    return Classifier(model, tok, tuple(data.texts[i] for i in rows), labels, classes, data.name,
                      int(info["config"].get("max_length", 64)), info.get("dev_accuracy"), info.get("dev_majority"))


@torch.inference_mode()
def classifier_predictions(loaded: LoadedModel, clf: Classifier, conditions: Sequence, values=None, max_stack: int = 8,
                           progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """``(K, n)`` predicted class of each held-out sentence with ``conditions[k]`` (flat neuron ids) silenced."""
    from .lm import head_sites

    sites = head_sites(loaded, clf.model)
    K, n = len(conditions), len(clf.texts)
    guesses = np.zeros((K, n), dtype=np.int64)
    batch = 32 if loaded.device.type == "cuda" else 16  # sentences per pass, before stacking
    for start in range(0, K, max_stack):
        group = list(conditions[start:start + max_stack])
        k = len(group)
        with silence(sites, group, loaded.layer_size, values):
            for i in range(0, n, batch):
                enc = clf.tokenizer(list(clf.texts[i:i + batch]), truncation=True, max_length=clf.max_length,
                                    padding=True, return_tensors="pt").to(loaded.device)
                logits = clf.model(input_ids=enc["input_ids"].repeat(k, 1),
                                   attention_mask=enc["attention_mask"].repeat(k, 1)).logits
                guesses[start:start + k, i:i + batch] = logits.argmax(-1).view(k, -1).cpu().numpy()
                if progress is not None:
                    progress(start * n + min(i + batch, n) * k, K * n)
    return guesses


def classifier_effects(loaded: LoadedModel, clf: Classifier, result, sets: dict, mode: str = "zero", means=None,
                       draws: int = 5, seed: int = 0, max_stack: int = 8, progress=None) -> dict:
    """Held-out accuracy clean and with each of ``sets`` silenced, against layer-matched random draws
    (mean ± sd) and bottom neurons.  Returns a JSON-ready dict."""
    plan = condition_plan(sets, result, draws, seed)
    guesses = classifier_predictions(loaded, clf, plan.conditions, means if mode == "mean" else None, max_stack,
                                     progress)
    acc = [float(a) for a in (guesses == clf.labels).mean(axis=1)]
    majority = float(np.bincount(clf.labels, minlength=len(clf.classes)).max() / max(len(clf.labels), 1))
    out = {"data": clf.data, "classes": list(clf.classes), "n_sentences": len(clf.texts),
           "finetune_dev_accuracy": clf.dev_accuracy, "held_out_majority": majority, "clean": acc[0], "sets": []}
    for name, chosen, top, randoms, bottom in plan.set_scores(acc):
        mean, sd = mean_sd(randoms)
        out["sets"].append({"name": name, "n_neurons": len(chosen), "top": top, "bottom": bottom,
                            "random": {"accuracy": mean, "sd": sd, "draws": randoms}})
    return out
