"""Does the ranking beat random neurons, and what does that depend on?  (docs/fidelity.md)

    python bench/fidelity.py [--data ../shared/data] [--sections A,B,C,D,E] [--cache-dir DIR] [--out fidelity.json]
                             [--long | --only-long]
    python bench/fidelity.py --markdown A.json B.json ...   # the tables of docs/fidelity.md from saved runs

Runs the real pipeline (:func:`lca.runs.pipeline.run_lca`) with the bundled model and prints one row
per run as it is measured: training words, the training settings, the oracle's optimizer steps,
the λs, oracle and unregularized test accuracy, zero-out "top − mean random" at 1, 5, 10 and
20 % of the neurons (± the sd of the random draws), bottom at 20 %, weight magnitude at 5 and
20 %, the minimal subset, retrained top vs random (mean ± sd) and the wall seconds.  Sections:

* A — training words: the demo corpus in both modes; EWT train sampled (seed 0) to ~5k … 100k
  words and whole, → EWT test, xpos; quick mode at every size, paper mode up to 25k.
* B — optimizer steps and schedule, EWT dev → test, xpos, fixed λ = (0.1, 0): lr 1e-3 constant
  for 10, 50, 200 epochs; lr 1e-2 decayed linearly for at least 500 … 8000 steps.
* C — penalty strength at convergence (quick training, λ2 = 0): λ1 from 0 to 1; and batch 32
  at λ1 = 0.1 and at 0.1 / 16 (the per-example penalty of batch 512 at 0.1).
* D — other tasks: deprel on EWT dev → test, sem on PMB en (train sampled to ~25k words),
  quick and paper mode.
* E — LCA ranking (Algorithm 3) vs weight magnitude at small fractions on the quick-mode EWT
  dev xpos run: zero-out token and macro (mean per-tag) accuracy, and which tags the first 1 %
  of each ranking serves.
* F — activation scale (a side check of C): probes at λ1 = 0 and 0.1 trained on all of EWT dev
  with quick training; how the L1 norm of a neuron's weights correlates with its activation sd,
  and zero-out at 20 % when the rankings use ``|w| × sd`` instead of ``|w|``.

The default run leaves out the longest items (see ``LONG``: EWT ~12k, ~50k, ~100k words and
whole, B's ~8,000-step probes, C's λ1 = 0.001); ``--long`` adds them, ``--only-long`` runs just
them.  Activations are cached in
``--cache-dir`` (default ``$LCA_CACHE_DIR``, else ``/tmp/lca-fidelity-cache``).  ``--out`` is
rewritten after every row, so an interrupted run keeps what it measured.  The last line printed
is the JSON of every row.  On a CPU shared with other jobs, ``OMP_NUM_THREADS=1`` can be several
times faster than 2 (thread oversubscription).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lca.method.ablate import kept_accuracy  # noqa: E402
from lca.store.cache import ActivationCache  # noqa: E402
from lca.data.corpus import read_conllu, task_examples  # noqa: E402
from lca.data.datasets import sample_sentences, train_test  # noqa: E402
from lca.models.extract import load_model  # noqa: E402
from lca.method.features import Features  # noqa: E402
from lca.runs.pipeline import corpus_activations, run_lca  # noqa: E402
from lca.method.probe import ProbeWeights  # noqa: E402
from lca.method.probe import train_probes  # noqa: E402
from lca.method.rank import entry_steps, lca_ranking, random_rankings, top_columns, weight_magnitude_ranking  # noqa: E402
from lca.runs.result import TRAINING, RunConfig  # noqa: E402

SECTIONS = "ABCDEF"
FRACTIONS = (0.01, 0.05, 0.1, 0.2)
A_SIZES = (5_000, 12_000, 25_000, 50_000, 100_000)
B_EPOCHS = (10, 50, 200)
B_STEPS = (500, 1000, 2000, 4000, 8000)
# Left out of the default run for time, run with --long: EWT train ~12k (both modes), ~50k, ~100k
# words and whole (quick mode); in B the probes trained ~8,000-9,000 steps (constant lr for 200
# epochs, linear decay for 8000 steps; their minimal subset and retrained probes train as long);
# in C λ1 = 0.001.  The default is then ~45 min on 2 CPU cores with quick mode's 4000 steps
# (docs/fidelity.md); --long adds ~30 min.
LONG = {("A", 12_000), ("A", 50_000), ("A", 100_000), ("A", None), ("B", 200), ("B", "steps", 8000),
        ("C", 0.001)}
ONLY_LONG = []  # [True] with --only-long: run just those items (to add them to a default run)
A_PAPER_MAX = 25_000  # paper mode trains 49 + 98 probes: only the small corpora
QUICK_TRAINING = dict(TRAINING["quick"])  # quick mode's defaults, spelled out (C varies the penalty only)
MODES = ["quick", "paper"]  # --modes: sections A and D run these


def _sample_words(corpus, words: int, seed: int = 0):
    """About ``words`` words: the number of sentences that many words take on average, seeded."""
    per_sentence = corpus.n_words / len(corpus.sentences)
    return sample_sentences(corpus, max(1, round(words / per_sentence)), seed=seed)


def _settings(config: RunConfig) -> str:
    t = config.training()
    text = f"{config.mode} lr {t['lr']:g} {t['schedule']}"
    if t["min_steps"]:
        text += f" ≥{t['min_steps']}"
    if t["epochs"] != 10:
        text += f" ep {t['epochs']}"
    if t["batch_size"] != 512:
        text += f" b{t['batch_size']}"
    text += " grid" if config.lambdas is None else " fixed λ"
    return text


def _row(section: str, label: str, result, config: RunConfig, seconds: float) -> dict:
    curve = {r["fraction"]: r for r in result.curve}
    return {
        "section": section, "label": label, "task": config.task, "words": result.n_train_words,
        "test_words": result.n_test_words, "settings": _settings(config), "training": config.training(),
        "steps": result.training_curve[-1]["step"] if result.training_curve else None,
        "l1": result.lambdas["l1"], "l2": result.lambdas["l2"],
        "oracle": result.oracle_accuracy, "noreg": result.noreg_accuracy, "majority": result.majority_accuracy,
        "zero_out": {str(f): {k: curve[f][k] for k in ("top", "random", "random_sd", "bottom", "weight_magnitude")}
                     for f in FRACTIONS},
        "minimal_fraction": result.minimal["fraction"], "minimal_n": result.minimal["n_neurons"],
        "retrain_top": result.retrain["top"], "retrain_random": result.retrain["random"],
        "retrain_random_sd": result.retrain["random_sd"], "seconds": round(seconds, 1), "timings": result.timings,
    }


def _cells(row: dict) -> list[str]:
    """The figures of a row, formatted once: the printed line and the markdown table share them."""
    z = row["zero_out"]
    gap = [f"{z[str(f)]['top'] - z[str(f)]['random']:+.3f}±{z[str(f)]['random_sd']:.3f}" for f in FRACTIONS]
    return [row["label"], f"{row['words']:,}", row["settings"], f"{row['steps']:,}",
            f"{row['l1']:g} / {row['l2']:g}", f"{row['oracle']:.3f}", f"{row['noreg']:.3f}", *gap,
            f"{z['0.2']['top']:.3f}", f"{z['0.2']['random']:.3f}", f"{z['0.2']['bottom']:.3f}",
            f"{z['0.05']['top']:.3f} / {z['0.05']['weight_magnitude']:.3f}", f"{z['0.2']['weight_magnitude']:.3f}",
            f"{row['minimal_fraction']:.1%}",
            f"{row['retrain_top']:.3f} / {row['retrain_random']:.3f}±{row['retrain_random_sd']:.3f}",
            f"{row['seconds']:.0f}"]


HEADER = ["run", "train words", "settings", "steps", "λ1 / λ2", "oracle", "no-reg", "top−rand 1%", "top−rand 5%",
          "top−rand 10%", "top−rand 20%", "top 20%", "rand 20%", "bottom 20%", "top / wm 5%", "wm 20%", "minimal",
          "retrain top / rand", "s"]


def _print_row(row: dict) -> None:
    c = _cells(row)
    print(f"{row['section']} {c[0]:<18} {c[1]:>8}w  {c[2]:<32} steps {c[3]:>6}  λ {c[4]:<13} oracle {c[5]} "
          f"noreg {c[6]} | top−rand @1% {c[7]} @5% {c[8]} @10% {c[9]} @20% {c[10]} | top20 {c[11]} rand20 {c[12]} "
          f"bottom20 {c[13]} | top/wm5 {c[14]} wm20 {c[15]} | minimal {c[16]} | retrain top/rand {c[17]} | {c[18]}s "
          f"(extract {row['timings'].get('extract', 0):.0f}s)",
          flush=True)


class Bench:
    def __init__(self, data: str, cache: ActivationCache, save=None):
        self.data, self.cache, self.save = data, cache, save or (lambda: None)
        self.loaded = load_model(None, device="auto")
        self.rows: list[dict] = []
        self.results = {}  # (corpora, config) → result: B and C share a configuration

    def run(self, section: str, label: str, train, test, config: RunConfig):
        key = (train.content_hash(), test.content_hash(), json.dumps(config.to_dict(), sort_keys=True))
        start = time.perf_counter()
        reused = key in self.results
        if not reused:
            self.results[key] = (run_lca(train, test, config, loaded=self.loaded, cache=self.cache),
                                 None)
        result = self.results[key][0]
        seconds = time.perf_counter() - start
        if reused:  # the same run as an earlier row: its own seconds
            seconds = next(r["seconds"] for r in self.rows if r.get("_key") == key)
        row = _row(section, label, result, config, seconds)
        row["_key"] = key
        if reused:
            row["label"] += " (=)"
        self.rows.append(row)
        _print_row(row)
        self.save()
        return result

    def ewt(self, split: str):
        return read_conllu(Path(self.data) / "ud_english_ewt" / {
            "train": "en_ewt-ud-train.reconstructed.conllu", "dev": "en_ewt-ud-dev.conllu",
            "test": "en_ewt-ud-test.conllu"}[split])


def section_a(b: Bench) -> None:
    demo_train, demo_test = train_test("demo", b.data)
    for mode in () if ONLY_LONG else MODES:
        b.run("A", f"demo {mode}", demo_train, demo_test, RunConfig(task="xpos", mode=mode, drop_unseen=True))
    train, test = b.ewt("train"), b.ewt("test")
    for words in A_SIZES + (None,):
        if (("A", words) in LONG) != bool(ONLY_LONG):
            continue
        part = train if words is None else _sample_words(train, words)
        name = "EWT train all" if words is None else f"EWT train ~{words // 1000}k"
        for mode in MODES:
            if mode == "paper" and (words is None or words > A_PAPER_MAX):
                continue
            b.run("A", f"{name} {mode}", part, test, RunConfig(task="xpos", mode=mode, drop_unseen=True))


def section_b(b: Bench) -> None:
    train, test = b.ewt("dev"), b.ewt("test")
    base = RunConfig(task="xpos", mode="quick", lambdas=(0.1, 0.0), drop_unseen=True)
    for epochs in B_EPOCHS:
        if (("B", epochs) in LONG) != bool(ONLY_LONG):
            continue
        b.run("B", f"const 1e-3 ep {epochs}", train, test,
              dataclasses.replace(base, lr=1e-3, schedule="constant", min_steps=0, epochs=epochs))
    for steps in B_STEPS:
        if (("B", "steps", steps) in LONG) != bool(ONLY_LONG):
            continue
        b.run("B", f"linear 1e-2 ≥{steps}", train, test,
              dataclasses.replace(base, lr=1e-2, schedule="linear", min_steps=steps))


def section_c(b: Bench) -> None:
    train, test = b.ewt("dev"), b.ewt("test")
    base = RunConfig(task="xpos", mode="quick", drop_unseen=True, **QUICK_TRAINING)
    for l1 in (0.0, 1e-3, 1e-2, 0.1, 0.3, 1.0):
        if (("C", l1) in LONG) != bool(ONLY_LONG):
            continue
        b.run("C", f"λ1 {l1:g}", train, test, dataclasses.replace(base, lambdas=(l1, 0.0)))
    for l1 in () if ONLY_LONG else (0.1, 0.1 / 16):
        b.run("C", f"b32 λ1 {l1:g}", train, test, dataclasses.replace(base, lambdas=(l1, 0.0), batch_size=32))


def section_d(b: Bench) -> None:
    dev, test = b.ewt("dev"), b.ewt("test")
    for mode in () if ONLY_LONG else MODES:
        b.run("D", f"deprel EWT {mode}", dev, test, RunConfig(task="deprel", mode=mode, drop_unseen=True))
    pmb_train, pmb_test = train_test("pmb-en", b.data)
    pmb_train = _sample_words(pmb_train, 25_000) if pmb_train.n_words > 25_000 else pmb_train
    for mode in () if ONLY_LONG else MODES:
        b.run("D", f"sem PMB {mode}", pmb_train, pmb_test, RunConfig(task="sem", mode=mode, drop_unseen=True))


def _tag_accuracy(X: Features, y: np.ndarray, probe: ProbeWeights, rankings: np.ndarray, sizes, T: int):
    """``(R, S)`` token accuracy and ``(R, S)`` macro accuracy (mean over the tags present in ``y``)
    and ``(T, R, S)`` per-tag accuracy (NaN for an absent tag)."""
    token = kept_accuracy(X, y, probe, rankings, [0] * len(rankings), sizes)
    per_tag = np.full((T, len(rankings), len(sizes)), np.nan)
    for t in np.unique(y):
        idx = np.nonzero(y == t)[0]
        per_tag[t] = kept_accuracy(X.take(idx), y[idx], probe, rankings, [0] * len(rankings), sizes)
    return token, np.nanmean(per_tag, axis=0), per_tag


def section_e(b: Bench) -> dict:
    """Algorithm 3 against weight magnitude on the oracle of the quick-mode EWT dev → test xpos run."""
    dev, test = b.ewt("dev"), b.ewt("test")
    config = RunConfig(task="xpos", mode="quick", drop_unseen=True)
    result = b.run("E", "EWT dev quick", dev, test, config)
    start = time.perf_counter()
    tags = np.asarray(result.tags)
    T, D = len(tags), result.n_neurons
    ex = task_examples(test, "xpos")
    labels = np.asarray(ex.labels)
    kept = np.nonzero(np.isin(labels, tags))[0]
    y = np.searchsorted(tags, labels[kept])
    acts, _, _ = corpus_activations(b.loaded, test, "last", b.cache)
    X = Features(acts, ex.rows[kept])
    W = np.asarray(result.weights, dtype=np.float32)
    probe = ProbeWeights(W[None], np.asarray(result.intercept, dtype=np.float32)[None])
    rankings = {"lca": np.asarray(result.ranking), "weight_magnitude": weight_magnitude_ranking(W)}
    fractions = (0.01, 0.02, 0.05, 0.1)
    sizes = [len(top_columns(np.arange(D), f)) for f in fractions]
    token, macro, per_tag = _tag_accuracy(X, y, probe, np.stack(list(rankings.values())), sizes, T)
    train_counts = np.bincount(np.searchsorted(tags, np.asarray(task_examples(dev, "xpos").labels)), minlength=T)
    test_counts = np.bincount(y, minlength=T)
    present = test_counts > 0
    # "rare": the tags present in the test set at or below the median test count of those tags
    rare = present & (test_counts <= np.median(test_counts[present]))
    entry = entry_steps(W)  # (D, T): a tag's strongest neuron enters at step 1
    strongest = np.argsort(-np.abs(W), axis=0)  # (D, T): each tag's neurons, strongest first
    place = np.empty_like(strongest)  # (D, T): each neuron's place in each tag's order (0 = strongest)
    np.put_along_axis(place, strongest, np.arange(D)[:, None].repeat(T, axis=1), axis=0)
    out = {"tags": T, "tags_in_test": int(present.sum()), "rare_tags": int(rare.sum()),
           "fractions": list(fractions), "sizes": sizes, "rankings": {}}
    for r, name in enumerate(rankings):
        first = rankings[name][:sizes[0]]
        served = {f"top{k}": [str(tags[t]) for t in range(T) if np.isin(strongest[:k, t], first).any()]
                  for k in (1, 5)}
        out["rankings"][name] = {
            "token": token[r].tolist(), "macro": macro[r].tolist(),
            "macro_rare": np.nanmean(per_tag[rare, r], axis=0).tolist(),
            "macro_frequent": np.nanmean(per_tag[present & ~rare, r], axis=0).tolist(),
            "served_top1": len(served["top1"]), "served_top5": len(served["top5"]),
            "served_top1_test_share": float(test_counts[np.isin(tags, served["top1"])].sum() / test_counts.sum()),
            "served_top5_test_share": float(test_counts[np.isin(tags, served["top5"])].sum() / test_counts.sum()),
            "not_served_top5": [t for t in tags.tolist() if t not in served["top5"]],
            "entry_step_max_1pct": int(entry[first].min(axis=1).max()),
            # tags whose strongest neuron is within the first 1, 2, 5, 10 %
            "served_top1_by_fraction": [int(np.isin(strongest[0], rankings[name][:n]).sum()) for n in sizes],
            # how broadly the first 1 % acts: per neuron, the tags for which it is among the tag's 50 strongest
            "breadth_1pct": float((place[first] < 50).sum(axis=1).mean()),
            "l1_norm_1pct": float(np.abs(W[first]).sum(axis=1).mean()),
        }
    lca_first, wm_first = (set(rankings[n][:sizes[0]].tolist()) for n in rankings)
    out["overlap_1pct"] = len(lca_first & wm_first)
    out["distinct_strongest"] = int(len(np.unique(strongest[0])))  # Algorithm 3's step 1
    # which tags each ranking serves better at 1 %: per-tag accuracy difference, with the tag's counts
    diff = per_tag[:, 0, 0] - per_tag[:, 1, 0]
    order = [t for t in np.argsort(-np.nan_to_num(np.abs(diff))) if present[t]][:12]
    out["largest_per_tag_differences_1pct"] = [
        {"tag": str(tags[t]), "train": int(train_counts[t]), "test": int(test_counts[t]),
         "lca": float(per_tag[t, 0, 0]), "weight_magnitude": float(per_tag[t, 1, 0])} for t in order]
    out["seconds"] = round(time.perf_counter() - start, 1)
    _print_e(out)
    return out


def section_f(b: Bench) -> dict:
    """Is a ranking's quality an activation-scale effect?  Two probes, no pipeline around them."""
    from scipy.stats import spearmanr

    start = time.perf_counter()
    dev, test = b.ewt("dev"), b.ewt("test")
    (a_tr, _, _), (a_te, _, _) = (corpus_activations(b.loaded, c, "last", b.cache) for c in (dev, test))
    e_tr, e_te = task_examples(dev, "xpos"), task_examples(test, "xpos")
    classes = np.unique(np.asarray(e_tr.labels))
    labels = np.asarray(e_te.labels)
    kept = np.isin(labels, classes)
    y_tr, y_te = np.searchsorted(classes, np.asarray(e_tr.labels)), np.searchsorted(classes, labels[kept])
    X_tr, X_te = Features(a_tr, e_tr.rows), Features(a_te, e_te.rows[kept])
    sd = np.asarray(a_tr[np.sort(e_tr.rows)], dtype=np.float32).std(axis=0)
    D = len(sd)
    n20 = len(top_columns(np.arange(D), 0.2))
    lambdas = (0.0, 0.1)
    probes = train_probes(X_tr, y_tr, len(classes), list(lambdas), [0.0] * len(lambdas), seed=0, **QUICK_TRAINING)
    randoms = random_rankings(D, 5, 0)
    out = {"sd_min": float(sd.min()), "sd_median": float(np.median(sd)), "sd_max": float(sd.max()),
           "training": QUICK_TRAINING, "probes": []}
    for g, l1 in enumerate(lambdas):
        W = probes.coef[g]
        scaled = W * sd[:, None]
        rankings = {"lca": lca_ranking(W), "lca(|w|×sd)": lca_ranking(scaled), "wm": weight_magnitude_ranking(W),
                    "wm(|w|×sd)": weight_magnitude_ranking(scaled)}
        acc = kept_accuracy(X_te, y_te, probes, np.concatenate([np.stack(list(rankings.values())), randoms]),
                            [g] * (len(rankings) + len(randoms)), [n20])[:, 0]
        out["probes"].append({
            "l1": l1, "spearman_norm_sd": float(spearmanr(np.abs(W).sum(axis=1), sd).correlation),
            "sd_median_top20": float(np.median(sd[rankings["lca"][:n20]])),
            "sd_median_bottom20": float(np.median(sd[rankings["lca"][-n20:]])),
            "zero_out_20": {name: float(a) for name, a in zip(rankings, acc)},
            "random_20": float(acc[len(rankings):].mean()), "random_20_sd": float(acc[len(rankings):].std(ddof=1))})
    out["seconds"] = round(time.perf_counter() - start, 1)
    for line in _f_lines(out):
        print(line, flush=True)
    return out


