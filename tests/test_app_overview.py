"""AppTests of the Overview's findings: the verdict in words, spreads of the random baselines, seeds,
the training curve, and a λ pair picked from the trade-off run (or reopened) with a link to its parent."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")

from test_app_pages import open_app  # noqa: E402
from test_app_run import wait_for_job  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import lca_app  # noqa: E402

from lca.runs.result import RunConfig  # noqa: E402
from lca.runs.sections import Seeds, Spread  # noqa: E402
from lca.runs.store import RunStore, run_id  # noqa: E402
from lca.report.verdict import verdict  # noqa: E402

OVERVIEW = "pages/overview.py"


def save_variant(app_cache, token: str, rid: str, result, name: str, **changes) -> str:
    """Store a copy of the tiny run with some fields changed under a new run id owned by ``token``."""
    store = RunStore(app_cache / "runs")
    new = hashlib.sha256(name.encode()).hexdigest()[:16]
    store.save(new, dataclasses.replace(result, **changes), store.load_test_corpus(rid), {"dataset": name})
    store.claim(token, new)
    return new


def test_overview_states_an_informative_verdict_with_its_warnings(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, OVERVIEW)
    assert not at.exception and not at.error
    expected = verdict(result)
    assert expected.level == "informative" and expected.warnings  # the fake curve is still falling
    box = at.success[0].value
    assert box.startswith("**Ranking informative.**") and expected.headline[1:] in box
    assert "(3 draws)" in box and "- Warning: the probe had not converged" in box


def test_overview_states_an_uninformative_verdict_with_causes(tiny_run, app_cache):
    token, rid, result = tiny_run
    flat = save_variant(app_cache, token, rid, result, "flat",
                        ablation=dataclasses.replace(result.ablation, top=0.49), n_train_words=500)
    at = open_app(token, flat, OVERVIEW)
    assert not at.exception and not at.success
    box = at.error[0].value
    assert box.startswith("**Ranking uninformative.**") and "no better than random" in box
    assert "- Likely cause: little data: 500 training examples" in box


def test_overview_reports_spreads_training_curve_and_tradeoff(tiny_run):
    token, rid, result = tiny_run
    at = open_app(token, rid, OVERVIEW)
    table2, table5 = at.dataframe[0].value, at.dataframe[2].value
    random_row = table2[table2["neurons kept"].str.startswith("Random")].iloc[0]
    assert random_row["accuracy %"] == 50.0 and random_row["± sd"] == "3" and random_row["draws"] == "3"
    assert table5["Acc_r ± sd"].iloc[0] == 4.0 and table5["random draws"].iloc[0] == 3
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("loss + penalty (objective)" in s for s in specs) and any("grid points" in s for s in specs)
    assert any("unconverged" in c.value for c in at.caption)
    picker = at.selectbox(key=f"ov_pick_{rid}")
    assert len(picker.options) == len(result.grid) and "(this run)" in picker.options[1]
    assert at.button(key="ov_pick_go").disabled  # this run's own pair: nothing to recompute
    assert not any(s.value.startswith("Over ") for s in at.subheader)  # one seed: no seeds table


def test_overview_shows_every_figure_over_seeds(tiny_run, app_cache):
    token, rid, result = tiny_run
    figures = {"oracle_accuracy": Spread((0.9, 0.8), 0.85, 0.0707), "gap": Spread((0.3, 0.1), 0.2, 0.1414)}
    seeded = save_variant(app_cache, token, rid, result, "seeded", seeds=Seeds((4, 5), figures))
    at = open_app(token, seeded, OVERVIEW)
    assert not at.exception
    assert any(s.value == "Over 2 seeds" for s in at.subheader)
    table = at.dataframe[0].value
    assert list(table["figure"]) == ["Oracle accuracy %", "Table 2: top − random (points)"]
    assert list(table["mean"]) == [85.0, 20.0] and list(table["seed 5"]) == [80.0, 10.0]
    assert any("show the first seed (4)" in c.value for c in at.caption)


def test_overview_says_which_test_words_were_dropped(tiny_run, app_cache):
    token, rid, result = tiny_run
    assert not any("left out" in c.value for c in open_app(token, rid, OVERVIEW).caption)
    dropped = save_variant(app_cache, token, rid, result, "dropped", dropped_unseen={"CTC": 3, "EXG": 1})
    at = open_app(token, dropped, OVERVIEW)
    assert any(c.value == "4 test words were left out because their tags never occur in the training data: "
                          "CTC (3), EXG (1)." for c in at.caption)


def test_overview_says_when_damaged_activations_were_recomputed(tiny_run, app_cache):
    token, rid, result = tiny_run
    assert not open_app(token, rid, OVERVIEW).warning
    repaired = save_variant(app_cache, token, rid, result, "repaired",
                            activation_keys=dataclasses.replace(result.activation_keys, repaired=(True, False)))
    at = open_app(token, repaired, OVERVIEW)
    assert any(w.value.startswith("Recomputed activations: the cached file was damaged") for w in at.warning)


def test_overview_reads_results_saved_before_findings_held(tiny_run, app_cache):
    token, rid, result = tiny_run
    store = RunStore(app_cache / "runs")
    old = save_variant(app_cache, token, rid, result, "old")
    path = store.path(old) / "result.json"
    data = json.loads(path.read_text())
    for key in ("training_curve", "ablation_random_draws", "seeds"):
        del data[key]
    del data["ablation"]["random_sd"]
    data["retrain"] = {k: data["retrain"][k] for k in ("top", "random", "bottom")}
    data["curve"] = [{k: v for k, v in row.items() if not k.startswith("random_")} for row in data["curve"]]
    data["grid"] = [{k: v for k, v in row.items() if k not in ("zero_top", "zero_random", "gap")} for row in data["grid"]]
    path.write_text(json.dumps(data))
    at = open_app(token, old, OVERVIEW)
    assert not at.exception, at.exception
    assert at.success and "(1 draw)" in at.success[0].value
    assert any("no training curve" in c.value for c in at.caption)
    assert any("saved before the grid recorded" in c.value for c in at.caption)
    assert at.dataframe[0].value["draws"].iloc[2] == "1"


def test_lambda_pick_recomputes_on_the_overview_names_the_pair_then_reopens_it(tiny_run, app_cache):
    """Issue 26, item 9: the Overview stays, names the pair and says how long; the fixed-pair run's
    stages say what they are; the Overview opens the new run when it ends."""
    token, rid, result = tiny_run
    store = RunStore(app_cache / "runs")
    at = open_app(token, rid, OVERVIEW)
    picked = (1e-3, 0.0)
    index = [(r["l1"], r["l2"]) for r in result.grid].index(picked)
    at.selectbox(key=f"ov_pick_{rid}").set_value(index).run()
    before = " ".join(c.value for c in at.caption)
    assert "trained at λ1 = 0.001, λ2 = 0 instead of the search's choice" in before
    assert "no time estimate yet" in before and "You stay here" in before
    at.button(key="ov_pick_go").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Overview"  # it stays, and says what runs
    job = lca_app.job_for(token)
    assert job is not None and job.config.lambdas == picked and job.meta["parent"] == rid
    assert any("Recomputing at λ1 = 0.001, λ2 = 0" in i.value and job.rid in i.value for i in at.info)
    assert job.title("grid") == "Train the oracle at the fixed pair λ1 = 0.001, λ2 = 0 (no search)"
    assert job.title("grid") not in (lca_app.STAGE_TITLES["grid"],)
    assert wait_for_job(token).status == "done", job.error
    expected = run_id(dataclasses.replace(RunConfig.from_dict(result.config), lambdas=picked),
                      store.load_train_corpus(rid), store.load_test_corpus(rid))
    assert job.rid == expected and store.meta(expected)["parent"] == rid
    assert store.meta(expected)["config"]["lambdas"] == list(picked)
    assert store.load_train_corpus(expected) == store.load_train_corpus(rid)  # it can be picked from again

    # the Overview (any page) opens the new run when it ends
    at.run()
    assert at.query_params["run"] == expected and at.title[0].value == "Overview"
    assert not at.exception
    # a real tiny run: its verdict may be any level (an uninformative one is an st.error)
    assert all(e.value.startswith("**Ranking") for e in at.error), [e.value for e in at.error]
    assert any(rid in i.value and "picked from" in i.value for i in at.info)
    assert len(at.selectbox(key=f"ov_pick_{rid}").options) == len(result.grid)  # not its own 1-row grid
    at.button(key="ov_parent").click().run()
    assert at.query_params["run"] == rid

    # the same pick again: reopened from the store, no second job
    at.selectbox(key=f"ov_pick_{rid}").set_value(index).run()
    at.button(key="ov_pick_go").click().run()
    assert not at.exception
    assert lca_app.job_for(token) == job and at.query_params["run"] == expected


def test_tables_show_no_none_and_the_grid_in_percent(tiny_run):
    """Issue 26, item 6: Table 2's rows without draws have empty cells; the λ grid is in % with named columns."""
    token, rid, result = tiny_run
    at = open_app(token, rid, OVERVIEW)
    table2 = at.dataframe[0].value
    others = table2[~table2["neurons kept"].str.startswith("Random")]
    assert list(others["± sd"]) == [""] * 4 and list(others["draws"]) == [""] * 4
    assert "None" not in table2.astype(str).to_string()
    grid = next(d.value for d in at.dataframe if "dev accuracy %" in d.value.columns)
    assert list(grid.columns[:4]) == ["λ1", "λ2", "score", "dev accuracy %"] and "gap (points)" in grid.columns
    assert list(grid["dev accuracy %"]) == pytest.approx([100 * r["accuracy"] for r in result.grid])
    assert list(grid["gap (points)"]) == pytest.approx([100 * r["gap"] for r in result.grid])


