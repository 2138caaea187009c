"""The verdict in words: informative, weak or uninformative, with causes that fit the run."""
import pytest

from lca.runs.result import LCAResult, RunConfig
from lca.runs.sections import (Ablation, ActivationKeys, Lambdas, Minimal, Probeless, Retrain, Seeds, Selectivity,
                               Spread)
from lca.report.verdict import training_drop, verdict


def result(top=0.9, random=0.6, sd=0.02, small=(0.6, 0.3), n_train=50_000, l1=0.1, mode="quick", curve=None,
           oracle=0.95, noreg=0.95, seeds=None):
    """A result with only the fields the verdict reads filled in meaningfully."""
    config = RunConfig(mode=mode).to_dict()
    rows = [{"fraction": f, "n_neurons": 1, "top": t, "random": r, "bottom": 0.0}
            for f, (t, r) in ((0.05, (small[0], small[1])), (0.1, (small[0] + 0.1, small[1] + 0.1)), (0.2, (top, random)))]
    return LCAResult(
        model="m", task="xpos", n_layers=2, layer_size=4, n_neurons=8, pair=False, tags=("A", "B"),
        n_train_words=n_train, n_test_words=100, lambdas=Lambdas(l1, 0.0), grid=(), oracle_accuracy=oracle,
        noreg_accuracy=noreg, majority_accuracy=0.5, ranking=tuple(range(8)), per_tag={},
        retrain=Retrain(0.0, 0.0, 0.0), minimal=Minimal(0, 0.0, 0.0, ()),
        ablation=Ablation(top=top, random=random, random_sd=sd, bottom=0.1, weight_magnitude=top),
        selectivity=Selectivity(0.0, 0.0), probeless=Probeless(0.0), layer_histogram=(0, 0), timings={},
        config=config, activation_keys=ActivationKeys("", ""), curve=tuple(rows),
        ablation_random_draws=(random - sd, random, random + sd, random, random),
        training_curve=tuple(curve or ()), seeds=seeds)


def test_a_clear_gap_is_informative_and_says_the_figures():
    v = verdict(result())
    assert v.level == "informative" and not v.causes
    assert v.headline.startswith("top 20 % keeps 90.0 %, random 20 % 60.0 ± 2.0 % (5 draws)")
    assert "informative (+30.0 points)" in v.headline


@pytest.mark.parametrize("kw, level", [
    (dict(top=0.61, random=0.60), "weak"),  # 1 point: below 2 points
    (dict(top=0.66, random=0.60, sd=0.04), "weak"),  # 6 points but under 2 spreads of the draws
    (dict(small=(0.2, 0.3)), "weak"),  # top below random at 5 and 10 %
    (dict(top=0.58, random=0.60), "uninformative"),
])
def test_levels(kw, level):
    assert verdict(result(**kw)).level == level


def test_causes_name_small_data_the_grid_edge_and_paper_mode():
    v = verdict(result(top=0.6, random=0.6, n_train=5000, l1=0.1, mode="paper"))
    text = " ".join(v.causes)
    assert v.level == "uninformative"
    assert "little data: 5,000 training examples" in text and "--seeds 3" in text
    assert "λ1 = 0.1 is the largest in the grid" in text
    assert "paper mode trains 10 epochs at lr 0.001" in text


def test_no_l1_penalty_is_named():
    assert "no L1 penalty" in " ".join(verdict(result(top=0.6, random=0.6, l1=0.0)).causes)


def test_an_unconverged_probe_and_an_accuracy_cost_are_warned_even_when_informative():
    falling = [{"loss": 1.0 - 0.1 * i, "penalty": 0.0} for i in range(6)]
    v = verdict(result(curve=falling, oracle=0.90, noreg=0.95))
    assert v.level == "informative"
    assert any("had not converged" in w for w in v.warnings)
    assert any("costs 5.0 points of accuracy" in w for w in v.warnings)
    flat = [{"loss": 0.5, "penalty": 0.1}] * 6
    assert not verdict(result(curve=flat)).warnings


def test_training_drop_needs_a_curve():
    assert training_drop([]) is None
    assert training_drop([{"loss": 2.0}, {"loss": 1.0}, {"loss": 1.0}]) == 0.0


def test_seeds_spread_is_quoted():
    seeds = Seeds((0, 1, 2), {"gap": Spread((0.3, 0.28, 0.32), 0.3, 0.02)})
    assert "over 3 seeds the gap is 30.0 ± 2.0 points" in verdict(result(seeds=seeds)).headline


def with_magnitude(res, magnitude: dict):
    """``res`` with weight magnitude's accuracy at each curve fraction (and Table 2's) set."""
    import dataclasses

    curve = tuple({**row, "weight_magnitude": magnitude[row["fraction"]]} for row in res.curve)
    return dataclasses.replace(res, curve=curve,
                               ablation=dataclasses.replace(res.ablation, weight_magnitude=magnitude[0.2]))


def test_the_verdict_says_where_weight_magnitude_beats_the_ranking():
    # top keeps 0.6 / 0.7 / 0.9 at 5 / 10 / 20 %: magnitude wins at 5 and 10 % by 14 and 10 points, loses at 20 %
    v = verdict(with_magnitude(result(), {0.05: 0.74, 0.1: 0.80, 0.2: 0.85}))
    (text,) = [c for c in v.comparisons if "weight magnitude" in c]
    assert "the LCA ranking keeps more at 20 % of the neurons (by up to 5.0 points)" in text
    assert "weight magnitude keeps more at 5 and 10 % (by up to 14.0 points)" in text
    assert "compared: against plain weight magnitude" in "\n".join(v.lines())
    # magnitude at least as good everywhere: said plainly
    everywhere = verdict(with_magnitude(result(), {0.05: 0.7, 0.1: 0.8, 0.2: 0.925})).comparisons[0]
    assert "adds nothing over plain weight magnitude" in everywhere
    assert "within 0.5 points" in verdict(with_magnitude(result(), {0.05: 0.6, 0.1: 0.7, 0.2: 0.9})).comparisons[0]


def grid_run(chosen):
    import dataclasses

    grid = ({"l1": 0.0, "l2": 0.0, "accuracy": 0.95, "gap": 0.05},
            {"l1": 0.1, "l2": 0.001, "accuracy": 0.9444, "gap": 0.252},
            {"l1": 0.1, "l2": 0.1, "accuracy": 0.9444, "gap": 0.195},
            {"l1": 1.0, "l2": 0.0, "accuracy": 0.80, "gap": 0.40})
    return dataclasses.replace(result(), grid=grid, lambdas=Lambdas(*chosen))


def test_the_verdict_says_when_the_grids_choice_is_dominated_in_the_trade_off():
    from lca.report.verdict import dominated_points, lambda_front_note

    assert dominated_points(grid_run((0.1, 0.1)).grid) == {2: 1}
    note = lambda_front_note(grid_run((0.1, 0.1)))
    assert note.startswith("the grid search chose λ1 0.1, λ2 0.1 (cost 0.56 points, gap 19.5), which is not on "
                           "the front of the λ trade-off: λ1 0.1, λ2 0.001 (cost 0.56 points, gap 25.2)")
    assert note in verdict(grid_run((0.1, 0.1))).comparisons
    assert lambda_front_note(grid_run((0.1, 0.001))) is None  # on the front
    assert lambda_front_note(grid_run((1.0, 0.0))) is None