def _f_lines(f: dict) -> list[str]:
    t = f["training"]
    lines = [f"F: activation sd over the neurons (EWT dev): min {f['sd_min']:.3f} median {f['sd_median']:.3f} "
             f"max {f['sd_max']:.3f}; probes on all of EWT dev, lr {t['lr']:g} {t['schedule']} ≥{t['min_steps']} steps"]
    for p in f["probes"]:
        lines.append(f"F λ1 {p['l1']:g}: Spearman(L1 norm of weights, activation sd) {p['spearman_norm_sd']:+.3f}; "
                     f"median sd of the LCA top 20 % {p['sd_median_top20']:.3f}, bottom 20 % {p['sd_median_bottom20']:.3f}")
        lines.append(f"F λ1 {p['l1']:g}: zero-out keeping 20 %: "
                     + "  ".join(f"{n} {a:.3f}" for n, a in p["zero_out_20"].items())
                     + f"  random {p['random_20']:.3f}±{p['random_20_sd']:.3f}")
    return lines


def _e_lines(e: dict) -> list[str]:
    lines = [f"E: {e['tags']} tags ({e['tags_in_test']} in test, {e['rare_tags']} rare = at or below the median "
             f"test count); first 1 % = {e['sizes'][0]} neurons, {e['overlap_1pct']} of them in both rankings"
             + (f"; the tags' strongest neurons are {e['distinct_strongest']} distinct neurons"
                if "distinct_strongest" in e else "")]
    for name, r in e["rankings"].items():
        for kind in ("token", "macro", "macro_rare", "macro_frequent"):
            figures = "  ".join(f"{f:.0%} {v:.3f}" for f, v in zip(e["fractions"], r[kind]))
            lines.append(f"E {name:<16} {kind:<15} {figures}")
        lines.append(f"E {name:<16} first 1 %: tags whose strongest neuron is in it {r['served_top1']} "
                     f"({r['served_top1_test_share']:.1%} of test tokens), one of its 5 strongest "
                     f"{r['served_top5']} ({r['served_top5_test_share']:.1%}); not served (5): "
                     f"{' '.join(r['not_served_top5'])}; last entry step {r['entry_step_max_1pct']}")
        if "served_top1_by_fraction" in r:
            lines.append(f"E {name:<16} tags whose strongest neuron is kept at "
                         + "  ".join(f"{f:.0%} {n}" for f, n in zip(e["fractions"], r["served_top1_by_fraction"]))
                         + f"; first 1 %: mean L1 norm {r['l1_norm_1pct']:.3f}, tags for which a neuron is among "
                         f"the tag's 50 strongest {r['breadth_1pct']:.1f}")
    for d in e["largest_per_tag_differences_1pct"]:
        lines.append(f"E per-tag at 1 %: {d['tag']:<6} train {d['train']:>5} test {d['test']:>5}  "
                     f"lca {d['lca']:.3f}  wm {d['weight_magnitude']:.3f}")
    return lines


