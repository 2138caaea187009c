"""Overview page: the verdict, the paper's tables for the current run, the λ grid and its trade-off,
the training curve and the accuracy curve."""
import pandas as pd
import streamlit as st

import lca_app as S
from lca.report import viz
from lca._validation import InputError
from lca.report.verdict import UNCONVERGED, curve_summary, dominated_points, training_drop, verdict

S.intro("Overview",
        "How well the probe predicts the task from all neurons, and how much of that the ranked neurons keep: "
        "zero-out ablation (Table 2), the minimal subset with selectivity and the probeless baseline (Table 3), "
        "and retraining on top, random and bottom neurons (Table 5, Section 5.3). Below them, the λ grid of "
        "Algorithm 2 with what each λ pair costs and buys, the probe's training curve and the accuracy of each "
        "ordering as more neurons are kept.")

rid, result = S.require_run()
token, store = S.session_token(), S.store()
pct = lambda v: round(100 * float(v), 2)  # noqa: E731
M = float(result.config.get("top_fraction", 0.2))
N, D = result.minimal.n_neurons, result.n_neurons
# Results saved before several random draws were made have one draw and no spread.
draws = len(result.ablation_random_draws) or 1
owner = S.grid_run(rid)  # the run whose grid search this one's λ pair came from (itself, unless picked)
parent = store.meta(rid).get("parent")

st.caption(f"Run `{rid}` · model **{result.model}** · task **{result.task}** · {len(result.tags)} tags · "
           f"{result.n_train_words:,} training / {result.n_test_words:,} test examples · {D:,} neurons "
           f"({result.n_layers} layers × {result.layer_size}{' × 2 for head and dependent' if result.pair else ''}).")
if any(result.activation_keys.repaired):
    st.warning("Recomputed activations: the cached file was damaged (its checksum did not match), so this run "
               "extracted them again. If this repeats, check the disk of the activation cache.")
if result.dropped_unseen:
    dropped = result.dropped_unseen
    st.caption(f"{sum(dropped.values()):,} test words were left out because their tags never occur in the training "
               "data: " + ", ".join(f"{tag} ({n})" for tag, n in dropped.items()) + ".")

if parent:
    c1, c2 = st.columns([4, 1])
    c1.info(f"This run trains the oracle at λ1 = {result.lambdas.l1:g}, λ2 = {result.lambdas.l2:g}, picked from "
            f"the λ trade-off of run `{parent}`, instead of the pair its grid search chose."
            + ("" if owner == parent else " That run is no longer stored."))
    if owner == parent and c2.button("Back to that run", key="ov_parent", icon=":material/arrow_back:"):
        store.claim(token, parent)  # a session that owns the picked run has had its parent
        S.open_run(parent)
        st.rerun()

# ---- the verdict --------------------------------------------------------------------------------------------
v = verdict(result)
box = {"informative": st.success, "weak": st.warning, "uninformative": st.error}[v.level]
bullets = ([f"- Likely cause: {c}" for c in v.causes] + [f"- Warning: {w}" for w in v.warnings]
           + [f"- Compared: {c}" for c in v.comparisons])
box(f"**Ranking {v.level}.** {v.headline[0].upper()}{v.headline[1:]}." + "\n\n" + "\n".join(bullets))

c1, c2, c3, c4 = st.columns(4)
c1.metric("Oracle accuracy", f"{pct(result.oracle_accuracy):.2f} %",
          help="Test accuracy of the probe with the λs chosen by the grid search.")
c2.metric(f"Minimal subset ({100 * result.minimal.fraction:.1f} % of D)", f"{N:,} neurons",
          help="Algorithm 4: the fewest top-ranked neurons whose retrained probe is within δ of the oracle.")
c3.metric("Retrained on it", f"{pct(result.minimal.accuracy):.2f} %",
          help="A probe retrained on the minimal subset only (Acc_t of Table 3).")
c4.metric("Majority tag", f"{pct(result.majority_accuracy):.2f} %", help="Always predicting the most frequent tag.")

