"""Repeat a run with several seeds and report every table figure as mean ± sd (the paper
averages 3 runs).  The seed decides the probes' start, the batch order, the development split
and the random baselines; the activations are the same."""
from __future__ import annotations

from ..method.ablate import mean_sd
from .sections import Seeds, Spread

__all__ = ["FIGURES", "aggregate_seeds"]

# name: how to read it from an LCAResult
FIGURES = {
    "oracle_accuracy": lambda r: r.oracle_accuracy,
    "noreg_accuracy": lambda r: r.noreg_accuracy,
    "minimal_fraction": lambda r: r.minimal.fraction,
    "minimal_accuracy": lambda r: r.minimal.accuracy,
    "ablation_top": lambda r: r.ablation.top,
    "ablation_random": lambda r: r.ablation.random,
    "ablation_bottom": lambda r: r.ablation.bottom,
    "ablation_weight_magnitude": lambda r: r.ablation.weight_magnitude,
    "gap": lambda r: r.ablation.top - r.ablation.random,
    "retrain_top": lambda r: r.retrain.top,
    "retrain_random": lambda r: r.retrain.random,
    "retrain_bottom": lambda r: r.retrain.bottom,
    "selectivity_all": lambda r: r.selectivity.all,
    "selectivity_top": lambda r: r.selectivity.top,
    "probeless": lambda r: r.probeless.accuracy,
}


def aggregate_seeds(results) -> Seeds:
    """Every figure of :data:`FIGURES` as mean ± sd over runs that differ only by seed."""
    figures = {}
    for name, read in FIGURES.items():
        values = tuple(float(read(r)) for r in results)
        mean, sd = mean_sd(values)
        figures[name] = Spread(values, mean, sd)
    return Seeds(tuple(r.config["seed"] for r in results), figures)
