"""Sweeps on Ray: ``python -m lca sweep SPEC.toml [--address ADDRESS] [--out DIR]``.

Every run of the spec (:mod:`lca.scale.sweep_spec`) is a Ray task asking for CPUs, a GPU when it runs
on one, and the memory of :func:`lca.runs.memory.process_bytes`, so Ray does not pack two big runs on one node.
Without an address a local Ray sized to the machine is started (and stopped after).

* Idempotent: a run's folder is ``OUT/runs/<run id>`` (:func:`lca.runs.store.run_id`: the config and both
  corpora).  A run whose folder holds a result of the same config with the activation keys the
  model and corpus have now is skipped, so a killed sweep resumes where it stopped.  The keys are
  the run's own (:mod:`lca.runs.inputs`), so runs with ``layers``, ``screen`` or a bfloat16 model are
  skipped too.
* Shared activations: every matrix the runs read (model, corpus, aggregation, device, site, the
  layers' columns) is extracted once, by one task (split over ``extract_workers`` workers, whose
  coordinator reserves nothing: :mod:`lca.scale.distributed`), into the cache at the spec's
  ``cache_dir``; the runs that need it take its object reference as an argument, so Ray starts them
  only once it is there.  A screened run extracts its own columns, known once its screen has run.
* A failed run is reported with its error; the others go on.  Results: ``OUT/sweep.csv`` and
  ``OUT/sweep.json``, rewritten as each run ends; the app's Compare page opens ``OUT``.

Ray is imported only in the sweep modules, on use: ``import lca`` stays light.
"""
from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._validation import InputError
from ..runs.result import RunConfig
from .sweep_spec import SweepSpec, expand, load_spec
from .sweep_table import counts, error_text, progress_printer, sweep_row, write_table
from .sweep_tasks import Board, extract_task, run_task

__all__ = ["run_sweep", "SweepOutcome", "spec_corpora", "finished_result", "write_table", "add_parser", "main_sweep"]

_EXTRACT_FIELDS = ("model", "revision", "trust_remote_code", "device", "aggregation", "site")


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep did: one row per run (``label, run_id, status, error, dir, seconds, axes ..., figures ...``),
    status one of ``done, skipped, failed``; ``seconds`` is the wall time of the whole sweep."""

    rows: tuple[dict, ...]
    out: Path
    seconds: float
    extractions: int  # extraction tasks started (each (model, corpus) at most once)
    counts: dict = field(default_factory=dict)


# ---- what a run needs --------------------------------------------------------------------------------
def spec_corpora(spec: SweepSpec, name: str):
    """The :class:`lca.data.sources.Corpora` of a data name of the spec, sampled as ``[data]`` says (the same for
    every run), with ``lca run``'s unseen-tag policy (:mod:`lca.data.sources`)."""
    from ..data.datasets import DATASETS
    from ..data.sources import load_corpora

    common = dict(max_sentences=spec.max_sentences, seed=spec.data_seed)
    if name in spec.files:
        entry = spec.files[name]
        return load_corpora(train=entry["train"], test=entry["test"], fmt=entry.get("format", "conllu"),
                            options=dict(entry.get("options", {})), name=name, **common)
    if name in DATASETS:
        return load_corpora(name, data_dir=spec.data_dir, **common)
    raise InputError(f"{spec.source}: data {name!r} is neither a registered dataset ({', '.join(DATASETS)}) "
                     f"nor a [data.files.{name}] entry")


def _model_facts(config: RunConfig, memo: dict) -> dict:
    """``{name, identity, shape, config}`` from the model's config and files, without loading its weights."""
    key = (config.model, config.revision)
    if key not in memo:
        from transformers import AutoConfig

        from ..store.cache import model_identity
        from ..models.loading import DEFAULT_MODEL, model_path

        name = config.model or DEFAULT_MODEL
        path = model_path(name, config.revision)
        try:
            mc = AutoConfig.from_pretrained(path, revision=config.revision, trust_remote_code=config.trust_remote_code)
        except (OSError, ValueError) as err:
            raise InputError(f"could not read the config of model {name!r}: {str(err).splitlines()[0][:300]}") from None
        try:
            from ..runs.memory import shape_of_config

            shape = shape_of_config(mc)
        except Exception:  # noqa: BLE001 - an unusual config: the run asks for the default memory
            shape = None
        memo[key] = {"name": name, "identity": model_identity(name, path, config.revision,
                                                              getattr(mc, "_commit_hash", None)),
                     "shape": shape, "config": mc}
    return memo[key]