# ---- over seeds ---------------------------------------------------------------------------------------------
SEED_FIGURES = {"oracle_accuracy": "Oracle accuracy %", "noreg_accuracy": "Unregularized accuracy %",
                "minimal_fraction": "Minimal subset, % of D", "minimal_accuracy": "Retrained on minimal subset %",
                "ablation_top": "Table 2: top %", "ablation_random": "Table 2: random %",
                "ablation_bottom": "Table 2: bottom %", "ablation_weight_magnitude": "Table 2: weight magnitude %",
                "gap": "Table 2: top − random (points)", "retrain_top": "Table 5: top %",
                "retrain_random": "Table 5: random %", "retrain_bottom": "Table 5: bottom %",
                "selectivity_all": "Sel_a (points)", "selectivity_top": "Sel_t (points)", "probeless": "Probeless %"}
if result.seeds:
    seeds = result.seeds.seeds
    st.subheader(f"Over {len(seeds)} seeds")
    st.caption(f"Every figure of the run repeated with seeds {', '.join(map(str, seeds))} (probe starts, batch order, "
               f"development split and random draws; the activations are the same), as mean ± sd. The other tables "
               f"and charts on this page show the first seed ({seeds[0]}).")
    over = pd.DataFrame([{"figure": SEED_FIGURES.get(name, name), "mean": pct(f.mean), "± sd": pct(f.sd),
                          **{f"seed {s}": pct(x) for s, x in zip(seeds, f.values)}}
                         for name, f in result.seeds.figures.items()])
    st.dataframe(over, hide_index=True, width="stretch")
    S.csv_button(over, f"lca-{rid}-seeds", key="seeds")

# ---- Table 2 ------------------------------------------------------------------------------------------------
st.subheader("Zero-out ablation (Table 2)")
st.markdown(f"The oracle probe on the test set with every neuron zeroed out except the top, random, bottom or "
            f"largest-weight **{100 * M:.0f} %**. Random is the mean of {draws} draw{'s' if draws > 1 else ''}"
            + (", ± its standard deviation." if draws > 1 else "."))
sd = result.ablation.random_sd
# Only the random row has draws: the other rows' cells are empty text, not "None" (so the two columns are text).
ablation = pd.DataFrame([{"neurons kept": name, "accuracy %": pct(value), "± sd": spread, "draws": n}
                         for name, value, spread, n in [
    ("All", result.oracle_accuracy, "", ""), (f"Top {100 * M:.0f} %", result.ablation.top, "", ""),
    (f"Random {100 * M:.0f} % (mean)", result.ablation.random, "" if sd is None else f"{pct(sd):g}", str(draws)),
    (f"Bottom {100 * M:.0f} %", result.ablation.bottom, "", ""),
    (f"Weight magnitude {100 * M:.0f} %", result.ablation.weight_magnitude, "", "")]])
left, right = st.columns([1, 1])
with left:
    st.dataframe(ablation, hide_index=True, width="stretch", column_config={
        "neurons kept": st.column_config.TextColumn(width="medium"), "± sd": st.column_config.TextColumn(width="small"),
        "draws": st.column_config.TextColumn(width="small")})
    S.csv_button(ablation, f"lca-{rid}-table2-ablation", key="t2")
with right:
    S.chart(viz.ablation_bars(result.oracle_accuracy, result.ablation, M, draws=draws), f"lca-{rid}-ablation",
            key="ablation")

# ---- Table 3 ------------------------------------------------------------------------------------------------
st.subheader("Minimal subset, selectivity, probeless (Table 3)")
st.markdown("Neu_t: share of top neurons needed; Acc_a / Acc_t: accuracy with all / only those neurons (retrained); "
            "Sel_a / Sel_t: task accuracy minus control-task accuracy (Hewitt & Liang) with all / top neurons; "
            "Probeless: a probe retrained on the same number of neurons ranked without a probe (Antverg & Belinkov).")
