"""``python -m lca intervene RUN_DIR``: the causal check of a finished run, written to ``intervention.json``.

Cost: one re-extraction of the evaluation corpus per condition (clean, each set, its random draws
and bottom neurons, two per heatmap tag), up to 8 conditions per forward pass over a stacked batch;
plus one probe on the clean activations of the read layer (the training corpus's activations come
from the cache).  The LM check, when the model has a head, adds one scoring pass per condition
(6 masked copies of each sentence for a masked LM); the classifier check, for a folder made by
``lca finetune``, one pass over its held-out sentences (at most 500) per set condition.
``--max-eval-sentences`` bounds the rest.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..store.atomic import write_json_atomic
from .._validation import InputError, check_choice, check_positive
from ..data.corpus import Corpus

__all__ = ["InterventionResult", "run_intervention", "save_intervention", "add_parser", "command"]

Progress = Callable[[str, float], None]
FILE = "intervention.json"


@dataclass(frozen=True)
class InterventionResult:
    """Everything ``intervention.json`` holds.

    ``flow`` is :class:`lca.causal.effects.FlowResult`; ``lm`` the dict of
    :func:`lca.causal.lm.lm_effects` or None when the model has no pretrained head;
    ``classifier`` the dict of :func:`lca.causal.classifier.classifier_effects` or None when the
    model is not a classifier made by ``lca finetune`` (or the check was turned off);
    ``cost`` counts conditions and words re-extracted; ``timings`` are seconds per stage.
    """

    model: str
    task: str
    mode: str
    n_eval_sentences: int
    flow: object
    lm: dict | None
    cost: dict
    timings: dict
    classifier: dict | None = None

    def to_dict(self) -> dict:
        return {"model": self.model, "task": self.task, "mode": self.mode, "n_eval_sentences": self.n_eval_sentences,
                "flow": self.flow.to_dict(), "lm": self.lm, "classifier": self.classifier, "cost": dict(self.cost),
                "timings": dict(self.timings)}


def run_intervention(result, train: Corpus, test: Corpus, neurons=("top",), mode: str = "zero",
                     read_layer: int | None = None, draws: int = 5, heatmap_tags: int = 10, min_steps: int | None = None,
                     lm: bool = True, max_eval_sentences: int | None = None, loaded=None, cache=None,
                     progress: Progress | None = None, seed: int = 0, classifier: bool = True) -> InterventionResult:
    """Silence the run's neuron sets (``neurons``: specs of :func:`lca.causal.intervene.parse_neuron_set`) and measure.

    ``train`` and ``test`` are the run's corpora: the clean probe and the means of mode ``mean``
    come from ``train``'s activations, the effects are measured on ``test`` (at most
    ``max_eval_sentences`` of it, a seeded sample).  With ``classifier`` (default) a model folder
    made by ``lca finetune`` also has its own accuracy scored on its held-out sentences.
    """
    from ..store.cache import ActivationCache
    from ..data.datasets import sample_sentences
    from ..models.loading import load_model
    from .intervene import MODES, mean_activations, parse_neuron_set
    from .classifier import classifier_effects, load_classifier
    from .effects import clean_layer_probe, information_flow, read_layer_of
    from .lm import lm_effects, load_lm_head
    from ..runs.pipeline import corpus_activations

    check_choice("mode", mode, MODES)
    check_positive("draws", draws, integer=True)
    if result.pair:
        raise InputError("this run labels word pairs (dep-pair); interventions need a word-level task")
    if getattr(result, "site", "hidden") != "hidden" or getattr(result, "screen", None):
        raise InputError("interventions silence layer outputs of a run over every neuron; this run analysed "
                         f"site {getattr(result, 'site', 'hidden')!r}{' with a screen' if getattr(result, 'screen', None) else ''}: "
                         "run `lca run` with the default site and no --screen")
    sets = dict(parse_neuron_set(spec, result) for spec in neurons)
    report = progress or (lambda stage, fraction: None)
    timings, start = {}, time.perf_counter()
    cfg = result.run_config
    loaded = loaded or load_model(cfg)
    if (loaded.n_layers, loaded.layer_size) != (result.n_layers, result.layer_size):
        raise InputError(f"the run has {result.n_layers} layers × {result.layer_size} neurons but {loaded.name} has "
                         f"{loaded.n_layers} × {loaded.layer_size}: run the intervention with the run's model")
    if cfg.layers is not None:
        raise InputError("this run analysed only some layers; interventions need a run over every layer")
    clf = load_classifier(loaded) if classifier else None  # before the slow part: a missing data file fails fast
    timings["load"] = round(time.perf_counter() - start, 3)
    evaluation = sample_sentences(test, max_eval_sentences, seed) if max_eval_sentences else test
    read_layer = read_layer_of(result, read_layer)
    start = time.perf_counter()
    report("clean", 0.0)
    train_acts, _, _ = corpus_activations(loaded, train, cfg.aggregation,
                                         cache or ActivationCache(result.activation_keys.cache_dir or None))
    means = mean_activations(train_acts) if mode == "mean" else None
    report("clean", 1.0)
    timings["clean"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    report("probe", 0.0)
    probe = clean_layer_probe(train_acts, train, result, read_layer, min_steps, loaded.device)
    report("probe", 1.0)
    flow = information_flow(loaded, result, evaluation, probe, sets, mode, means, read_layer, draws, heatmap_tags,
                            seed, progress=report)
    timings["flow"] = round(time.perf_counter() - start, 3)
    n_flow = 1 + len(sets) * (draws + 2) + 2 * len(flow.heatmap.get("tags", []))
    lm_out, n_lm = None, 0
    head = load_lm_head(loaded, cfg.trust_remote_code) if lm else None
    if head is not None:
        start = time.perf_counter()
        map_tags = list(flow.heatmap.get("tags", []))
        lm_out = lm_effects(loaded, head, result, evaluation, sets, mode, means, draws, map_tags, seed,
                            progress=lambda done, total: report("lm", done / total))
        n_lm = 1 + len(sets) * (draws + 2) + 2 * len(map_tags)
        timings["lm"] = round(time.perf_counter() - start, 3)
    clf_out, n_clf = None, 0
    if clf is not None:
        start = time.perf_counter()
        clf_out = classifier_effects(loaded, clf, result, sets, mode, means, draws, seed,
                                     progress=lambda done, total: report("classify", min(1.0, done / total)))
        n_clf = 1 + len(sets) * (draws + 2)
        timings["classifier"] = round(time.perf_counter() - start, 3)
    cost = {"flow_conditions": n_flow, "lm_conditions": n_lm, "classifier_conditions": n_clf, "eval_words": evaluation.n_words,
            "words_reextracted": n_flow * evaluation.n_words}
    return InterventionResult(loaded.name, result.task, mode, len(evaluation.sentences), flow, lm_out, cost, timings,
                              clf_out)


def save_intervention(out: InterventionResult, run_dir) -> Path:
    """Write ``RUN_DIR/intervention.json`` atomically."""
    path = Path(run_dir) / FILE
    return write_json_atomic(path, out.to_dict())


def _run_corpora(run_dir: Path, args, result) -> tuple[Corpus, Corpus]:
    """The run's corpora: stored beside an app run, else from the same data options as ``lca run``."""
    import argparse

    if (run_dir / "train_corpus.json").is_file() and (run_dir / "test_corpus.json").is_file() and \
            not (args.dataset or args.train):
        from ..runs.store import corpus_from_dict

        return tuple(corpus_from_dict(json.loads((run_dir / f"{n}_corpus.json").read_text())) for n in ("train", "test"))
    from ..data.sources import corpora_from_args

    # the run's seed drew its --max-sentences sample: the same seed draws it again
    train, test = corpora_from_args(argparse.Namespace(**{**vars(args), "task": result.task,
                                                 "seed": result.run_config.seed}))[:2]
    return train, test


