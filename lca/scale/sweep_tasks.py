"""What a sweep's Ray tasks run on the workers.

The functions are plain module functions, wrapped by ``ray.remote`` in :mod:`lca.scale.sweep`: a
worker imports them from the installed package (the same ``lca`` on every node), and they get
their corpora and the extraction keys they wait on as Ray object references.
"""
from __future__ import annotations

from ..runs.result import RunConfig

__all__ = ["Board", "extract_task", "shard_task", "model_task", "run_task"]


class Board:
    """A Ray actor the tasks tell their stage to, for the progress table."""

    def __init__(self):
        self.stages = {}

    def update(self, run: str, stage: str) -> None:
        self.stages[run] = stage

    def snapshot(self) -> dict:
        return dict(self.stages)


_LOADED: dict = {}  # the last model this worker loaded: Ray reuses workers, so the next run skips loading it


def _load_model(config: RunConfig):
    from ..models.loading import load_model, model_settings

    key = model_settings(config)
    if key not in _LOADED:
        _LOADED.clear()  # one model per worker, as the memory request counts
        _LOADED[key] = load_model(config)
    return _LOADED[key]


def shard_task(config: dict, *job):
    from .distributed import extract_shard

    return extract_shard(_load_model(RunConfig.from_dict(config)), *job)


def model_task(config: dict):
    """``(ModelKey, SiteLayout)`` of the run's model, loaded by a worker like a shard's (which then keeps it)."""
    from ..models.sites import site_layout
    from ..runs.inputs import ModelKey

    run_config = RunConfig.from_dict(config)
    loaded = _load_model(run_config)
    return ModelKey.of(loaded), site_layout(loaded, run_config.site)


def extract_task(config: dict, corpus, cache_dir: str, workers: int, shard_options: dict) -> str:
    """Extract ``corpus``'s activations into the cache as the run of ``config`` reads them (its layers' columns,
    or all); returns the key.  With one worker this task loads the model and extracts.  With more it only
    coordinates: it loads no model (the sweep starts it reserving no CPU, GPU or memory, so a one-GPU cluster
    runs the shards one after another instead of waiting on the GPU it would hold), asks a worker for the model's
    key and layout, and hands the shards to workers with ``shard_options``."""
    from ..models.sites import site_layout
    from ..runs.inputs import ModelKey, held_columns
    from ..store.cache import ActivationCache
    from .distributed import extract_distributed, extract_shard

    run_config = RunConfig.from_dict(config)
    if run_config.screen is not None:
        raise ValueError("a screened run extracts its own columns, known once its screen has run")
    if workers > 1:
        import ray

        model, layout = ray.get(ray.remote(model_task).options(**shard_options).remote(config))
        shard = ray.remote(shard_task).options(**shard_options)
        sentences = ray.put(corpus.sentences)  # sent to the object store once, not once per shard
        map_shards = lambda jobs: ray.get([shard.remote(config, sentences, *job[1:]) for job in jobs])  # noqa: E731
    else:
        loaded = _load_model(run_config)
        model, layout = ModelKey.of(loaded), site_layout(loaded, run_config.site)
        map_shards = lambda jobs: [extract_shard(loaded, *job) for job in jobs]  # noqa: E731
    _, key, _ = extract_distributed(model, layout, corpus, run_config.aggregation, ActivationCache(cache_dir), workers,
                                    map_shards, held_columns(run_config, layout))
    return key


def run_task(config: dict, train, test, cache_dir: str, run: str, board, *extracted):
    from ..store.cache import ActivationCache
    from ..runs.pipeline import run_lca

    board.update.remote(run, "load")
    last = [None]

    def progress(stage: str, fraction: float) -> None:
        if stage != last[0]:  # one message per stage: the actor is not flooded
            last[0] = stage
            board.update.remote(run, stage)

    run_config = RunConfig.from_dict(config)
    result = run_lca(train, test, run_config, loaded=_load_model(run_config), cache=ActivationCache(cache_dir),
                     progress=progress)
    board.update.remote(run, "finished")
    return result