table3 = pd.DataFrame([{
    "Neu_t %": round(100 * result.minimal.fraction, 2), "N": N, "Acc_a %": pct(result.oracle_accuracy),
    "Acc_t %": pct(result.minimal.accuracy), "Sel_a": pct(result.selectivity.all),
    "Sel_t": pct(result.selectivity.top), "control Acc_a %": pct(result.selectivity.control_all),
    "control Acc_t %": pct(result.selectivity.control_top), "Probeless %": pct(result.probeless.accuracy)}])
st.dataframe(table3, hide_index=True, width="stretch")
S.csv_button(table3, f"lca-{rid}-table3-minimal", key="t3")

# ---- Table 5 ------------------------------------------------------------------------------------------------
st.subheader("Retraining on top, random and bottom neurons (Table 5)")
retrain_draws = len(result.retrain.random_draws) or 1
st.markdown(f"A new probe trained on only **N = {N:,}** neurons: the top-ranked ones, random ones (the mean of "
            f"{retrain_draws} draw{'s' if retrain_draws > 1 else ''}), or the bottom-ranked ones. Random neurons doing "
            "well means the information is redundant across the network.")
rsd = result.retrain.random_sd
table5 = pd.DataFrame([{"Neu_t %": round(100 * result.minimal.fraction, 2), "Acc_a %": pct(result.oracle_accuracy),
                        "Acc_t %": pct(result.retrain.top), "Acc_r %": pct(result.retrain.random),
                        "Acc_r ± sd": None if rsd is None else pct(rsd), "random draws": retrain_draws,
                        "Acc_b %": pct(result.retrain.bottom)}])
st.dataframe(table5, hide_index=True, width="stretch")
S.csv_button(table5, f"lca-{rid}-table5-retrain", key="t5")

# ---- the λ grid and its trade-off ---------------------------------------------------------------------------
searched = S.load_run(owner) if owner != rid else result
grid = searched.grid
st.subheader("The λ grid (Algorithm 2)")
if owner != rid:
    st.markdown(f"This run did not search: the grid below is run `{owner}`'s, with this run's pair boxed. This run's "
                "own row (its oracle trained in full at that pair, development split):")
    own = pd.DataFrame(result.grid)
    st.dataframe(own.round({c: 4 for c in own.columns if c not in ("l1", "l2")}), hide_index=True, width="stretch")
elif result.config.get("lambdas") is not None:
    st.markdown(f"This run trained the oracle at a fixed pair, λ1 = {result.lambdas.l1:g}, λ2 = "
                f"{result.lambdas.l2:g}, without a grid search; its one row is below.")
else:
    st.markdown(f"Each cell trains a probe with penalties λ1 (L1) and λ2 (L2); the score rewards accuracy on the "
                f"development split and a large gap between its top and bottom {100 * M:.0f} % neurons. The chosen "
                f"pair (boxed) is λ1 = {result.lambdas.l1:g}, λ2 = {result.lambdas.l2:g}; without "
                f"regularization the probe reaches {pct(result.noreg_accuracy):.2f} % on the test set.")
if any(row.get("screened") for row in grid):
    st.caption("Quick mode: the cells are the screened points (every λ1 with λ2 = 0, then every λ2 at the best λ1), "
               "each trained briefly and scored by zeroing out instead of retraining; blank cells were not "
               "trained. The chosen pair and (0, 0) were then trained in full.")
frame = pd.DataFrame(grid)
S.chart(viz.grid_heatmap(grid, result.lambdas), f"lca-{owner}-grid", key="grid")
# The table in the page's unit, %: accuracies and the gap × 100 (the CSV keeps the fractions), full width.
GRID_COLUMNS = {"l1": "λ1", "l2": "λ2", "score": "score", "accuracy": "dev accuracy %", "accuracy_top": "top kept %",
                "accuracy_bottom": "bottom kept %", "zero_top": "zero-out: top %", "zero_random": "zero-out: random %",
                "gap": "gap (points)"}
