"""Command line: ``python -m lca run | datasets | compare | finetune`` (``neurons``: :mod:`.neurons`).

Bad input ends with one readable line on stderr and exit code 2; nothing is half-written.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._validation import InputError
from ..data.corpus import TASKS
from ..models.extract import AGGREGATIONS, DEFAULT_MODEL
from ..data.sources import corpora_from_args as _corpora
from ..method.probe import SCHEDULES

__all__ = ["main"]


class _Help(argparse.RawDescriptionHelpFormatter):
    """Adds "(default: X)" to every option that has a default and does not state it already."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if default is not None and default is not False and default != argparse.SUPPRESS and "default" not in text \
                and action.option_strings:
            text += f" (default: {action.default})"
        return text


class _Parser(argparse.ArgumentParser):
    """Bad options end in one line naming the problem (argparse prints a dozen lines of usage)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


_RUN_EXAMPLES = """examples:
  python -m lca run --dataset demo --task xpos --out run1                 # the app's first run, ~3 min on 2 cores
  python -m lca run --dataset ud-english-ewt --task upos --max-sentences 2000 --out ewt-upos
  python -m lca run --train train.conllu --test test.conllu --task deprel --out mine --model bert-base-cased
"""


def _add_run(sub) -> None:
    run = sub.add_parser("run", help="run the whole LCA pipeline and write DIR/result.json", epilog=_RUN_EXAMPLES,
                         description="Extract activations, train the elastic-net probe, rank neurons, find the minimal "
                                     "subset and check it (ablation, retraining, control task, probeless ranking).")
    source = run.add_argument_group("data (a registered --dataset, or --train and --test files)")
    source.add_argument("--dataset", help="registered dataset (see `python -m lca datasets`); default: demo")
    source.add_argument("--train", help="training file; NeuroX pairs as TEXT,LABELS")
    source.add_argument("--test", help="test file; NeuroX pairs as TEXT,LABELS")
    source.add_argument("--format", default="conllu", choices=("conllu", "neurox", "columns", "conll2000", "pmb"),
                        help="format of --train and --test")
    source.add_argument("--word-column", default="0", help="columns format: index or name of the word column")
    source.add_argument("--label-column", help="columns format: index or name of the label column (default: TASK)")
    source.add_argument("--data-dir", help="where registered datasets are found (default: $LCA_DATA_DIR)")
    source.add_argument("--max-sentences", type=int, help="reproducible sample of the training sentences")
    run.add_argument("--task", default="xpos", choices=TASKS, help="the property to probe")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument("--model", default=DEFAULT_MODEL,
                     help="Hugging Face id, local folder, GGUF file, or a name from `python -m lca models` "
                          "(default: bundled)")
    run.add_argument("--revision", help="model revision (hub models)")
    run.add_argument("--aggregation", default="last", choices=AGGREGATIONS,
                     help="how a word's subword activations fold into one (last: the paper's)")
    run.add_argument("--layers", help="analyse only these layers, e.g. 0,1,2 or 0-3 (0 = embeddings; default: all)")
    run.add_argument("--site", default="hidden", choices=("hidden", "mlp"),
                     help="neurons: hidden = layer outputs (the paper's, default); mlp = each block's MLP activation "
                          "after the nonlinearity (blocks numbered from 0; --layers then picks blocks)")
    run.add_argument("--screen", type=int, metavar="K",
                     help="big models: stream the training words once, keep the best K neurons of each layer by a "
                          "cheap score, then run LCA on those (see README, Decoder models and MLP neurons)")
    run.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: a GPU when there is one")
    run.add_argument("--mode", default="quick", choices=("paper", "quick"),
                     help="quick (default): a faster search over the same grid with converged probes; paper: the "
                          "full 7×7 grid, each probe trained exactly as Algorithm 1 (10 epochs, lr 1e-3)")
    run.add_argument("--seed", type=int, default=0, help="seed of sampling, splits, probes and random baselines")
    run.add_argument("--seeds", type=int, default=1,
                     help="repeat the probe training with this many seeds and report each figure as mean ± sd")
    run.add_argument("--random-draws", type=int, default=5, help="draws of every random baseline (default 5)")
    run.add_argument("--epochs", type=int, default=10, help="epochs per probe, at least (default 10, as the paper)")
    run.add_argument("--min-steps", type=int,
                     help="at least this many optimizer steps per probe (default: paper 0, quick 8000)")
    run.add_argument("--lr", type=float, help="Adam's learning rate (default: paper 1e-3, quick 1e-2)")
    run.add_argument("--schedule", choices=SCHEDULES,
                     help="learning rate: constant, or linear decay to 0 (default: paper constant, quick linear)")
    run.add_argument("--lambdas", help="a fixed L1,L2 penalty pair instead of the grid search, e.g. 0.1,0")
    run.add_argument("--drop-unseen", action="store_true",
                     help="drop test words whose tag never occurs in training and say which (default for --dataset "
                          "and --max-sentences runs; --train/--test files otherwise stop with the list)")
    run.add_argument("--trust-remote-code", action="store_true", help="run the model repository's own code")
    run.add_argument("--cache-dir", help="activation cache (default: $LCA_CACHE_DIR or ~/.cache/lca)")


class _Bars:
    """One tqdm bar per pipeline stage; a failed run clears its unfinished bar so the error stands alone."""

    def __init__(self):
        self.bars = {}

    def __call__(self, stage: str, fraction: float) -> None:
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            self.close()
            bar = self.bars[stage] = tqdm(total=100, desc=f"{stage:<11}", unit="%", leave=True,
                                          bar_format="{desc} {bar} {percentage:3.0f}% {elapsed}")
        bar.n = round(100 * fraction)
        bar.refresh()
        if fraction >= 1:
            bar.close()

    def close(self, failed: bool = False) -> None:
        for bar in self.bars.values():
            if failed and bar.n < bar.total:
                bar.leave = False
            bar.close()


def _run(args) -> int:
    from ..store.cache import ActivationCache
    from ..runs.pipeline import run_lca
    from ..runs.result import RunConfig, parse_layers, save_result
    from ..runs.store import save_corpora
    from ..report.verdict import verdict

    train, test, drop_unseen = _corpora(args)
    config = RunConfig(task=args.task, model=args.model, revision=args.revision, aggregation=args.aggregation,
                       layers=parse_layers(args.layers), site=args.site, screen=args.screen,
                       device=args.device, mode=args.mode, seed=args.seed,
                       drop_unseen=args.drop_unseen or drop_unseen,
                       trust_remote_code=args.trust_remote_code, seeds=args.seeds, random_draws=args.random_draws,
                       epochs=args.epochs, min_steps=args.min_steps, lr=args.lr, schedule=args.schedule,
                       lambdas=_lambdas(args.lambdas))
    bars = _Bars()
    try:
        result = run_lca(train, test, config, cache=ActivationCache(args.cache_dir), progress=bars)
    except BaseException:
        bars.close(failed=True)
        raise
    path = save_result(result, args.out)
    save_corpora(args.out, train, test)
    r = result
    if r.dropped_unseen:
        dropped = r.dropped_unseen
        print(f"dropped {sum(dropped.values())} test words whose tags never occur in training: "
              + ", ".join(f"{tag} {n}" for tag, n in dropped.items()))
    print(f"oracle {r.oracle_accuracy:.4f} (no reg. {r.noreg_accuracy:.4f}, majority {r.majority_accuracy:.4f}); "
          f"λ1={r.lambdas.l1:g} λ2={r.lambdas.l2:g}")
    print(f"minimal subset: {r.minimal.n_neurons} of {r.n_neurons} neurons ({r.minimal.fraction:.1%}), "
          f"accuracy {r.minimal.accuracy:.4f}; selectivity all {r.selectivity.all:.4f}, "
          f"top {r.selectivity.top:.4f}")
    print(f"zero-out {r.run_config.top_fraction:.0%}: " + ", ".join(
        f"{k} {v:.4f}" for k, v in r.ablation.to_dict().items() if v is not None))
    if r.seeds:
        print(f"over {len(r.seeds.seeds)} seeds: " + ", ".join(
            f"{name} {f.mean:.4f} ± {f.sd:.4f}" for name, f in r.seeds.figures.items()))
    print("\n".join(verdict(r).lines()))
    print(f"wrote {path}; to explore it in the app: streamlit run app.py, then Run → Open a run folder → {args.out}")
    return 0


def _lambdas(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        l1, l2 = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--lambdas must be two numbers L1,L2, e.g. 0.1,0; got {text!r}") from None
    return l1, l2


def _datasets(args) -> int:
    from ..data.datasets import list_datasets

    rows = list_datasets(args.data_dir)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        print(f"{row['name']:<15} {row.get('language', ''):<4} tasks: {', '.join(row['tasks'])}")
        for split, where in row["resolved"].items():
            print(f"    {split:<6} {where}")
    return 0


def _add_compare(sub) -> None:
    cmp = sub.add_parser("compare", help="compare finished runs side by side; writes DIR/compare.json and figures",
                         epilog="examples:\n"
                                "  python -m lca compare base-xpos tuned-xpos --label base --label tuned --out cmp\n"
                                "  python -m lca compare --parallel ud-pud-en,ud-pud-de,ud-pud-fr --out languages")
    cmp.add_argument("runs", nargs="*", metavar="RUN_DIR", help="two or more folders written by `lca run`")
    cmp.add_argument("--label", action="append", help="a name for each run, in order (default: folder name)")
    cmp.add_argument("--out", help="write compare.json and the figures (HTML) here")
    cmp.add_argument("--parallel", help="run LCA first on sentence-parallel datasets, e.g. ud-pud-en,ud-pud-de,ud-pud-fr")
    cmp.add_argument("--task", default="upos", choices=TASKS, help="--parallel: the task (default upos)")
    cmp.add_argument("--model", default=DEFAULT_MODEL, help="--parallel: the model")
    cmp.add_argument("--mode", default="quick", choices=("paper", "quick"), help="--parallel: the search")
    cmp.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="--parallel: where to run")
    cmp.add_argument("--cache-dir", help="--parallel: activation cache")


def _compare(args) -> int:
    from ..report.compare import compare_runs, format_report
    from ..report.compare_viz import write_report

    runs = list(args.runs)
    if args.parallel:
        from ..store.cache import ActivationCache
        from ..scale.parallel import run_parallel
        from ..runs.result import RunConfig

        if not args.out:
            raise InputError("--parallel needs --out (the runs are written to OUT/runs/NAME)")
        config = RunConfig(task=args.task, model=args.model, mode=args.mode, device=args.device, drop_unseen=True)
        runs += [str(p) for p in run_parallel(args.parallel.split(","), config, Path(args.out) / "runs",
                                              ActivationCache(args.cache_dir), _parallel_progress)]
    comparison = compare_runs(runs, args.label)
    print(format_report(comparison))
    if args.out:
        path = write_report(comparison, args.out)
        print(f"wrote {path} and {path.with_name('compare.html')} (the figures)")
    return 0


def _parallel_progress(name: str):
    print(f"{name}:", file=sys.stderr)
    return _Bars()


def _add_finetune(sub) -> None:
    ft = sub.add_parser("finetune", help="fine-tune a model for sentence classification (or make a random-weights "
                                         "control with --random-init) and save a model folder for `lca run --model`",
                        epilog="examples:\n"
                               "  python -m lca finetune --out polarity-model      # then: lca run --model polarity-model\n"
                               "  python -m lca finetune --random-init --out random-model")
    ft.add_argument("--model", default=DEFAULT_MODEL,
                    help="Hugging Face id, local folder, GGUF file or installed name (default: bundled)")
    ft.add_argument("--data", default="sentence-polarity",
                    help="'sentence-polarity' (from $LCA_DATA_DIR or ../shared/data) or a file of label<TAB>sentence lines")
    ft.add_argument("--out", required=True, help="output folder (the model)")
    ft.add_argument("--steps", type=int, default=150, help="optimizer steps")
    ft.add_argument("--batch-size", type=int, default=16, help="sentences per step")
    ft.add_argument("--lr", type=float, default=5e-5, help="AdamW's learning rate")
    ft.add_argument("--max-length", type=int, default=64, help="subword tokens per sentence")
    ft.add_argument("--seed", type=int, default=0, help="seed of the data split, the head and the batches")
    ft.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="auto: a GPU when there is one")
    ft.add_argument("--random-init", action="store_true",
                    help="no training: save the same architecture with random weights (seeded), a control")


def _finetune(args) -> int:
    from tqdm import tqdm

    from ..models.finetune import FinetuneConfig, finetune, random_model

    if args.random_init:
        print(f"wrote {random_model(args.model, args.out, args.seed)} (random weights, seed {args.seed})")
        return 0
    config = FinetuneConfig(model=args.model, data=args.data, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                            max_length=args.max_length, seed=args.seed, device=args.device)
    with tqdm(total=config.steps, desc="fine-tune", unit="step") as bar:
        def progress(step, total, loss):
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            bar.update(1)
        r = finetune(config, args.out, progress)
    print(f"{r.data}: {r.n_train} training / {r.n_dev} held-out sentences, labels {', '.join(r.classes)}")
    print(f"dev accuracy {r.dev_accuracy:.4f} (majority {r.dev_majority:.4f}); {config.steps} steps in {r.seconds:.0f} s")
    print(f"wrote {r.path}")
    return 0


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    import warnings

    parser = _Parser(prog="python -m lca", description="Linguistic Correlation Analysis: find the neurons of a "
                     "transformer that encode a linguistic property.", epilog="`python -m lca COMMAND --help` shows "
                     "each command's options and examples.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    datasets = sub.add_parser("datasets", help="list registered datasets and where each resolves",
                              epilog="example:\n  LCA_DATA_DIR=../shared/data python -m lca datasets")
    datasets.add_argument("--data-dir", help="a folder of datasets (default: $LCA_DATA_DIR, then the download cache)")
    datasets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_compare(sub)
    _add_finetune(sub)
    from ..causal.run import add_parser as _add_intervene, command as _intervene
    _add_intervene(sub)
    from ..scale.sweep import add_parser as _add_sweep, main_sweep as _sweep
    _add_sweep(sub)
    from .cache import add_parser as _add_cache, command as _cache
    _add_cache(sub)
    from .models import add_parser as _add_models, command as _models
    _add_models(sub)
    from .neurons import add_parser as _add_neurons, command as _neurons
    _add_neurons(sub)
    args = parser.parse_args(argv)
    warnings.showwarning = _one_line_warnings
    try:
        return {"run": _run, "datasets": _datasets, "compare": _compare, "finetune": _finetune, "intervene": _intervene,
                "sweep": _sweep, "cache": _cache, "models": _models, "neurons": _neurons}[args.command](args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