def _bars() -> Progress:
    """One tqdm bar per stage on stderr."""
    from tqdm import tqdm

    bars: dict = {}

    def update(stage: str, fraction: float) -> None:
        if stage not in bars:
            bars[stage] = tqdm(total=100, desc=f"{stage:<8}", leave=True, bar_format="{desc} {bar} {percentage:3.0f}% {elapsed}")
        bars[stage].n = round(100 * fraction)
        bars[stage].refresh()
        if fraction >= 1:
            bars[stage].close()
    return update


def add_parser(sub) -> None:
    """The ``intervene`` subcommand of :func:`lca.cli.main.main`."""
    p = sub.add_parser("intervene", help="silence a run's salient neurons inside the model and measure what breaks; "
                                         "writes RUN_DIR/intervention.json")
    p.add_argument("run_dir", help="a folder written by `lca run` (result.json)")
    p.add_argument("--neurons", action="append",
                   help="what to silence (repeatable): top (the minimal set, default), top:N, tag:TAG, or a list "
                        "of ids such as '3:120,5:7'")
    p.add_argument("--mode", default="zero", choices=("zero", "mean"),
                   help="replace by zero, or by each neuron's mean over the training corpus")
    p.add_argument("--model", help="override the run's model (same architecture), e.g. a local copy")
    p.add_argument("--read-layer", type=int, help="layer the task is decoded from (default: the top one)")
    p.add_argument("--draws", type=int, default=5, help="random sets per comparison (default 5)")
    p.add_argument("--heatmap-tags", type=int, default=10, help="tags in the per-tag silencing map (0: none)")
    p.add_argument("--max-eval-sentences", type=int, help="sample of the test sentences to measure on")
    p.add_argument("--min-steps", type=int, help="optimizer steps of the clean probe (default: the run's)")
    p.add_argument("--no-lm", action="store_true", help="skip the model's own predictions even if it has a head")
    p.add_argument("--no-classifier", action="store_true",
                   help="skip the accuracy of a classifier made by `lca finetune` on its held-out sentences")
    p.add_argument("--seed", type=int, default=0)
    data = p.add_argument_group("the run's corpora (not needed for a run saved by the app)")
    for flag in ("--dataset", "--train", "--test", "--data-dir", "--label-column"):
        data.add_argument(flag)
    data.add_argument("--format", default="conllu", choices=("conllu", "neurox", "columns", "conll2000", "pmb"))
    data.add_argument("--word-column", default="0")
    data.add_argument("--max-sentences", type=int, help="as given to `lca run`")