_UNKNOWN = "unknown"  # columns the driver cannot know before the run: a screen's, or layers it cannot place


def _planned_columns(config: RunConfig, facts: dict):
    """What the run's matrices will hold (:func:`lca.runs.inputs.held_columns`: None for every neuron), or
    :data:`_UNKNOWN`; then the run extracts what it reads itself."""
    from ..runs.inputs import held_columns

    if config.screen is not None or (config.layers is not None and facts["shape"] is None):
        return _UNKNOWN
    try:
        return held_columns(config, facts["shape"].layout(config.site) if facts["shape"] else None)
    except InputError:  # layers the model lacks: the run fails with that message
        return _UNKNOWN


def _key_candidates(config: RunConfig, corpus, facts: dict, columns) -> set[str]:
    """The activation keys a run of ``config`` on ``corpus`` holding ``columns`` may read now: one per precision
    the model may run in where the run lands (:func:`lca.models.loading.compute_dtypes`)."""
    from ..models.loading import compute_dtypes
    from ..runs.inputs import ModelKey, corpus_key

    return {corpus_key(ModelKey(facts["name"], facts["identity"], compute), corpus, config.aggregation, config.site,
                       columns)[0] for compute in compute_dtypes(facts["config"], config.device)}


def finished_result(run_dir: Path, config: RunConfig, train, test, facts: dict):
    """The run's saved result when it is finished with this config and the activations the model and corpora
    have now (keyed with the columns the result says its matrices hold: its layers' or its screen's), else None."""
    import numpy as np

    from ..runs.result import load_result

    if not (run_dir / "result.json").is_file():
        return None
    try:
        result = load_result(run_dir)
        same = RunConfig.from_dict(result.config) == config  # strict: a setting unknown here means rerun
    except (InputError, TypeError, ValueError):
        return None
    keys = result.activation_keys
    held = None if keys.columns is None else np.asarray(keys.columns, dtype=np.int64)
    read = all(key in _key_candidates(config, corpus, facts, held) for key, corpus in ((keys.train, train),
                                                                                        (keys.test, test)))
    return result if same and read else None


def _save(result, run_dir: Path) -> None:
    """Write the run folder under a temporary name and rename it: a killed sweep leaves no half-run."""
    from ..store.atomic import atomic_dir
    from ..runs.result import save_result

    atomic_dir(run_dir, lambda tmp: save_result(result, tmp))