shown = frame[[c for c in GRID_COLUMNS if c in frame.columns]].rename(columns=GRID_COLUMNS)
for column in list(GRID_COLUMNS.values())[3:]:
    if column in shown:
        shown[column] = (100 * shown[column]).round(2)
st.dataframe(shown.round({"score": 4}), hide_index=True, width="stretch")  # λs unrounded: 1e-6 would print as 0
st.caption(f"On the development split, in %. Top / bottom kept: A_top and A_bottom of Algorithm 2's score, the probe "
           f"on its top or bottom {100 * M:.0f} % of neurons (retrained in paper mode, the rest zeroed out in quick "
           f"mode); zero-out: the probe with all but its top or a random {100 * M:.0f} % zeroed out, and their gap "
           "(the y axis of the λ trade-off below).")
S.csv_button(frame, f"lca-{owner}-grid", key="grid")

st.subheader("The λ trade-off")
noreg_rows = [r for r in grid if r["l1"] == 0 and r["l2"] == 0]
if len(grid) < 2 or not noreg_rows:
    st.caption("This run has no grid to trade off (it trained at a fixed λ pair, and the run it came from is not "
               "stored).")
elif not all("gap" in r for r in grid):
    st.caption("This run was saved before the grid recorded how sharp each point's ranking is: run it again to see "
               "the trade-off.")
else:
    st.markdown(f"Every grid point: how much development accuracy its penalty costs against the unregularized probe "
                f"(right is worse), and how sharp its ranking is, its top {100 * M:.0f} % kept minus random "
                f"{100 * M:.0f} % kept, zeroing out the rest (the mean of {result.config.get('random_draws', 1)} "
                "draws; up is better). The score of Algorithm 2 weighs the two; here you can pick a point yourself.")
    beaten = dominated_points(grid)  # row -> a row that costs no more and ranks more sharply
    S.chart(viz.lambda_tradeoff(grid, result.lambdas, dominated=beaten), f"lca-{owner}-tradeoff", key="tradeoff")
    base = noreg_rows[0]["accuracy"]
    pairs = [(r["l1"], r["l2"]) for r in grid]
    here = (result.lambdas.l1, result.lambdas.l2)
    chosen = (searched.lambdas.l1, searched.lambdas.l2) if searched.config.get("lambdas") is None else None
    if chosen in pairs and pairs.index(chosen) in beaten:
        st.caption(f"Grey points are dominated: another pair costs no more accuracy and ranks more sharply. The "
                   f"search's choice (λ1 = {chosen[0]:g}, λ2 = {chosen[1]:g}) is one of them: Algorithm 2's score "
                   "weighs the retrained top and bottom accuracies, not this gap (see the verdict above).")
    elif beaten:
        st.caption("Grey points are dominated: another pair costs no more accuracy and ranks more sharply.")

    def describe(k: int) -> str:
        r, cost = grid[k], 100 * (base - grid[k]["accuracy"])
        mark = " (this run)" if pairs[k] == here else (" (the search's choice)" if pairs[k] == chosen else "")
        spent = f"costs {cost:.2f} points" if cost >= 0 else f"gains {-cost:.2f} points"
        return (f"λ1 = {r['l1']:g}, λ2 = {r['l2']:g}{mark} · {spent} · gap {100 * r['gap']:.2f} points"
                + (" · dominated" if k in beaten else ""))

    c1, c2 = st.columns([3, 1])
    pick = c1.selectbox("Grid point", range(len(grid)), index=pairs.index(here) if here in pairs else 0,
                        format_func=describe, key=f"ov_pick_{owner}")
    job = S.job_for(token)
    busy = job is not None and job.running
    can_rerun = store.has_train_corpus(rid)
    c2.write("")
    l1, l2 = pairs[pick]
    if c2.button("Recompute", key="ov_pick_go", disabled=busy or not can_rerun or pairs[pick] == here,
                 icon=":material/replay:", width="stretch", help=f"Run the analysis again at λ1 = {l1:g}, λ2 = {l2:g}."):
        try:
            new, started = S.recompute_at(token, rid, l1, l2)
        except InputError as err:
            st.error(f"Could not start the run: {err}")
        else:  # stay here: the status below follows the run, and this page opens it when it ends
            st.rerun()
    parent_of_job = busy and (job.meta or {}).get("parent") == owner and job.config.lambdas is not None
    if parent_of_job:
        st.info(f"Recomputing at λ1 = {job.config.lambdas[0]:g}, λ2 = {job.config.lambdas[1]:g} (run `{job.rid}`): "
                "the same analysis with the oracle trained at that pair, no search. This page opens it when it ends.",
                icon=":material/replay:")
        S.live_status(token)
    elif busy:
        st.caption("A run is in progress in this session (see the sidebar): one run at a time.")
    elif not can_rerun:
        st.caption("This run was saved before its training corpus was kept, so it cannot be run again from here: "
                   "start it again from the Run page.")
    elif pairs[pick] != here:
        expected = S.estimate_recompute(rid, l1, l2)
        st.caption(f"Recompute runs the whole analysis again (same config and data) with the oracle trained at "
                   f"λ1 = {l1:g}, λ2 = {l2:g} instead of the search's choice, in the background: "
                   + (f"about {S.format_duration(expected, rough=True)} on this server. " if expected is not None else
                      "no time estimate yet (none until a run has finished on this server). ")
                   + "You stay here, and this page opens the new run when it ends; a pair computed before reopens "
                     "at once.")

