"""Does the ranking beat random, by how much and how surely, and if not, why: one verdict in words.

The headline evidence of LCA is Table 2: keeping the top ``M`` of the neurons (the rest zeroed
out) should keep far more accuracy than keeping ``M`` random ones.  On small corpora or with an
unconverged probe it often does not (docs/fidelity.md), and a user must be told so, with the
likely cause and what to try, rather than shown a table that looks like the paper's.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Verdict", "verdict", "training_drop", "curve_summary", "LEVELS", "UNCONVERGED", "ORDERINGS",
           "versus_magnitude", "dominated_points", "lambda_front_note"]

LEVELS = ("informative", "weak", "uninformative")
# A gap smaller than this many points, or than this many spreads of the random draws, is weak.
_MIN_GAP = 0.02
_SPREADS = 2.0
_SMALL_CORPUS = 20_000  # training examples under which a weak ranking may be noise of a small sample
# Relative fall of the cross-entropy over the last fifth of training above which the probe is still
# learning.  A decaying rate's final, annealing steps lower it a little even at convergence (3 % on
# the demo in quick mode); paper mode on the demo fell 10 %, the paper's rate run 50 times longer 0 %.
UNCONVERGED = 0.05
_ACCURACY_COST = 0.02  # the chosen penalty costing more than this vs the unregularized probe


@dataclass(frozen=True)
class Verdict:
    """``level`` one of :data:`LEVELS`; ``headline`` one line with the figures; ``causes`` the
    likely reasons for a weak ranking, each with what to try; ``warnings`` what holds whatever
    the level (an unconverged probe, an accuracy cost); ``comparisons`` the ranking against plain
    weight magnitude (:func:`versus_magnitude`) and the grid's choice against the λ trade-off's
    front (:func:`lambda_front_note`), where they apply."""

    level: str
    headline: str
    causes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    comparisons: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return ([self.headline] + [f"  likely cause: {c}" for c in self.causes] + [f"  warning: {w}" for w in self.warnings]
                + [f"  compared: {c}" for c in self.comparisons])


def training_drop(curve) -> float | None:
    """Relative fall of the training cross-entropy over the last fifth of the recorded training
    curve; None when the curve is too short to tell.

    The cross-entropy, not the whole objective: with a decaying learning rate the penalty keeps
    falling to the very end because the L1-penalized weights hover around zero with an amplitude
    that shrinks with the rate, by design.  A cross-entropy still falling means the fit itself is
    still improving.  (On the demo: paper mode 10–11 % over its last fifth, quick mode 1–3 %, the
    paper's constant rate run for 5500 steps 0 %; docs/fidelity.md.)

    >>> training_drop([{"loss": 1.0, "penalty": 0.3}] * 4 + [{"loss": 0.5, "penalty": 0.1}])
    0.5
    """
    if len(curve) < 3:
        return None
    loss = [c["loss"] for c in curve]
    earlier = loss[min(len(loss) - 2, int(round(0.8 * (len(loss) - 1))))]
    return (earlier - loss[-1]) / max(earlier, 1e-12)


# The orderings of the accuracy curve, as the app names them, in the order they are listed.
ORDERINGS = {"top": "the LCA ranking", "weight_magnitude": "plain weight magnitude", "random": "random neurons",
             "bottom": "the bottom of the LCA ranking"}


def curve_summary(curve, oracle_accuracy: float, share: float = 0.9) -> str:
    """What the accuracy curve shows, read from its points: how many neurons each ordering needs to reach
    ``share`` of the oracle's accuracy, and which gets there first (never a fixed claim).

    ``curve`` rows are ``{"n_neurons", <ordering>: accuracy, ...}`` (:func:`lca.method.ablate.ablation_curve`);
    an ordering missing from the rows is left out.  Counts are the curve's own points, so "first" means
    at the smallest point measured.

    >>> rows = [{"n_neurons": 10, "top": 0.5, "weight_magnitude": 0.85, "random": 0.2},
    ...         {"n_neurons": 100, "top": 0.9, "weight_magnitude": 0.9, "random": 0.5}]
    >>> curve_summary(rows, 0.9)
    'To reach 90 % of the oracle accuracy (81.0 %) plain weight magnitude needs 10 neurons, the LCA ranking 100 and random neurons more than 100 (not reached at the points measured): plain weight magnitude gets there with the fewest neurons, ahead of the LCA ranking.'
    """
    present = [k for k in ORDERINGS if curve and all(k in row for row in curve)]
    if not present:
        return "The curve has no points."
    target = share * oracle_accuracy
    rows = sorted(curve, key=lambda r: r["n_neurons"])
    reach = {k: next((int(r["n_neurons"]) for r in rows if r[k] >= target), None) for k in present}
    most = int(rows[-1]["n_neurons"])
    order = sorted(present, key=lambda k: (reach[k] is None, reach[k] or 0, present.index(k)))
    parts = [f"{ORDERINGS[k]} needs {reach[k]:,} neurons" if i == 0 and reach[k] is not None else
             (f"{ORDERINGS[k]} {reach[k]:,}" if reach[k] is not None else
              f"{ORDERINGS[k]} more than {most:,} (not reached at the points measured)")
             for i, k in enumerate(order)]
    head = (f"To reach {100 * share:.0f} % of the oracle accuracy ({100 * target:.1f} %) "
            + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1])
    reached = [k for k in order if reach[k] is not None]
    if not reached:
        return head + ": no ordering gets there before all neurons are kept."
    first = [k for k in reached if reach[k] == reach[reached[0]]]
    if len(first) > 1:
        return head + ": " + " and ".join(ORDERINGS[k] for k in first) + " tie, at the points measured."
    runner = next((k for k in reached if k not in first), None)
    return (head + f": {ORDERINGS[first[0]]} gets there with the fewest neurons"
            + (f", ahead of {ORDERINGS[runner]}." if runner else "."))


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def verdict(result) -> Verdict:
    """The verdict on an :class:`~lca.runs.result.LCAResult`'s ranking.

    Informative: zero-out top − mean random ≥ 2 points and ≥ 2 spreads of the random draws at
    the top fraction, and top above random at 5 % and 10 % of the neurons too.  Weak: top
    above random, but not by that much.  Uninformative: top no better than random.
    """
    M = float(result.run_config.top_fraction)
    top, rand = result.ablation.top, result.ablation.random
    sd = float(result.ablation.random_sd or 0.0)
    draws = len(result.ablation_random_draws) or 1
    gap = top - rand
    small = [row for row in result.curve if row["fraction"] in (0.05, 0.1)]
    holds_small = all(row["top"] > row["random"] for row in small)
    spread = f" ± {100 * sd:.1f}" if draws > 1 else ""
    figures = (f"top {100 * M:.0f} % keeps {_pct(top)}, random {100 * M:.0f} % "
               f"{100 * rand:.1f}{spread} % ({draws} draw{'s' if draws > 1 else ''})")
    if result.seeds and "gap" in result.seeds.figures:
        g = result.seeds.figures["gap"]
        figures += f"; over {len(g.values)} seeds the gap is {100 * g.mean:.1f} ± {100 * g.sd:.1f} points"
    if gap >= max(_MIN_GAP, _SPREADS * sd) and holds_small:
        level, says = "informative", f"the ranking is informative (+{100 * gap:.1f} points)"
    elif gap > 0:
        level = "weak"
        says = (f"the ranking beats random by only {100 * gap:.1f} points" if gap < max(_MIN_GAP, _SPREADS * sd)
                else f"the ranking beats random at {100 * M:.0f} % (+{100 * gap:.1f} points) but not at 5–10 %")
    else:
        level, says = "uninformative", f"the ranking does no better than random ({100 * gap:+.1f} points)"
    causes, warnings = [], []
    drop = training_drop(result.training_curve)
    training = result.config
    if drop is not None and drop > UNCONVERGED:
        warnings.append(f"the probe had not converged: its training cross-entropy still fell {100 * drop:.0f} % over "
                        "the last fifth of training, so its figures may still change with more steps (on xpos they "
                        "sharpened: docs/fidelity.md, section B); try --min-steps 16000")
    cost = result.noreg_accuracy - result.oracle_accuracy
    if cost > _ACCURACY_COST:
        warnings.append(f"the chosen penalty costs {100 * cost:.1f} points of accuracy against the unregularized "
                        "probe; pick a smaller λ in the λ trade-off")
    if level != "informative":
        if drop is not None and drop > UNCONVERGED:
            causes.append("probe not converged (see the warning): its weights still carry the optimizer's "
                          "early, indiscriminate steps")
        elif training.get("mode") == "paper" and not training.get("min_steps"):
            steps = result.training_curve[-1]["step"] if result.training_curve else None
            causes.append(f"paper mode trains {training.get('epochs', 10)} epochs at lr {training.get('lr') or 1e-3:g}"
                          + (f", only {steps:,} optimizer steps here" if steps else "")
                          + ": try --mode quick, which trains far closer to convergence")
        if result.n_train_words < _SMALL_CORPUS:
            causes.append(f"little data: {result.n_train_words:,} training examples, so the probe and its ranking "
                          "vary with the seed; add training data, or run --seeds 3 to see how much the figures move")
        grid = [v for v in training.get("grid", ()) if v > 0]
        l1 = result.lambdas.l1
        if grid and l1 >= max(grid):
            causes.append(f"λ1 = {l1:g} is the largest in the grid: a stronger L1 penalty may sharpen the "
                          "ranking (see the λ trade-off)")
        elif l1 == 0:
            causes.append("the grid chose no L1 penalty, so the weights are dense and their magnitudes say "
                          "little; pick a grid point with λ1 > 0 in the λ trade-off")
        if not causes:
            causes.append("the property may be spread over many neurons (distributed), so that any random "
                          f"{100 * M:.0f} % keeps much of it; compare the retrained top and random probes")
    comparisons = tuple(c for c in (versus_magnitude(result), lambda_front_note(result)) if c)
    return Verdict(level, f"{figures}: {says}", tuple(causes), tuple(warnings), comparisons)


_TIE = 0.005  # orderings within half a point of each other keep the same


def _fractions(values) -> str:
    return ", ".join(f"{100 * f:g}" for f in values[:-1]) + (" and " if len(values) > 1 else "") + f"{100 * values[-1]:g} %"


def versus_magnitude(result) -> str | None:
    """Which ordering keeps more accuracy, the LCA ranking or plain weight magnitude (the largest |weight|
    first), at each fraction of neurons kept below all of them (the accuracy curve, and Table 2's ``M``);
    None when the run has neither.

    >>> from types import SimpleNamespace as NS
    >>> curve = [{"fraction": 0.05, "top": 0.80, "weight_magnitude": 0.70},
    ...          {"fraction": 0.2, "top": 0.920, "weight_magnitude": 0.925}, {"fraction": 1.0, "top": 0.95,
    ...          "weight_magnitude": 0.95}]
    >>> versus_magnitude(NS(curve=curve, ablation=NS(top=0.92, weight_magnitude=0.925), run_config=NS(top_fraction=0.2)))
    'against plain weight magnitude (largest |weight| first), the LCA ranking keeps more at 5 % of the neurons (by up to 10.0 points); weight magnitude keeps more at 20 % (by up to 0.5 points).'
    """
    points = {float(r["fraction"]): (r["top"], r["weight_magnitude"]) for r in result.curve or ()
              if "weight_magnitude" in r and float(r["fraction"]) < 1}
    M = float(result.run_config.top_fraction)
    if M not in points and result.ablation.weight_magnitude is not None:
        points[M] = (result.ablation.top, result.ablation.weight_magnitude)
    if not points:
        return None
    diff = {f: t - w for f, (t, w) in sorted(points.items())}
    lca = [f for f, d in diff.items() if d >= _TIE]
    wm = [f for f, d in diff.items() if d <= -_TIE]
    ties = [f for f, d in diff.items() if abs(d) < _TIE]
    head = "against plain weight magnitude (largest |weight| first), "
    if not lca and not wm:
        return head + f"the two keep the same accuracy (within {100 * _TIE:g} points) at {_fractions(ties)} of the neurons."
    parts = []
    if lca:
        parts.append(f"the LCA ranking keeps more at {_fractions(lca)} of the neurons "
                     f"(by up to {100 * max(diff[f] for f in lca):.1f} points)")
    if wm:
        parts.append(f"weight magnitude keeps more at {_fractions(wm)}" + ("" if lca else " of the neurons")
                     + f" (by up to {100 * max(-diff[f] for f in wm):.1f} points)")
    if ties:
        parts.append(f"they keep the same at {_fractions(ties)}")
    text = head + "; ".join(parts) + "."
    if wm and not lca:
        text += " The ranking adds nothing over plain weight magnitude here."
    return text


def dominated_points(grid) -> dict[int, int]:
    """Grid rows beaten in the λ trade-off: ``{row: the row that beats it}``, where the other row has at
    least the development accuracy (so costs no more) and at least the ranking gap, and more of one.
    The row named is the one of those with the largest gap (then accuracy).  Rows without a gap are left out.

    >>> grid = [{"accuracy": 0.9, "gap": 0.2}, {"accuracy": 0.9, "gap": 0.25}, {"accuracy": 0.95, "gap": 0.1}]
    >>> dominated_points(grid)
    {0: 1}
    """
    rows = [(k, r["accuracy"], r["gap"]) for k, r in enumerate(grid) if "gap" in r and "accuracy" in r]
    eps = 1e-9
    out = {}
    for k, acc, gap in rows:
        better = [(g, a, j) for j, a, g in rows if j != k and a >= acc - eps and g >= gap - eps
                  and (a > acc + eps or g > gap + eps)]
        if better:
            out[k] = max(better)[2]
    return out


def lambda_front_note(result) -> str | None:
    """A sentence when the λ pair the grid search chose is dominated in the λ trade-off (another pair
    costs no more accuracy and ranks more sharply); None when it is on the front or the run did not
    search (a fixed pair, or a grid without gaps)."""
    if result.run_config.lambdas is not None:
        return None
    grid = list(result.grid)
    noreg = [r for r in grid if r.get("l1") == 0 and r.get("l2") == 0]
    chosen = [k for k, r in enumerate(grid) if (r["l1"], r["l2"]) == (result.lambdas.l1, result.lambdas.l2)]
    if not noreg or not chosen or chosen[0] not in dominated_points(grid):
        return None
    base = noreg[0]["accuracy"]
    here, there = grid[chosen[0]], grid[dominated_points(grid)[chosen[0]]]

    def point(r) -> str:
        return (f"λ1 {r['l1']:g}, λ2 {r['l2']:g} (cost {100 * (base - r['accuracy']):.2f} points, "
                f"gap {100 * r['gap']:.1f})")
    return (f"the grid search chose {point(here)}, which is not on the front of the λ trade-off: {point(there)} "
            "costs no more development accuracy and ranks more sharply. Algorithm 2's score weighs the retrained "
            "top and bottom accuracies, not this gap; pick that point in the λ trade-off to compare.")
