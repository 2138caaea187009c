"""The model's own predictions under silencing: masked-word or next-word loss and accuracy per tag.

Only a checkpoint whose pretrained head loads is scored: a head that ``from_pretrained`` would
have to initialize at random (e.g. the bundled all-MiniLM-L6-v2, saved without one) predicts
nothing, so :func:`load_lm_head` returns None for it.

*Masked LM* (BERT-style): every sentence is run :data:`MASK_EVERY` times, copy j masking all the
subword tokens of words ``j, j + M, j + 2M, ...`` (about the 15 % BERT was trained with); a word's
loss is the mean cross-entropy of its tokens, and it is right when every token is.  *Causal LM*
(GPT-2-style): one pass; word i is scored from the tokens before it (after the BOS token where
the tokenizer has one; without one the first word has no context and is not scored).
Scores are split by the gold tag of the predicted word: silencing VBG neurons should hurt gerunds
more than other words.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
import torch

from .._validation import InputError
from ..method.ablate import mean_sd
from ..models.blocks import layer_sites
from ..models.extract import LoadedModel
from .intervene import condition_plan, silence

__all__ = ["MASK_EVERY", "load_lm_head", "head_sites", "lm_word_scores", "lm_effects", "typed_predictions"]

MASK_EVERY = 6


def load_lm_head(loaded: LoadedModel, trust_remote_code: bool = False):
    """``(model with head, "masked" | "causal")`` for ``loaded``'s checkpoint, or None if it has no head.

    The head model shares nothing with ``loaded.model``; its layer sites come from its own
    base model (:func:`head_sites`).
    """
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    path = loaded.path  # resolved by load_model (the bundled folder for the default model)
    kwargs = dict(revision=loaded.revision, trust_remote_code=trust_remote_code)
    archs = " ".join(loaded.model.config.architectures or [])  # as config.json names them
    if "MaskedLM" in archs or "ForPreTraining" in archs:
        kind, auto = "masked", AutoModelForMaskedLM
    elif "CausalLM" in archs or "LMHead" in archs:
        kind, auto = "causal", AutoModelForCausalLM
    else:
        return None
    try:
        model, info = auto.from_pretrained(path, dtype=loaded.dtype, output_loading_info=True, **kwargs)
    except (OSError, ValueError, KeyError):
        return None
    prefix = getattr(model, "base_model_prefix", "")
    if [k for k in info.get("missing_keys", []) if not k.startswith(prefix)]:
        return None  # the head would be random
    return model.to(loaded.device).eval(), kind


def head_sites(loaded: LoadedModel, head_model: torch.nn.Module):
    """Layer sites of the head model, found on its base model (``model.bert``, ``model.transformer``)."""
    return layer_sites(dataclasses.replace(loaded, model=head_model.base_model))


def _sequences(tokenizer, sentences, kind: str, limit: int):
    """``(input ids, target ids, word row per target)`` per sequence; -1 where a position is not scored."""
    seqs, row = [], 0
    bos = tokenizer.bos_token_id if kind == "causal" else None
    for words in sentences:
        enc = tokenizer(list(words), is_split_into_words=True, truncation=True, max_length=limit - (bos is not None))
        ids = np.asarray(enc["input_ids"], dtype=np.int64)
        wid = np.asarray([-1 if w is None else w for w in enc.word_ids()], dtype=np.int64)
        rows = np.where(wid >= 0, wid + row, -1)
        if kind == "causal":
            if bos is not None and (len(ids) == 0 or ids[0] != bos):
                ids, rows = np.concatenate([[bos], ids]), np.concatenate([[-1], rows])
            # position t predicts token t+1
            seqs.append((ids, np.concatenate([ids[1:], [-1]]), np.concatenate([rows[1:], [-1]])))
        else:
            for j in range(min(MASK_EVERY, len(words))):
                masked = (wid >= 0) & (wid % MASK_EVERY == j)
                seqs.append((np.where(masked, tokenizer.mask_token_id, ids), np.where(masked, ids, -1),
                             np.where(masked, rows, -1)))
        row += len(words)
    return seqs, row


def _head_module(model: torch.nn.Module) -> torch.nn.Module | None:
    """The one child beside the base model (BERT's ``cls``, GPT-2's ``lm_head``), or None."""
    others = [m for name, m in model.named_children() if name != model.base_model_prefix]
    return others[0] if len(others) == 1 else None


def _scored_logits(model, ids: torch.Tensor, mask: torch.Tensor, k: int, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``(k, n, V)`` float logits at positions ``(b, t)`` of each of the k stacked copies.

    The head runs on the scored positions only (a masked LM scores ~1 token in 6; the vocabulary
    projection costs about as much as the encoder), else on every position.
    """
    head = _head_module(model)
    if head is None:
        logits = model(input_ids=ids, attention_mask=mask).logits
        return logits.view(k, -1, *logits.shape[1:])[:, b, t].float()
    hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
    picked = hidden.view(k, -1, *hidden.shape[1:])[:, b, t]  # (k, n, size)
    return head(picked.reshape(-1, picked.shape[-1])).view(k, len(b), -1).float()


