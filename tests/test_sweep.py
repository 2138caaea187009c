"""Sweeps: the spec, and the demo sweep on a local Ray (num_cpus=2): runs, skips, resumes after a kill, failures."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray_helpers

from lca._validation import InputError
from lca.runs.result import RunConfig
from lca.scale.sweep_spec import SweepSpec, config_fields, expand, load_spec

SETTINGS = """
[settings]
mode = "quick"
lambdas = [0.001, 0.0]
min_steps = 100
epochs = 1
random_draws = 2
device = "cpu"
{extra}
[data]
max_sentences = 150
"""


def write_spec(folder: Path, cache: Path, axes: str, extra: str = "") -> Path:
    path = folder / "sweep.toml"
    path.write_text(f'cache_dir = "{cache}"\n[axes]\n{axes}\n' + SETTINGS.format(extra=extra))
    return path


EIGHT = 'task = ["upos", "suffix"]\nseed = [0, 1]\naggregation = ["first", "last"]'


# ---- the spec --------------------------------------------------------------------------------------------
def test_spec_is_the_product_less_exclusions(tmp_path):
    path = write_spec(tmp_path, tmp_path / "c", EIGHT + '\n[[exclude]]\ntask = "suffix"\naggregation = "first"')
    runs = expand(load_spec(path))
    assert len(runs) == 6
    assert not any(r.config.task == "suffix" and r.config.aggregation == "first" for r in runs)
    assert runs[0].label == "demo · upos · seed 0 · first"
    assert {r.config.seed for r in runs} == {0, 1} and all(r.config.min_steps == 100 for r in runs)
    assert all(r.config.lambdas == (0.001, 0.0) for r in runs)


def test_spec_takes_every_runconfig_field():
    # Axes and settings come from dataclasses.fields(RunConfig): a field added later needs no change here.
    names = config_fields()
    assert set(names) == set(RunConfig.__dataclass_fields__)
    spec = SweepSpec(axes={"ranking_steps": (100, 200), "layers": ([0, 1], [2])}, settings={"random_draws": 2})
    configs = [r.config for r in expand(spec)]
    assert [c.ranking_steps for c in configs] == [100, 100, 200, 200]
    assert [c.layers for c in configs] == [(0, 1), (2,), (0, 1), (2,)]


@pytest.mark.parametrize("toml, match", [
    ('[axes]\ntaks = ["xpos"]', r"\[axes\]: unknown keys \['taks'\]"),
    ('[axes]\ntask = "xpos"', r"task: give a non-empty list"),
    ('[axes]\ntask = ["nope"]', r"run .*task"),
    ('[settings]\ntask = "xpos"\n[axes]\ntask = ["upos"]', r"both an axis and a setting"),
    ('[axes]\ntask = ["xpos"]\n[[exclude]]\nseed = 1', r"\[\[exclude\]\] #1: unknown keys \['seed'\]"),
    ('[resources]\ngpu = 1', r"\[resources\]: unknown keys \['gpu'\]"),
    ('[axes]\ntask = ["xpos"]\n[[exclude]]\ntask = "xpos"', r"the exclusions leave no run"),
    ('[axes\n', r"not valid TOML"),
])
def test_spec_errors_name_the_file_and_key(tmp_path, toml, match):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(InputError, match=match) as err:
        load_spec(path)
    assert str(path) in str(err.value)


def test_the_command_refuses_a_bad_spec_in_one_line(tmp_path, capsys):
    from lca.cli.main import main

    path = tmp_path / "bad.toml"
    path.write_text('[axes]\ntask = ["xpos"]\nsede = [0]\n')
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "unknown keys ['sede']" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_spec_round_trips():
    spec = SweepSpec(axes={"task": ("xpos", "upos")}, settings={"lambdas": [0.1, 0]},
                     exclude=({"task": "upos"},), max_sentences=50, cpus=2, extract_workers=2)
    again = SweepSpec.from_dict(spec.to_dict())
    assert [(r.label, r.config) for r in expand(again)] == [(r.label, r.config) for r in expand(spec)]


# ---- on a local Ray --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    pytest.importorskip("ray")
    # One GPU, declared only: a task asking for it runs on the CPU (device = "cpu"), but Ray gives it to one
    # task at a time, as on a one-GPU cluster.  Shut down after, and checked: no Ray process left.
    with ray_helpers.local_ray(num_cpus=2, num_gpus=1) as note:
        yield note


@pytest.fixture(scope="module")
def sweep_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sweep_cache")


def _table(out: Path) -> list[dict]:
    with open(out / "sweep.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_sweep_runs_on_local_ray_and_skips_what_is_finished(local_ray, sweep_cache, tmp_path):
    from lca.report.compare import compare_runs
    from lca.runs.result import load_result
    from lca.scale.sweep import run_sweep

    spec = load_spec(write_spec(tmp_path, sweep_cache, EIGHT, "drop_unseen = true"))
    out = tmp_path / "out"
    first = run_sweep(spec, out, show=lambda *a: local_ray())
    assert first.counts == {"queued": 0, "running": 0, "done": 8, "skipped": 0, "failed": 0}
    assert first.extractions == 4  # 2 aggregations × (train, test): each (model, corpus) once, not once per run
    rows = _table(out)
    assert len(rows) == 8 and {r["status"] for r in rows} == {"done"}
    assert {(r["task"], r["seed"], r["aggregation"]) for r in rows} == {
        (t, s, a) for t in ("upos", "suffix") for s in ("0", "1") for a in ("first", "last")}
    for row in rows:  # the table holds the run's own figures, and the run folder its result
        result = load_result(out / row["dir"])
        assert float(row["oracle"]) == round(100 * result.oracle_accuracy, 2)
        assert result.config["seed"] == int(row["seed"]) and result.task == row["task"]
    data = json.loads((out / "sweep.json").read_text())
    assert data["spec"]["axes"]["task"] == ["upos", "suffix"] and len(data["runs"]) == 8
    assert not list((out / "runs").glob(".*partial"))

    mtimes = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")}
    again = run_sweep(spec, out, show=lambda *a: None)
    assert again.counts["skipped"] == 8 and again.counts["done"] == 0 and again.extractions == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")} == mtimes
    assert [r["oracle"] for r in _table(out)] == [r["oracle"] for r in rows]

    comparison = compare_runs([out])  # the Compare view opens a sweep folder
    assert list(comparison.labels) == [r["label"] for r in rows]


def test_a_failing_run_is_reported_and_the_others_finish(local_ray, sweep_cache, tmp_path):
    from lca.store.cache import ActivationCache
    from lca.runs.result import load_result
    from lca.scale.sweep import run_sweep

    # Layer 99 does not exist: that run fails, the other finishes.  xpos on a sample of the demo has test tags
    # its training part lacks: as `lca run` does on drawn data, the sweep drops those words (drop_unseen is
    # not set) instead of failing.  The activations of layers 5 and 6 are new to the cache, each extracted by
    # 2 workers (lca.scale.distributed) on the cluster's one GPU: their coordinator must not hold it.
    spec = load_spec(write_spec(tmp_path, sweep_cache, 'task = ["xpos"]\nlayers = [[99], [5, 6]]\n'
                                'aggregation = ["average"]', "[resources]\nextract_workers = 2\ngpus = 1"))
    outcome = run_sweep(spec, tmp_path / "out", show=lambda *a: local_ray())
    by_layers = {r["layers"]: r for r in outcome.rows}
    assert by_layers["99"]["status"] == "failed" and "layers [99] do not exist" in by_layers["99"]["error"]
    assert by_layers["5,6"]["status"] == "done" and float(by_layers["5,6"]["oracle"]) > 50
    result = load_result(tmp_path / "out" / by_layers["5,6"]["dir"])
    assert result.dropped_unseen and result.run_config.drop_unseen
    assert outcome.extractions == 2
    cache = ActivationCache(sweep_cache)  # the run read the matrices of its layers the sweep extracted
    keys = result.activation_keys
    assert all(cache._index.get(key)["workers"] == 2 for key in (keys.train, keys.test))
    assert not (tmp_path / "out" / by_layers["99"]["dir"]).exists()
    assert {r["layers"]: r["status"] for r in _table(tmp_path / "out")} == {"99": "failed", "5,6": "done"}

    again = run_sweep(spec, tmp_path / "out", show=lambda *a: local_ray())  # resumed: the layers run is finished
    assert {r["layers"]: r["status"] for r in again.rows} == {"99": "failed", "5,6": "skipped"}
    assert again.extractions == 0


def test_a_finished_run_is_found_by_the_keys_it_read(tmp_path):
    # A screened run on a model saved in bfloat16, on a GPU: the keys of its screen's columns, in bfloat16.
    import dataclasses
    from types import SimpleNamespace

    from test_compare import fake_result

    from lca.data.datasets import train_test
    from lca.runs.inputs import ModelKey, corpus_key
    from lca.runs.result import save_result
    from lca.runs.sections import ActivationKeys
    from lca.scale.sweep import finished_result

    train, test = train_test("demo")
    config = RunConfig(model="m", device="cuda", screen=2)
    facts = {"name": "m", "identity": "hub:m@main", "shape": None, "config": SimpleNamespace(dtype="bfloat16")}

    def saved(compute: str, columns: list) -> Path:
        model = ModelKey("m", "hub:m@main", compute)
        keys = {part: corpus_key(model, corpus, config.aggregation, config.site, columns)[0]
                for part, corpus in (("train", train), ("test", test))}
        result = dataclasses.replace(fake_result([0], {"NN": [0]}), config=config.to_dict(),
                                     activation_keys=ActivationKeys(**keys, columns=tuple(columns)))
        save_result(result, tmp_path / compute)
        return tmp_path / compute

    assert finished_result(saved("bfloat16", [1, 5]), config, train, test, facts) is not None
    assert finished_result(saved("float32", [1, 5]), config, train, test, facts) is None  # not what cuda runs in
    assert finished_result(saved("bfloat16", [1, 5]), config, test, train, facts) is None  # other corpora


def test_a_killed_sweep_resumes_with_only_the_rest(local_ray, sweep_cache, tmp_path):
    from lca.scale.sweep import run_sweep

    path = write_spec(tmp_path, sweep_cache, EIGHT, "drop_unseen = true")
    out = tmp_path / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen([sys.executable, "-m", "lca", "sweep", str(path), "--out", str(out), "--num-cpus", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 240
        while not list((out / "runs").glob("[!.]*/result.json")) and driver.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert driver.poll() is None, f"the sweep ended before it could be killed: {driver.stderr.read()[-2000:]}"
    finally:
        members = ray_helpers.session(driver.pid)  # the driver and the Ray it started
        driver.kill()  # SIGKILL: no clean-up of its own
        driver.wait()
        # Ray's gcs, raylet and workers die with their driver; its two agents do not: end them here.
        for pid in ray_helpers.alive(ray_helpers.session(driver.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended between the look and the kill
                pass
    assert len(members) > 3, "the killed sweep's Ray processes were not found: the check below would be empty"
    left = ray_helpers.wait_gone(members | ray_helpers.session(driver.pid))
    assert not left, f"processes of the killed sweep are left: {sorted(left)}"
    finished = {p.parent.name for p in (out / "runs").glob("[!.]*/result.json")}
    assert 1 <= len(finished) < 8
    outcome = run_sweep(load_spec(path), out, show=lambda *a: local_ray())
    skipped = {r["run_id"] for r in outcome.rows if r["status"] == "skipped"}
    done = {r["run_id"] for r in outcome.rows if r["status"] == "done"}
    assert skipped == finished and len(done) == 8 - len(finished) and not skipped & done
    assert outcome.counts["failed"] == 0


def test_compare_page_opens_a_sweep_folder(app_cache, tmp_path):
    pytest.importorskip("streamlit")
    from test_app_compare import open_page
    from test_compare import fake_result

    from lca.runs.result import save_result
    from lca.scale.sweep import write_table

    out, rows = tmp_path / "sweep", []
    for i, (task, neurons) in enumerate((("upos", [0, 1, 4, 8]), ("xpos", [8, 9, 10, 4]))):
        save_result(fake_result(neurons, {"NN": neurons[:2]}, model="bert", task=task), out / "runs" / f"r{i}")
        rows.append({"label": f"demo · {task}", "status": "done", "error": "", "run_id": f"r{i}", "dir": f"runs/r{i}",
                     "data": "demo", "task": task})
    rows.append({"label": "demo · sem", "status": "failed", "error": "no sem column", "run_id": "r2", "dir": "runs/r2",
                 "data": "demo", "task": "sem"})
    write_table(rows, out, SweepSpec(), 1.0)

    at = open_page()
    at.text_input(key="cmp_sweep").set_value(str(out)).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert list(at.dataframe[0].value["status"]) == ["done", "done", "failed"]  # the sweep's table
    assert at.warning and "1 of 3 runs failed" in at.warning[0].value
    assert list(at.dataframe[1].value["run"]) == ["demo · upos", "demo · xpos"]  # its finished runs compared

    at.text_input(key="cmp_sweep").set_value(str(tmp_path / "nowhere")).run()
    assert at.error and "not a sweep folder" in at.error[0].value