# ---- the driver ------------------------------------------------------------------------------------------
def _init_ray(address: str | None, num_cpus: int | None):
    import ray

    if ray.is_initialized():
        return False
    common = dict(include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    if address:
        ray.init(address=address, **common)
    else:  # a local Ray sized to the machine (or to --num-cpus)
        ray.init(num_cpus=num_cpus, **common)
    return True


def run_sweep(spec: SweepSpec, out=None, address: str | None = None, num_cpus: int | None = None,
              show=None) -> SweepOutcome:
    """Run every run of ``spec`` on Ray (the running one, else ``address``, else a local one) into ``out``.

    ``show(status, labels, seconds)`` is called about every second with each run's status
    (default: the live table on stderr).  Runs already finished in ``out`` are skipped.
    """
    import ray

    from ..store.cache import default_cache_dir
    from ..runs.store import run_id

    start = time.perf_counter()
    out = Path(out or spec.out or "sweep")
    cache_dir = str(Path(spec.cache_dir or default_cache_dir()).expanduser().resolve())
    corpora = {name: spec_corpora(spec, name) for name in dict.fromkeys(r.data for r in expand(spec))}
    # Drawn data drops test words whose tag training lacks, as `lca run` does (lca.data.sources).
    runs = [dataclasses.replace(r, config=dataclasses.replace(r.config, drop_unseen=True))
            if corpora[r.data].drop_unseen and not r.config.drop_unseen else r for r in expand(spec)]
    memo, plan, rows, seen = {}, [], {}, {}
    for run in runs:
        train, test, _ = corpora[run.data]
        facts = _model_facts(run.config, memo)
        rid = run_id(run.config, train, test)
        if rid in seen:
            raise InputError(f"{spec.source}: runs {seen[rid]!r} and {run.label!r} are the same run (same settings "
                             "and data); drop one with [[exclude]]")
        seen[rid] = run.label
        done = finished_result(out / "runs" / rid, run.config, train, test, facts)
        rows[rid] = sweep_row(run, rid, "skipped", done) if done is not None else None
        plan.append((run, rid, train, test, facts))
    (out / "runs").mkdir(parents=True, exist_ok=True)  # only once the spec, data and models are known good
    for partial in (out / "runs").glob(".*.partial"):  # a run folder a killed sweep was writing
        shutil.rmtree(partial, ignore_errors=True)
    todo = [p for p in plan if rows[p[1]] is None]
    status = {rid: ("skipped" if rows[rid] else "queued") for _, rid, *_ in plan}
    labels = {rid: run.label for run, rid, *_ in plan}
    show = show or progress_printer()
    extractions = 0
    own = _init_ray(address, num_cpus) if todo else False
    try:
        if todo:
            extractions = _submit_and_wait(spec, todo, cache_dir, rows, status, labels, out, show, start)
    finally:
        if own:
            ray.shutdown()
    ordered = [rows[rid] for _, rid, *_ in plan]
    write_table(ordered, out, spec, time.perf_counter() - start)
    show(status, labels, time.perf_counter() - start)
    return SweepOutcome(tuple(ordered), out, time.perf_counter() - start, extractions, counts(status))


def _options(spec: SweepSpec, config: RunConfig, corpus_words: int, facts: dict, node_memory: float,
             has_gpu: bool, n_tags: int = 1) -> dict:
    """Ray resources of one task: CPUs, a GPU when it runs on one, memory from :func:`lca.runs.memory.process_bytes`."""
    from ..runs.memory import process_bytes

    gpus = spec.gpus if spec.gpus is not None else int(config.device == "cuda" or (config.device == "auto" and has_gpu))
    memory = spec.memory_gb * 2**30 if spec.memory_gb else process_bytes(config, facts["shape"], corpus_words, n_tags,
                                                                         bool(gpus))
    if node_memory:  # a run the model overestimates still finds a node (the activations are memory-mapped)
        memory = min(memory, 0.9 * node_memory)
    return {"num_cpus": spec.cpus, "num_gpus": gpus, "memory": int(memory)}


def _submit_and_wait(spec, todo, cache_dir, rows, status, labels, out, show, start) -> int:
    import ray

    from ..data.corpus import task_examples

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    node_memory = max((n["Resources"].get("memory", 0) for n in nodes), default=0)
    has_gpu = ray.cluster_resources().get("GPU", 0) > 0
    board = ray.remote(num_cpus=0)(Board).remote()
    from ..store.cache import ActivationCache

    present = {e["key"] for e in ActivationCache(cache_dir).entries() if e.get("present")}
    corpus_refs, extract_refs, pending = {}, {}, {}
    for run, rid, train, test, facts in todo:
        config, columns = run.config.to_dict(), _planned_columns(run.config, facts)
        deps = []
        for corpus in (train, test):
            digest = corpus.content_hash()
            if digest not in corpus_refs:
                corpus_refs[digest] = ray.put(corpus)
            if columns is _UNKNOWN:
                continue  # the run extracts what it reads
            keys = _key_candidates(run.config, corpus, facts, columns)
            if keys & present:
                continue  # in the cache already (its digest is checked when the run reads it)
            unit = (tuple(getattr(run.config, f) for f in _EXTRACT_FIELDS), frozenset(keys))
            if unit not in extract_refs:  # each (model, corpus, columns) once across the sweep
                opts = _options(spec, run.config, corpus.n_words, facts, node_memory, has_gpu)
                # A coordinator of several workers waits on their shards: it reserves nothing, or on a
                # one-GPU cluster it would hold the GPU its shards wait for.
                own = opts if spec.extract_workers == 1 else {"num_cpus": 0, "num_gpus": 0, "memory": 0}
                extract_refs[unit] = ray.remote(extract_task).options(**own, name="lca-extract").remote(
                    config, corpus_refs[digest], cache_dir, spec.extract_workers, opts)
            deps.append(extract_refs[unit])
        n_tags = len(set(task_examples(train, run.config.task).labels))
        opts = _options(spec, run.config, train.n_words + test.n_words, facts, node_memory, has_gpu, n_tags)
        ref = ray.remote(run_task).options(**opts, name=f"lca-run {run.label}").remote(
            config, corpus_refs[train.content_hash()], corpus_refs[test.content_hash()], cache_dir, rid, board, *deps)
        pending[ref] = run, rid
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=1.0)
        for ref in ready:
            run, rid = pending.pop(ref)
            try:
                result = ray.get(ref)
                _save(result, out / "runs" / rid)
                rows[rid], status[rid] = sweep_row(run, rid, "done", result), "done"
            except Exception as err:  # noqa: BLE001 - any failure of one run is reported, the others go on
                rows[rid], status[rid] = sweep_row(run, rid, "failed", error=error_text(err)), "failed"
        try:
            stages = ray.get(board.snapshot.remote(), timeout=0.5)
        except ray.exceptions.RayError:  # the table only: a slow or lost board never stops the sweep
            stages = {}
        for _, rid in pending.values():
            status[rid] = f"running: {stages[rid]}" if rid in stages else "queued"
        if ready:
            write_table([r for r in rows.values() if r], out, spec, time.perf_counter() - start)
        show(status, labels, time.perf_counter() - start)
    ray.kill(board)
    return len(extract_refs)