def test_the_verdict_compares_the_ranking_with_weight_magnitude(tiny_run, app_cache):
    """Issue 26, item 7: which of the LCA ranking and weight magnitude keeps more, where."""
    token, rid, result = tiny_run
    box = open_app(token, rid, OVERVIEW).success[0].value
    assert ("- Compared: against plain weight magnitude (largest |weight| first), the LCA ranking keeps more at "
            "20 % of the neurons (by up to 25.0 points)") in box
    # magnitude ahead at 1 and 10 %, behind at 50 % and at Table 2's 20 %
    curve = tuple({**row, "weight_magnitude": row["top"] + (0.1 if row["fraction"] < 0.2 else -0.05)}
                  for row in result.curve)
    mixed = save_variant(app_cache, token, rid, result, "magnitude", curve=curve)
    box = open_app(token, mixed, OVERVIEW).success[0].value
    assert "weight magnitude keeps more at 1 and 10 % (by up to 10.0 points)" in box
    assert "the LCA ranking keeps more at 20 and 50 % of the neurons (by up to 25.0 points)" in box


def test_the_trade_off_marks_dominated_points_and_a_dominated_choice(tiny_run, app_cache):
    """Issue 26, item 8: the chart greys dominated pairs; the verdict and a caption say the choice is one."""
    token, rid, result = tiny_run
    grid = tuple({**r, "gap": 0.2 if (r["l1"], r["l2"]) == (0.0, 0.0) else r["gap"]} for r in result.grid)
    beaten = save_variant(app_cache, token, rid, result, "beaten", grid=grid,
                          lambdas=dataclasses.replace(result.lambdas, l1=0.0, l2=1e-3))
    at = open_app(token, beaten, OVERVIEW)
    assert not at.exception
    assert "which is not on the front of the λ trade-off: λ1 0, λ2 0 (cost 0.00 points, gap 20.0)" in at.success[0].value
    assert any("is one of them" in c.value for c in at.caption)
    assert any("dominated: another pair costs no more" in c.proto.spec for c in at.get("plotly_chart"))
    options = at.selectbox(key=f"ov_pick_{beaten}").options
    assert any("(this run)" in o and o.endswith("· dominated") for o in options)
