"""Overview page: the paper's tables for the current run, the λ grid and the accuracy curve."""
import pandas as pd
import streamlit as st

import app_state as S
from lca import viz

S.intro("Overview",
        "How well the probe predicts the task from all neurons, and how much of that the ranked neurons keep: "
        "zero-out ablation (Table 2), the minimal subset with selectivity and the probeless baseline (Table 3), "
        "and retraining on top, random and bottom neurons (Table 5, Section 5.3). Below them, the λ grid of "
        "Algorithm 2 and the accuracy of each ordering as more neurons are kept.")

rid, result = S.require_run()
pct = lambda v: round(100 * float(v), 2)  # noqa: E731
M = float(result.config.get("top_fraction", 0.2))
N, D = result.minimal["n_neurons"], result.n_neurons

st.caption(f"Run `{rid}` · model **{result.model}** · task **{result.task}** · {len(result.tags)} tags · "
           f"{result.n_train_words:,} training / {result.n_test_words:,} test examples · {D:,} neurons "
           f"({result.n_layers} layers × {result.layer_size}{' × 2 for head and dependent' if result.pair else ''}).")

c1, c2, c3, c4 = st.columns(4)
c1.metric("Oracle accuracy", f"{pct(result.oracle_accuracy):.2f} %",
          help="Test accuracy of the probe with the λs chosen by the grid search.")
c2.metric(f"Minimal subset ({100 * result.minimal['fraction']:.1f} % of D)", f"{N:,} neurons",
          help="Algorithm 4: the fewest top-ranked neurons whose retrained probe is within δ of the oracle.")
c3.metric("Retrained on it", f"{pct(result.minimal['accuracy']):.2f} %",
          help="A probe retrained on the minimal subset only (Acc_t of Table 3).")
c4.metric("Majority tag", f"{pct(result.majority_accuracy):.2f} %", help="Always predicting the most frequent tag.")

st.subheader("Zero-out ablation (Table 2)")
st.markdown(f"The oracle probe on the test set with every neuron zeroed out except the top, random, bottom or "
            f"largest-weight **{100 * M:.0f} %**.")
ablation = pd.DataFrame([{"neurons kept": name, "accuracy %": pct(value)} for name, value in [
    ("All", result.oracle_accuracy), (f"Top {100 * M:.0f} %", result.ablation["top"]),
    (f"Random {100 * M:.0f} %", result.ablation["random"]), (f"Bottom {100 * M:.0f} %", result.ablation["bottom"]),
    (f"Weight magnitude {100 * M:.0f} %", result.ablation["weight_magnitude"])]])
left, right = st.columns([2, 3])
with left:
    st.dataframe(ablation, hide_index=True, width="stretch")
    S.csv_button(ablation, f"lca-{rid}-table2-ablation", key="t2")
with right:
    S.chart(viz.ablation_bars(result.oracle_accuracy, result.ablation, M), f"lca-{rid}-ablation", key="ablation")

st.subheader("Minimal subset, selectivity, probeless (Table 3)")
st.markdown("Neu_t: share of top neurons needed; Acc_a / Acc_t: accuracy with all / only those neurons (retrained); "
            "Sel_a / Sel_t: task accuracy minus control-task accuracy (Hewitt & Liang) with all / top neurons; "
            "Probeless: a probe retrained on the same number of neurons ranked without a probe (Antverg & Belinkov).")
table3 = pd.DataFrame([{
    "Neu_t %": round(100 * result.minimal["fraction"], 2), "N": N, "Acc_a %": pct(result.oracle_accuracy),
    "Acc_t %": pct(result.minimal["accuracy"]), "Sel_a": pct(result.selectivity["all"]),
    "Sel_t": pct(result.selectivity["top"]), "control Acc_a %": pct(result.selectivity["control_all"]),
    "control Acc_t %": pct(result.selectivity["control_top"]), "Probeless %": pct(result.probeless["accuracy"])}])
st.dataframe(table3, hide_index=True, width="stretch")
S.csv_button(table3, f"lca-{rid}-table3-minimal", key="t3")

st.subheader("Retraining on top, random and bottom neurons (Table 5)")
st.markdown(f"A new probe trained on only **N = {N:,}** neurons: the top-ranked ones, a random draw, or the "
            "bottom-ranked ones. Random neurons doing well means the information is redundant across the network.")
table5 = pd.DataFrame([{"Neu_t %": round(100 * result.minimal["fraction"], 2), "Acc_a %": pct(result.oracle_accuracy),
                        "Acc_t %": pct(result.retrain["top"]), "Acc_r %": pct(result.retrain["random"]),
                        "Acc_b %": pct(result.retrain["bottom"])}])
st.dataframe(table5, hide_index=True, width="stretch")
S.csv_button(table5, f"lca-{rid}-table5-retrain", key="t5")

st.subheader("The λ grid (Algorithm 2)")
st.markdown(f"Each cell trains a probe with penalties λ1 (L1) and λ2 (L2); the score rewards accuracy on the "
            f"development split and a large gap between its top and bottom {100 * M:.0f} % neurons. The chosen pair "
            f"(boxed) is λ1 = {result.lambdas['l1']:g}, λ2 = {result.lambdas['l2']:g}; without regularization the "
            f"probe reaches {pct(result.noreg_accuracy):.2f} % on the test set.")
if any(row.get("screened") for row in result.grid):
    st.caption("Quick mode: the cells are the screened points (every λ1 with λ2 = 0, then every λ2 at the best λ1), "
               "each trained for 2 epochs and scored by zeroing out instead of retraining; blank cells were not "
               "trained. The chosen pair and (0, 0) were then trained in full.")
grid = pd.DataFrame(result.grid)
left, right = st.columns([3, 2])
with left:
    S.chart(viz.grid_heatmap(result.grid, result.lambdas), f"lca-{rid}-grid", key="grid")
with right:
    # Round the scores only: λs as small as 1e-6 would print as 0.
    st.dataframe(grid.round({c: 4 for c in grid.columns if c not in ("l1", "l2")}), hide_index=True, width="stretch")
    S.csv_button(grid, f"lca-{rid}-grid", key="grid")

st.subheader("Accuracy against the number of neurons kept")
if result.curve:
    st.markdown("The oracle probe with only the first N neurons of each ordering kept (the rest zeroed out): the "
                "top ordering should climb fastest, the bottom slowest.")
    S.chart(viz.accuracy_curve(result.curve, result.oracle_accuracy, D), f"lca-{rid}-curve", key="curve")
    S.csv_button(pd.DataFrame(result.curve), f"lca-{rid}-curve", key="curve")
else:
    st.caption("This run has no curve (it was made before the curve was recorded).")

st.subheader("Export")
S.result_json_button(rid, key="overview_json")
with st.expander("Time per stage (seconds)"):
    st.dataframe(pd.DataFrame([result.timings]), hide_index=True)