# ---- training -----------------------------------------------------------------------------------------------
st.subheader("Training of the oracle probe")
if result.training_curve:
    drop = training_drop(result.training_curve)
    st.markdown("Mean training cross-entropy, the objective (cross-entropy + the elastic-net penalty) and "
                "development accuracy after each recorded epoch, against optimizer steps"
                + (" (first seed)." if result.seeds else "."))
    S.chart(viz.training_curve(result.training_curve), f"lca-{rid}-training", key="training")
    st.caption("A converged probe's cross-entropy has flattened out well before the last step. One still falling "
               f"at the right end (by more than {100 * UNCONVERGED:.0f} % over the last fifth of training) is "
               "unconverged: its weights, and so the ranking, still carry the optimizer's early steps. With a "
               "decaying learning rate the penalty keeps falling to the end by design (the L1-penalized weights "
               "hover around zero less and less widely as the rate shrinks)."
               + ("" if drop is None else f" Here the cross-entropy fell {100 * drop:.1f} % over the last fifth."))
else:
    st.caption("This run has no training curve (it was made before the curve was recorded).")

# ---- curve --------------------------------------------------------------------------------------------------
st.subheader("Accuracy against the number of neurons kept")
if result.curve:
    has_magnitude = all("weight_magnitude" in r for r in result.curve)
    st.markdown("The oracle probe with only the first N neurons of each ordering kept (the rest zeroed out): the LCA "
                "ranking (top), " + ("plain weight magnitude (the largest |weight| over the tags first), " if
                                     has_magnitude else "") + "random neurons and the bottom of the ranking"
                + (f"; random is the mean of {draws} draws, the band ± 1 sd." if draws > 1 else "."))
    fig = viz.accuracy_curve(result.curve, result.oracle_accuracy, D)
    st.caption(curve_summary(result.curve, result.oracle_accuracy)
               + ("" if has_magnitude else " (This run was saved without the weight-magnitude ordering's curve.)"))
    S.chart(fig, f"lca-{rid}-curve", key="curve")
    S.csv_button(pd.DataFrame(result.curve), f"lca-{rid}-curve", key="curve")
else:
    st.caption("This run has no curve (it was made before the curve was recorded).")

st.subheader("Export")
S.result_json_button(rid, key="overview_json")
with st.expander("Time per stage (seconds)"):
    st.dataframe(pd.DataFrame([result.timings]), hide_index=True)