@torch.inference_mode()
def lm_word_scores(loaded: LoadedModel, head_model, kind: str, sentences: Sequence[Sequence[str]],
                   conditions: Sequence, values=None, sites=None, max_stack: int = 4,
                   progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(loss, right)``, each ``(K, n_words)``: per condition, each word's mean token cross-entropy and
    whether all its tokens were predicted; NaN for words not scored."""
    sites = sites or head_sites(loaded, head_model)
    tok = loaded.tokenizer
    seqs, n_words = _sequences(tok, sentences, kind, loaded.max_tokens)
    K = len(conditions)
    loss_sum, wrong, n_tok = np.zeros((K, n_words)), np.zeros((K, n_words)), np.zeros(n_words)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i][0]))
    budget = 4_096 if loaded.device.type == "cuda" else 512  # tokens per pass, all copies: logits are tokens × vocabulary
    for start in range(0, K, max_stack):
        group = list(conditions[start:start + max_stack])
        k, i = len(group), 0
        with silence(sites, group, loaded.layer_size, values):
            while i < len(order):
                batch = [seqs[order[i]]]  # sorted by length: the last one added is the longest
                while i + len(batch) < len(order) and \
                        (len(batch) + 1) * len(seqs[order[i + len(batch)]][0]) * k <= budget:
                    batch.append(seqs[order[i + len(batch)]])
                i += len(batch)
                width = max(len(s[0]) for s in batch)
                pad = lambda a, v: np.stack([np.pad(s, (0, width - len(s)), constant_values=v) for s in a])  # noqa: E731
                ids, target, rows = pad([s[0] for s in batch], tok.pad_token_id), pad([s[1] for s in batch], -1), \
                    pad([s[2] for s in batch], -1)
                mask = pad([np.ones(len(s[0]), np.int64) for s in batch], 0)
                ids_t, mask_t = (torch.from_numpy(a).to(loaded.device).repeat(k, 1) for a in (ids, mask))
                b, t = np.nonzero(target >= 0)
                picked = _scored_logits(head_model, ids_t, mask_t, k, torch.from_numpy(b), torch.from_numpy(t))
                gold = torch.from_numpy(target[b, t]).to(loaded.device)
                ce = torch.nn.functional.cross_entropy(picked.transpose(1, 2), gold.expand(k, -1), reduction="none")
                miss, ce, words = (picked.argmax(-1) != gold).cpu().numpy(), ce.cpu().numpy(), rows[b, t]
                for c in range(k):
                    np.add.at(loss_sum[start + c], words, ce[c])
                    np.add.at(wrong[start + c], words, miss[c])
                if start == 0:  # the same tokens are scored under every condition
                    np.add.at(n_tok, words, 1)
                if progress is not None:
                    progress(start * len(order) + i * k, K * len(order))
    counts = np.where(n_tok > 0, n_tok, np.nan)
    return loss_sum / counts, np.where(np.isnan(counts), np.nan, (wrong == 0).astype(float))


def _scores(loss: np.ndarray, right: np.ndarray, labels: np.ndarray, tags) -> dict:
    ok = ~np.isnan(loss)
    per_tag = {str(t): {"loss": float(loss[ok & (labels == t)].mean()), "accuracy": float(right[ok & (labels == t)].mean()),
                        "n": int(np.sum(ok & (labels == t)))} for t in tags if np.any(ok & (labels == t))}
    return {"loss": float(loss[ok].mean()), "accuracy": float(right[ok].mean()), "per_tag": per_tag}


def lm_effects(loaded: LoadedModel, head, result, test, sets: dict, mode: str = "zero", means=None, draws: int = 5,
               heatmap_tags: Sequence[str] = (), seed: int = 0, max_stack: int = 4, progress=None) -> dict:
    """Loss and accuracy of the model's own predictions with each of ``sets`` silenced (every layer),
    against layer-matched random draws and bottom neurons; per-tag loss changes for ``heatmap_tags``.

    ``head`` is :func:`load_lm_head`'s ``(model, kind)``.  Returns a JSON-ready dict.
    """
    from ..data.corpus import task_examples

    model, kind = head
    ex = task_examples(test, result.task)
    if ex.rows.ndim == 2:
        raise InputError(f"task {result.task!r} does not label single words; the LM check needs a word-level task")
    labels = np.full(test.n_words, "", dtype=object)
    labels[ex.rows] = ex.labels  # a word without a label (``_``) counts in the totals, in no tag
    plan = condition_plan(sets, result, draws, seed, heatmap_tags)
    loss, right = lm_word_scores(loaded, model, kind, test.sentences, plan.conditions,
                                 means if mode == "mean" else None, max_stack=max_stack, progress=progress)
    tags = tuple(result.tags)
    scores = [_scores(loss[k], right[k], labels, tags) for k in range(len(plan.conditions))]
    out = {"kind": kind, "mask_every": MASK_EVERY if kind == "masked" else None, "clean": scores[0], "sets": []}
    for name, chosen, top, randoms, bottom in plan.set_scores(scores):
        (loss_m, loss_sd), (acc_m, acc_sd) = (mean_sd([r[key] for r in randoms]) for key in ("loss", "accuracy"))
        out["sets"].append({
            "name": name, "n_neurons": len(chosen), "top": top, "bottom": bottom,
            "random": {"loss": loss_m, "loss_sd": loss_sd, "accuracy": acc_m, "accuracy_sd": acc_sd,
                       "loss_draws": [r["loss"] for r in randoms],
                       "per_tag": {t: {"loss": float(np.mean([r["per_tag"][t]["loss"] for r in randoms])),
                                       "accuracy": float(np.mean([r["per_tag"][t]["accuracy"] for r in randoms]))}
                                   for t in scores[0]["per_tag"]}}})
    if heatmap_tags:
        clean = scores[0]["per_tag"]
        delta = lambda s: [s["per_tag"][t]["loss"] - clean[t]["loss"] if t in clean else None  # noqa: E731
                           for t in heatmap_tags]
        by_tag = plan.tag_scores(scores)
        out["heatmap"] = {"tags": list(heatmap_tags), "own": [delta(own) for _, _, own, _ in by_tag],
                          "random": [delta(rand) for _, _, _, rand in by_tag]}
    return out


@torch.inference_mode()
def typed_predictions(loaded: LoadedModel, head_model, kind: str, words: Sequence[str], conditions: Sequence,
                      values=None, sites=None) -> list[list[str]]:
    """The model's top guess for each typed word under each condition: ``[condition][word]``.

    Masked LM: the word's tokens masked, one word at a time, the guess for its first token;
    causal LM: the next token guessed just before the word (after BOS, if any).
    """
    sites = sites or head_sites(loaded, head_model)
    tok = loaded.tokenizer
    enc = tok(list(words), is_split_into_words=True, truncation=True, max_length=loaded.max_tokens - 1)
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    wid = np.asarray([-1 if w is None else w for w in enc.word_ids()], dtype=np.int64)
    first = {int(w): int(np.argmax(wid == w)) for w in np.unique(wid[wid >= 0])}
    if kind == "causal":
        bos = tok.bos_token_id
        if bos is not None:
            ids, first = np.concatenate([[bos], ids]), {w: p + 1 for w, p in first.items()}
        batch, where = ids[None], [(0, p - 1) for p in first.values()]
    else:
        batch = np.stack([np.where(wid == w, tok.mask_token_id, ids) for w in first])
        where = list(enumerate(first.values()))
    K = len(conditions)
    with silence(sites, conditions, loaded.layer_size, values):
        logits = head_model(input_ids=torch.from_numpy(batch).to(loaded.device).repeat(K, 1)).logits
    logits = logits.view(K, len(batch), batch.shape[1], -1)
    out = []
    for k in range(K):
        guess = {w: (tok.decode([int(logits[k, b, p].argmax())]).strip() if p >= 0 else "")
                 for w, (b, p) in zip(first, where)}
        out.append([guess.get(i, "") for i in range(len(words))])
    return out