def _print_e(e: dict) -> None:
    for line in _e_lines(e):
        print(line, flush=True)


def merge(paths) -> dict:
    """Several saved runs (e.g. one per section) as one."""
    out = {"rows": [], "E": None, "F": None, "section_seconds": {}, "total_seconds": 0.0}
    for path in paths:
        saved = json.loads(Path(path).read_text())
        out["rows"] += saved["rows"]
        out["E"] = saved.get("E") or out["E"]
        out["F"] = saved.get("F") or out["F"]
        out["section_seconds"].update(saved.get("section_seconds", {}))
        out["total_seconds"] += saved.get("total_seconds") or 0.0
    return out


def markdown(paths) -> None:
    """The tables of saved runs, one per section, with the figures exactly as printed."""
    saved = merge(paths)
    for section in SECTIONS:
        rows = [r for r in saved["rows"] if r["section"] == section]
        if not rows:
            continue
        print(f"\n### Section {section}\n")
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))
        for row in rows:
            print("| " + " | ".join(_cells(row)) + " |")
        if section in saved["section_seconds"]:
            print(f"\nSection {section}: {saved['section_seconds'][section]:.0f} s")
    for name, lines in (("E", _e_lines), ("F", _f_lines)):
        if saved.get(name):
            print(f"\n### Section {name}\n\n```")
            print("\n".join(lines(saved[name])))
            print("```")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--cache-dir", default=os.environ.get("LCA_CACHE_DIR") or "/tmp/lca-fidelity-cache")
    parser.add_argument("--out", default=None, help="write the JSON here too")
    parser.add_argument("--markdown", nargs="+", default=None, metavar="JSON",
                        help="print the tables of saved runs and exit")
    parser.add_argument("--long", action="store_true", help="also run the items the default leaves out for time")
    parser.add_argument("--only-long", action="store_true", help="run only those items")
    parser.add_argument("--modes", default="quick,paper", help="the modes sections A and D run")
    args = parser.parse_args()
    if args.long:
        LONG.clear()
    if args.only_long:
        ONLY_LONG.append(True)
    MODES[:] = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.markdown:
        markdown(args.markdown)
        return
    sections = [s.strip().upper() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {','.join(SECTIONS)}")
    section_seconds, e, f = {}, None, None
    start_all = time.perf_counter()

    def save():
        rows = [{k: v for k, v in r.items() if k != "_key"} for r in bench.rows]
        saved = {"rows": rows, "E": e, "F": f, "section_seconds": section_seconds,
                 "total_seconds": round(time.perf_counter() - start_all, 1)}
        if args.out:  # after every row: an interrupted run keeps what it measured
            Path(args.out).write_text(json.dumps(saved))
        return saved

    bench = Bench(args.data, ActivationCache(args.cache_dir), save)
    print(f"model {bench.loaded.name} (D = {bench.loaded.n_neurons}), device {bench.loaded.device}, "
          f"torch threads {__import__('torch').get_num_threads()}", flush=True)
    for s in sections:
        start = time.perf_counter()
        out = {"A": section_a, "B": section_b, "C": section_c, "D": section_d, "E": section_e,
               "F": section_f}[s](bench)
        if s == "E":
            e = out
        if s == "F":
            f = out
        section_seconds[s] = round(time.perf_counter() - start, 1)
        print(f"section {s}: {section_seconds[s]:.0f} s", flush=True)
    print(json.dumps(save()))


if __name__ == "__main__":
    main()
