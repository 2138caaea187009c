"""Models to compare against: a fine-tuned copy and a random-weights control of a base model.

:func:`finetune` trains ``AutoModelForSequenceClassification`` on top of a base model for a
fixed number of steps on labelled sentences, reports accuracy on a held-out slice and saves
the whole classifier (its config names the architecture and ``id2label``) and its tokenizer:
:func:`lca.models.extract.load_model` loads its encoder like any other model (the head is skipped), so
the same LCA run can be repeated on it (Section 5.4 of the paper).  :func:`random_model`
saves the same architecture re-initialized from its config: how much of a finding does
pre-training explain?  Each folder carries ``lca_model.json`` (what it is and how it was made);
:func:`lca.models.local.local_models` lists the folders under ``$LCA_CACHE_DIR/models`` (``local_models``,
``models_dir`` and ``MODEL_INFO`` are also importable from here).

Sentences come from a file of ``label<TAB>sentence`` lines or from the named source
``sentence-polarity`` (Pang & Lee's 5,331 + 5,331 movie-review sentences), read in place from
``$LCA_DATA_DIR`` or ``../shared/data`` (``sentence_polarity/sentence_polarity/rt-polarity.{pos,neg}``).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .._validation import InputError, check_choice, check_fraction, check_positive, read_text_lines
from .local import MODEL_INFO, local_models, models_dir, write_info
from .loading import DEFAULT_MODEL, load_error, model_path, pick_device, quiet_transformers, with_pad_token

__all__ = ["SENTENCE_POLARITY", "FinetuneConfig", "FinetuneResult", "LabelledSentences", "read_labelled",
           "load_sentences", "finetune", "random_model", "local_models", "models_dir", "MODEL_INFO"]

SENTENCE_POLARITY = "sentence-polarity"
_POLARITY_FILES = {"positive": "sentence_polarity/sentence_polarity/rt-polarity.pos",
                   "negative": "sentence_polarity/sentence_polarity/rt-polarity.neg"}
_SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

Progress = Callable[[int, int, float], None]  # (step, total steps, training loss)


@dataclass(frozen=True)
class LabelledSentences:
    """Sentences with one label each.

    Attributes
    ----------
    texts : tuple of str, length n
    labels : tuple of str, length n
    name : str
        Where they came from (a file path or ``sentence-polarity``).
    """

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    name: str

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.labels)))


def read_labelled(path) -> LabelledSentences:
    """Read ``label<TAB>sentence`` lines (blank lines skipped; a malformed line is reported with its number).

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "s.tsv"
    >>> _ = f.write_text("pos\\tgood film\\nneg\\tdull\\n")
    >>> read_labelled(f).labels
    ('pos', 'neg')
    """
    texts, labels = [], []
    for number, line in enumerate(read_text_lines(path), start=1):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        if not tab or not label.strip() or not text.strip():
            raise InputError(f"{path}, line {number}: expected 'label<TAB>sentence', got {line[:60]!r}")
        texts.append(text.strip())
        labels.append(label.strip())
    return _checked(LabelledSentences(tuple(texts), tuple(labels), str(path)))


def _checked(data: LabelledSentences) -> LabelledSentences:
    if len(data.classes) < 2:
        raise InputError(f"{data.name}: sentence classification needs at least 2 labels; found {list(data.classes)}")
    return data


def _polarity(data_dir=None) -> LabelledSentences:
    folders = [Path(d) for d in (data_dir, os.environ.get("LCA_DATA_DIR")) if d] + [_SHARED_DATA]
    for folder in folders:
        if all((folder / rel).is_file() for rel in _POLARITY_FILES.values()):
            texts, labels = [], []
            for label, rel in _POLARITY_FILES.items():
                lines = [s.strip() for s in read_text_lines(folder / rel) if s.strip()]
                texts += lines
                labels += [label] * len(lines)
            return _checked(LabelledSentences(tuple(texts), tuple(labels), SENTENCE_POLARITY))
    raise InputError(f"{SENTENCE_POLARITY}: {_POLARITY_FILES['positive']} (and .neg) not found in "
                     f"{' or '.join(map(str, folders))}; set LCA_DATA_DIR to the folder that holds sentence_polarity/")


def load_sentences(source: str, data_dir=None) -> LabelledSentences:
    """``sentence-polarity`` or a path to a ``label<TAB>sentence`` file."""
    if source == SENTENCE_POLARITY:
        return _polarity(data_dir)
    if not Path(source).is_file():
        raise InputError(f"data must be {SENTENCE_POLARITY!r} or a file of 'label<TAB>sentence' lines; "
                         f"{source!r} is neither")
    return read_labelled(source)


@dataclass(frozen=True)
class FinetuneConfig:
    """Settings of a fine-tuning run.

    >>> FinetuneConfig.from_dict(FinetuneConfig(steps=5).to_dict()) == FinetuneConfig(steps=5)
    True
    """

    model: str = DEFAULT_MODEL
    data: str = SENTENCE_POLARITY
    steps: int = 150
    batch_size: int = 16
    lr: float = 5e-5
    max_length: int = 64
    seed: int = 0
    device: str = "auto"
    dev_fraction: float = 0.1
    max_dev: int = 500  # the held-out slice is capped: evaluation must stay cheap on a CPU

    def __post_init__(self):
        for name in ("steps", "batch_size", "max_length", "max_dev"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("seed", self.seed, integer=True, allow_zero=True)
        check_positive("lr", self.lr)
        check_fraction("dev_fraction", self.dev_fraction)
        check_choice("device", self.device, ("auto", "cpu", "cuda"))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FinetuneConfig":
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise InputError(f"unknown fine-tuning settings {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**data)


@dataclass(frozen=True)
class FinetuneResult:
    """What :func:`finetune` produced.

    Attributes
    ----------
    path : str
        The saved classifier folder (its encoder loadable by :func:`lca.models.extract.load_model`).
    classes : tuple of str
        Label names, in the classifier's output order.
    dev_accuracy : float
        Accuracy on the held-out slice after training (a fraction in [0, 1]).
    dev_majority : float
        Accuracy of always answering the most frequent training label, on the same slice.
    losses : tuple of float, length steps
        Training loss of each step.
    """

    path: str
    base_model: str
    data: str
    classes: tuple[str, ...]
    n_train: int
    n_dev: int
    dev_accuracy: float
    dev_majority: float
    losses: tuple[float, ...]
    seconds: float
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**asdict(self), "classes": list(self.classes), "losses": list(self.losses)}


def _split(n: int, config: FinetuneConfig) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(config.seed).permutation(n)
    n_dev = min(config.max_dev, max(1, int(round(config.dev_fraction * n))), n - 1)
    return order[n_dev:], order[:n_dev]


def _evaluate(clf, tok, texts, y, config, device) -> float:
    import torch

    clf.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            enc = tok(list(texts[start:start + 64]), truncation=True, max_length=config.max_length, padding=True,
                      return_tensors="pt").to(device)
            correct += int((clf(**enc).logits.argmax(-1).cpu().numpy() == y[start:start + 64]).sum())
    return correct / max(len(texts), 1)


def finetune(config: FinetuneConfig, out, progress: Progress | None = None, data_dir=None) -> FinetuneResult:
    """Fine-tune ``config.model`` for sentence classification and save the classifier in ``out``.

    Adam with linear warm-up (10 % of the steps) and linear decay; batches are drawn with
    replacement-free epochs over the training part, seeded.  ``progress(step, steps, loss)``
    is called after each step; an exception raised from it stops the run and nothing is saved.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    quiet_transformers()
    data = load_sentences(config.data, data_dir)
    if len(data.texts) < 10:
        raise InputError(f"{data.name}: {len(data.texts)} sentences; at least 10 are needed (some are held out)")
    out = Path(out)
    path = model_path(config.model)
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    try:
        tok = with_pad_token(AutoTokenizer.from_pretrained(path))
        clf = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(data.classes), dtype=torch.float32)
    except (OSError, ValueError, KeyError) as err:
        raise load_error(config.model, err) from None
    if clf.config.pad_token_id is None:
        clf.config.pad_token_id = tok.pad_token_id
    clf.to(device)
    y = np.searchsorted(np.array(data.classes), np.array(data.labels))
    train_idx, dev_idx = _split(len(y), config)
    rng = np.random.default_rng(config.seed + 1)
    optim = torch.optim.AdamW(clf.parameters(), lr=config.lr, weight_decay=0.01)
    warm = max(1, config.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warm, max(0.0, (config.steps - s) / max(1, config.steps - warm))))
    losses, queue, start = [], np.array([], dtype=np.int64), time.perf_counter()
    clf.train()
    for step in range(config.steps):
        while len(queue) < config.batch_size:
            queue = np.concatenate([queue, rng.permutation(train_idx)])
        batch, queue = queue[:config.batch_size], queue[config.batch_size:]
        enc = tok([data.texts[i] for i in batch], truncation=True, max_length=config.max_length, padding=True,
                  return_tensors="pt").to(device)
        loss = clf(**enc, labels=torch.as_tensor(y[batch], device=device)).loss
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(clf.parameters(), 1.0)
        optim.step()
        sched.step()
        losses.append(float(loss.item()))
        if not math.isfinite(losses[-1]):
            raise InputError(f"the training loss became {losses[-1]} at step {step + 1}: lower --lr (now {config.lr:g})")
        if progress is not None:
            progress(step + 1, config.steps, losses[-1])
    dev_acc = _evaluate(clf, tok, [data.texts[i] for i in dev_idx], y[dev_idx], config, device)
    majority = float(np.mean(y[dev_idx] == np.bincount(y[train_idx], minlength=len(data.classes)).argmax()))
    result = FinetuneResult(str(out), config.model, data.name, data.classes, len(train_idx), len(dev_idx), dev_acc,
                            majority, tuple(losses), round(time.perf_counter() - start, 1), config.to_dict())
    out.mkdir(parents=True, exist_ok=True)
    # the whole classifier: AutoModel still loads its encoder (the head's weights are skipped), and
    # lca.causal.classifier can score the head under silencing
    clf.config.id2label = dict(enumerate(data.classes))
    clf.config.label2id = {c: i for i, c in enumerate(data.classes)}
    clf.save_pretrained(out)
    tok.save_pretrained(out)
    write_info(out, {"kind": "finetuned", **{k: v for k, v in result.to_dict().items() if k != "losses"},
                      "final_loss": float(np.mean(losses[-10:])),
                      "dev_indices": [int(i) for i in dev_idx]})  # rows of the data as read: the held-out slice
    return result


def random_model(model: str, out, seed: int = 0) -> Path:
    """Save ``model``'s architecture with fresh random weights (from its config, seeded) and its tokenizer.

    Returns the folder, loadable by :func:`lca.models.extract.load_model`.
    """
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    check_positive("seed", seed, integer=True, allow_zero=True)
    quiet_transformers()
    path = model_path(model)
    try:
        config = AutoConfig.from_pretrained(path)
        tok = with_pad_token(AutoTokenizer.from_pretrained(path))
    except (OSError, ValueError, KeyError) as err:
        raise load_error(model, err) from None
    torch.manual_seed(seed)
    encoder = AutoModel.from_config(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    encoder.save_pretrained(out)
    tok.save_pretrained(out)
    write_info(out, {"kind": "random", "base_model": model, "path": str(out), "seed": seed})
    return out
