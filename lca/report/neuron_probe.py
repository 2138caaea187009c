"""The probe against single neurons: where LCA's ranking and each neuron's own evidence (:mod:`.neuron_stats`)
agree, and what they disagree on, in figures and in words.

For a tag, a neuron the probe made salient for it (``result.per_tag[tag]``) that is weak alone (not
significant, or strength below ``weak``) is **distributed**: it helps only together with others.  A strong
detector (significant, strength ≥ ``strong``) the probe left out of the tag's set is **redundant**: what it
says, other neurons already say.  Strength is the AUROC of the better direction (0.5 chance, 1 perfect).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from .._validation import InputError
from .neuron_search import labeller, lca_ranks
from .neuron_stats import NeuronStats

__all__ = ["STRONG", "WEAK", "pareto_front", "probe_vs_single", "disagreement", "disagreement_lines"]

STRONG, WEAK = 0.8, 0.6


def pareto_front(strength: np.ndarray, selectivity: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both strength and selectivity, strongest first.

    >>> pareto_front(np.array([0.9, 0.8, 0.7, 0.95]), np.array([0.1, 0.3, 0.2, 0.05])).tolist()
    [3, 0, 1]
    """
    strength = np.nan_to_num(np.asarray(strength, float), nan=-np.inf)
    selectivity = np.nan_to_num(np.asarray(selectivity, float), nan=-np.inf)
    order = np.lexsort((-selectivity, -strength))
    front, best = [], -np.inf
    for i in order:
        if selectivity[i] > best and np.isfinite(strength[i]):
            front.append(int(i))
            best = selectivity[i]
    return np.asarray(front, dtype=np.int64)


def probe_vs_single(stats: NeuronStats, result, tag: str, alpha: float = 0.05, strong: float = STRONG,
                    weak: float = WEAK) -> dict:
    """Per feature, for ``tag``: LCA rank, probe weight, whether the probe made it salient for the tag, strength,
    selectivity, significance and its ``kind`` (``distributed``, ``redundant``, ``agree``: salient and strong,
    or ``""``), with the Spearman correlation of |weight| (else −rank) and strength and the Pareto front.

    Returns a dict of (F,) arrays and ``{"tag", "rho", "front", "counts"}``.
    """
    if tag not in stats.tags:
        raise InputError(f"tag must be one of {', '.join(stats.tags)}; got {tag!r}")
    t = stats.tags.index(tag)
    flats = stats.neurons
    ranks = lca_ranks(result, flats)
    probe_t = list(result.tags).index(tag) if tag in result.tags else -1
    weights = (np.asarray(result.weights[flats, probe_t], float) if result.weights is not None and probe_t >= 0
               and np.max(flats, initial=0) < result.weights.shape[0] else None)
    salient = np.isin(flats, np.asarray(result.per_tag.get(tag, []), dtype=np.int64))
    strength, selectivity = stats.strength[:, t].astype(float), stats.selectivity[:, t].astype(float)
    sig = stats.significant(alpha)[:, t]
    strong_alone = sig & (strength >= strong)
    weak_alone = ~sig | ~(strength >= weak)
    kind = np.where(salient & weak_alone, "distributed",
                    np.where(~salient & strong_alone, "redundant", np.where(salient & strong_alone, "agree", "")))
    x = np.abs(weights) if weights is not None else -ranks.astype(float)
    ok = np.isfinite(strength)
    rho = float(spearmanr(x[ok], strength[ok]).statistic) if ok.sum() > 2 and np.ptp(x[ok]) > 0 else float("nan")
    return {"tag": tag, "neuron": flats, "label": [labeller(result)(f) for f in flats], "lca_rank": ranks,
            "weight": weights, "salient": salient, "strength": strength, "selectivity": selectivity,
            "significant": sig, "kind": kind, "rho": rho, "front": pareto_front(strength, selectivity),
            "counts": {k: int((kind == k).sum()) for k in ("distributed", "redundant", "agree")},
            "n_salient": int(salient.sum()), "n_strong": int(strong_alone.sum())}


def disagreement(stats: NeuronStats, result, alpha: float = 0.05, strong: float = STRONG, weak: float = WEAK) -> dict:
    """Over every tag: salient (tag, neuron) pairs weak alone, strong detectors outside their tag's set, and the
    tags where each is most common. ``{"n_salient", "distributed", "n_strong", "redundant", "per_tag"}``."""
    per_tag, totals = [], {"n_salient": 0, "distributed": 0, "n_strong": 0, "redundant": 0}
    for tag in stats.tags:
        if not stats.n_pos[stats.tags.index(tag)]:
            continue
        v = probe_vs_single(stats, result, tag, alpha, strong, weak)
        row = {"tag": tag, "n_salient": v["n_salient"], "distributed": v["counts"]["distributed"],
               "n_strong": v["n_strong"], "redundant": v["counts"]["redundant"], "rho": v["rho"]}
        per_tag.append(row)
        for key in totals:
            totals[key] += row[key]
    return {**totals, "per_tag": per_tag, "strong": strong, "weak": weak, "alpha": alpha}


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "0 %"


def disagreement_lines(summary: dict, tag=str) -> list[str]:
    """The disagreement of :func:`disagreement` in sentences; ``tag`` formats a tag (e.g. escaped for markdown)."""
    s = summary
    lines = [f"The probe made {s['n_salient']:,} (tag, neuron) pairs salient; {s['distributed']:,} of them "
             f"({_share(s['distributed'], s['n_salient'])}) are weak alone (not significant at FDR {s['alpha']:g}, or "
             f"AUROC below {s['weak']:g}): distributed, they help only together with other neurons."]
    lines.append(f"{s['n_strong']:,} pairs are strong single-neuron detectors (significant, AUROC ≥ {s['strong']:g}); "
                 f"{s['redundant']:,} of them ({_share(s['redundant'], s['n_strong'])}) are not in their tag's salient "
                 "set: redundant, the probe reads the same evidence from other neurons.")
    rows = [r for r in s["per_tag"] if r["n_salient"]]
    if rows:
        most = max(rows, key=lambda r: (r["distributed"] / r["n_salient"], r["n_salient"]))
        lines.append(f"Most distributed: {tag(most['tag'])} ({most['distributed']} of its {most['n_salient']} salient "
                     "neurons are weak alone).")
    rows = [r for r in s["per_tag"] if r["n_strong"]]
    if rows:
        most = max(rows, key=lambda r: (r["redundant"], r["n_strong"]))
        lines.append(f"Most redundant: {tag(most['tag'])} ({most['redundant']} of its {most['n_strong']} strong detectors "
                     "are outside its salient set).")
    rhos = [r["rho"] for r in s["per_tag"] if np.isfinite(r["rho"])]
    if rhos:
        lines.append(f"Across neurons, probe weight and single-neuron strength correlate with a median Spearman ρ of "
                     f"{float(np.median(rhos)):.2f} over {len(rhos)} tags (1: the probe ranks as the neurons alone would).")
    return lines