def command(args) -> int:
    """Handle ``python -m lca intervene``: print the comparison and write ``intervention.json``."""
    import dataclasses

    from ..runs.result import load_result

    run_dir = Path(args.run_dir)
    result = load_result(run_dir)
    train, test = _run_corpora(run_dir, args, result)
    if args.model:
        result = dataclasses.replace(result, config={**result.config, "model": args.model})
    out = run_intervention(result, train, test, args.neurons or ["top"], args.mode, args.read_layer, args.draws,
                           args.heatmap_tags, args.min_steps, not args.no_lm, args.max_eval_sentences, None,
                           progress=_bars(), seed=args.seed, classifier=not args.no_classifier)
    for line in summary_lines(out):
        print(line)
    print(f"wrote {save_intervention(out, run_dir)}")
    return 0


def summary_lines(out: InterventionResult) -> list[str]:
    """The comparison in words: clean, each set, random (mean ± sd) and bottom accuracy at the read layer."""
    f = out.flow
    lines = [f"{out.model}, {out.task}, mode {out.mode}: layer {f.read_layer} decodes {f.clean.accuracy:.4f} of "
             f"{f.n_words} words clean (a probe trained on clean activations, not retrained)"]
    for s in f.sets:
        r = s.to_dict()["random"]
        lines.append(f"  {s.name}: {len(s.neurons)} neurons below layer {f.read_layer} silenced -> top {s.top.accuracy:.4f}, "
                     f"random {r['accuracy']:.4f} ± {r['sd']:.4f} ({len(r['draws'])} draws), bottom {s.bottom.accuracy:.4f}")
    if f.heatmap:
        own = np.diag(np.asarray(f.heatmap["own"], dtype=float))
        rand = np.diag(np.asarray(f.heatmap["random"], dtype=float))
        lines.append(f"  per tag, own-tag accuracy drop: own neurons {own.mean():.4f} vs as many random {rand.mean():.4f} "
                     f"(mean over {len(own)} tags; own > random for {int(np.sum(own > rand))})")
    if out.lm:
        for s in out.lm["sets"]:
            lines.append(f"  {out.lm['kind']} LM, {s['name']}: loss {out.lm['clean']['loss']:.3f} clean -> top "
                         f"{s['top']['loss']:.3f}, random {s['random']['loss']:.3f} ± {s['random']['loss_sd']:.3f}, "
                         f"bottom {s['bottom']['loss']:.3f}")
    else:
        lines.append("  the model has no pretrained LM head: only information flow was measured")
    c = out.classifier
    for s in c["sets"] if c else ():
        r = s["random"]
        lines.append(f"  classifier ({c['data']}, {c['n_sentences']} held-out sentences), {s['name']}: accuracy "
                     f"{c['clean']:.4f} clean -> top {s['top']:.4f}, random {r['accuracy']:.4f} ± {r['sd']:.4f} "
                     f"({len(r['draws'])} draws), bottom {s['bottom']:.4f} (most frequent label {c['held_out_majority']:.4f})")
    lines.append(f"  cost: {out.cost['words_reextracted']:,} word activations re-extracted "
                 f"({out.cost['flow_conditions']} conditions); " + ", ".join(f"{k} {v:.0f} s" for k, v in out.timings.items()))
    return lines