# ---- command line ----------------------------------------------------------------------------------------
def add_parser(sub) -> None:
    sweep = sub.add_parser("sweep", help="run the product of models, data, tasks, seeds and settings of a TOML spec "
                                         "as Ray tasks; writes OUT/sweep.csv, OUT/sweep.json and OUT/runs/",
                           epilog="examples:\n  python -m lca sweep sweep.toml --out sweeps/demo\n"
                                  "  python -m lca sweep sweep.toml --out sweeps/demo --address auto  # a Ray cluster\n"
                                  "A run finished in OUT is skipped: run the same command again to resume.")
    sweep.add_argument("spec", help="the sweep spec (TOML; see docs/sweep.md)")
    sweep.add_argument("--address", help="a running Ray cluster (e.g. ray://head:10001 or auto); default: a local Ray")
    sweep.add_argument("--out", help="output folder (default: the spec's `out`, else ./sweep)")
    sweep.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all of this machine's)")


def main_sweep(args) -> int:
    """``python -m lca sweep``: 0 when every run is done or skipped, 1 when some failed."""
    spec = load_spec(args.spec)
    outcome = run_sweep(spec, args.out, args.address, args.num_cpus)
    for row in outcome.rows:
        figures = "" if row["status"] == "failed" else (
            f"oracle {row.get('oracle')} %, minimal {row.get('minimal_pct')} %, zero-out top/random "
            f"{row.get('zero_top')}/{row.get('zero_random')} %")
        print(f"{row['status']:<8} {row['label']:<40} {figures}{row['error']}")
    c = outcome.counts
    print(f"{c['done']} done, {c['skipped']} skipped (finished before), {c['failed']} failed in "
          f"{outcome.seconds:.0f} s; wrote {outcome.out / 'sweep.csv'} and {outcome.out / 'sweep.json'}")
    return 1 if c["failed"] else 0
