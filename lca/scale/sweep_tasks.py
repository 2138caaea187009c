"""What a sweep's Ray tasks run on the workers.

The functions are plain module functions, wrapped by ``ray.remote`` in :mod:`lca.scale.sweep`: a
worker imports them from the installed package (the same ``lca`` on every node), and they get
their corpora and the extraction keys they wait on as Ray object references.
"""
from __future__ import annotations

from ..runs.result import RunConfig

__all__ = ["Board", "extract_task", "shard_task", "run_task"]


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


def extract_task(config: dict, corpus, cache_dir: str, workers: int, shard_options: dict) -> str:
    from ..store.cache import ActivationCache
    from .distributed import extract_distributed, extract_shard

    run_config = RunConfig.from_dict(config)
    loaded = _load_model(run_config)
    if workers > 1:
        import ray

        shard = ray.remote(shard_task).options(**shard_options)
        sentences = ray.put(corpus.sentences)  # sent to the object store once, not once per shard
        map_shards = lambda jobs: ray.get([shard.remote(config, sentences, *job[1:]) for job in jobs])  # noqa: E731
    else:
        map_shards = lambda jobs: [extract_shard(loaded, *job) for job in jobs]  # noqa: E731
    _, key, _ = extract_distributed(loaded, corpus, run_config.aggregation, ActivationCache(cache_dir), workers,
                                    map_shards, getattr(run_config, "site", "hidden"))
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
