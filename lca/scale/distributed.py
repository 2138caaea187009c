"""One corpus's activations extracted by several workers into one cache entry.

The coordinator plans the extraction exactly as :func:`lca.models.extract.extract_activations` does
(the same units, sorted by length, cut into the same padded batches) and gives each worker a
contiguous run of those batches.  Each worker runs its batches with the single-worker code and
writes their word rows straight into one preallocated float16 ``.npy`` file (float32 when a value exceeds
float16's range: the cache then asks for the whole file again, see :meth:`lca.store.cache.ActivationCache.put`) (``pwrite`` of each
run of consecutive rows): the rows of the workers are disjoint (every word belongs to exactly one
batch), so no write needs a lock.

Why whole batches, not contiguous sentence ranges: on a CPU the padded batch shape changes the
order of the floating-point sums, so cutting the corpus in two halves and batching each half
anew changed 16,770 of the demo's 15.5 M activations (by up to 0.002) against one worker.
With the batches unchanged the result is bit for bit the single worker's, which a cache key must
promise (the same key is served to ``lca run``).  Why one memory map, not a chunked store: the
cache serves exactly this file (a ``.npy`` read by memory map), so registering it is a rename,
with no second copy of a corpus that may not fit twice on disk.

Verification: each worker returns the rows it wrote and the BLAKE2 digest of those rows as it
wrote them; after all return, the coordinator reopens the file (on a shared filesystem, a fresh
open sees what the other nodes wrote), checks that the rows cover every word exactly once and
that each worker's rows read back with its digest, and only then publishes the file through
:meth:`lca.store.cache.ActivationCache.get_or_compute` (under the key's lock: the whole-file digest, the
rename under its final name, then the index entry).
"""
from __future__ import annotations

import hashlib
import os
from typing import Callable, Sequence

import numpy as np

from .._validation import InputError
from ..store.cache import ActivationCache, as_stored
from ..data.corpus import Corpus
from ..models.extract import LoadedModel, plan_extraction, run_batch
from ..models.sites import SiteLayout
from ..runs.inputs import ModelKey, corpus_key

__all__ = ["shard_bounds", "extract_shard", "verify_shards", "extract_distributed"]

# Runs shard jobs ``(sentences, aggregation, path, shard, n_shards, site, columns)`` and returns what each
# extract_shard(loaded, *job) returned: Ray tasks in a sweep, a plain loop in a test.
MapShards = Callable[[list], list]


def shard_bounds(costs: Sequence[float], n_shards: int) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of consecutive batches, one per shard, of about equal summed cost.

    >>> shard_bounds([1, 1, 1, 1], 2), shard_bounds([5], 2)
    ([(0, 2), (2, 4)], [(0, 1), (1, 1)])
    """
    cum = np.cumsum(costs, dtype=float)
    total = cum[-1] if len(cum) else 0.0
    cuts = [0] + [min(int(np.searchsorted(cum, total * k / n_shards, side="left")) + 1, len(costs))
                  for k in range(1, n_shards)] + [len(costs)]
    return [(cuts[k], cuts[k + 1]) for k in range(n_shards)]


def _cost(batch) -> int:
    return max(len(u.input_ids) for u in batch) * len(batch)  # padded tokens: the forward pass's work


def _rows_digest(array: np.ndarray, rows: np.ndarray) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for start in range(0, len(rows), 4096):  # bounded memory on a big shard
        digest.update(np.ascontiguousarray(array[rows[start:start + 4096]]).tobytes())
    return digest.hexdigest()


def _write_rows(handle, offset: int, rows: np.ndarray, block: np.ndarray) -> None:
    """Write ``block`` (one row per entry of ``rows``) at those rows, one ``pwrite`` per run of consecutive rows.

    Not through a memory map: a mapped page is written back whole, so on a filesystem shared by
    several machines a page holding rows of two workers could come back with one's rows stale;
    ``pwrite`` sends only the bytes given.
    """
    order = np.argsort(rows, kind="stable")
    rows, block = rows[order], block[order]
    row_bytes = block.shape[1] * block.itemsize
    for run_rows, run_block in zip(*(np.split(a, np.nonzero(np.diff(rows) != 1)[0] + 1) for a in (rows, block))):
        os.pwrite(handle.fileno(), np.ascontiguousarray(run_block).tobytes(), offset + int(run_rows[0]) * row_bytes)


def extract_shard(loaded: LoadedModel, sentences: Sequence[Sequence[str]], aggregation: str, path: str,
                  shard: int, n_shards: int, site: str = "hidden", columns: np.ndarray | None = None) -> dict:
    """Run shard ``shard`` of ``n_shards`` into the ``.npy`` file at ``path`` (of the site's ``columns``, or all):
    ``{shard, rows, digest, compute}``, ``compute`` the precision the model ran in."""
    batches, layer_units = plan_extraction(loaded, sentences, site, columns)
    batches = list(batches)
    start, end = shard_bounds([_cost(b) for b in batches], n_shards)[shard]
    header = np.load(path, mmap_mode="r")
    offset, dtype = header.offset, header.dtype  # where the rows start, after the .npy header; float16 or float32
    written = []
    with open(path, "r+b") as handle:
        for batch in batches[start:end]:
            rows, values = run_batch(loaded, batch, aggregation, site, layer_units)
            rows = np.asarray(rows, dtype=np.int64)
            # as extract_activations stores them: Float16Overflow makes the cache ask again for a float32 file
            _write_rows(handle, offset, rows, as_stored(values.numpy(), dtype))
            written.append(rows)
        os.fsync(handle.fileno())
    rows = np.sort(np.concatenate(written)) if written else np.empty(0, dtype=np.int64)
    return {"shard": shard, "rows": rows, "digest": _rows_digest(np.load(path, mmap_mode="r"), rows),
            "compute": str(loaded.dtype).removeprefix("torch.")}


def verify_shards(path: str, shards: list[dict], n_words: int) -> None:
    """Refuse (InputError) unless the shards' rows cover every word once and read back with their digests."""
    rows = np.sort(np.concatenate([s["rows"] for s in shards])) if shards else np.empty(0, dtype=np.int64)
    if len(rows) != n_words or not np.array_equal(rows, np.arange(n_words)):
        raise InputError(f"distributed extraction into {path}: the shards wrote {len(np.unique(rows))} distinct rows "
                         f"of {n_words} ({len(rows) - len(np.unique(rows))} twice); nothing was registered")
    array = np.load(path, mmap_mode="r")  # a fresh open: what every worker left in the file
    bad = [s["shard"] for s in shards if _rows_digest(array, s["rows"]) != s["digest"]]
    if bad:
        raise InputError(f"distributed extraction into {path}: shards {bad} do not read back as written (a lost "
                         "write on the shared filesystem?); nothing was registered")


def extract_distributed(model: ModelKey, layout: SiteLayout, corpus: Corpus, aggregation: str, cache: ActivationCache,
                        n_workers: int, map_shards: MapShards,
                        columns: np.ndarray | None = None) -> tuple[np.ndarray, str, bool]:
    """``(activations, key, was_cached)`` as :func:`lca.runs.pipeline.corpus_activations`, extracted in
    ``n_workers`` shards by ``map_shards(jobs)``.

    ``model`` and ``layout`` (the site's) describe the model the shards load; the caller need not load it
    (a sweep's coordinator does not).  ``map_shards`` runs each job ``(sentences, aggregation, path, shard,
    n_shards, site, columns)`` as ``extract_shard(its own loaded model, *job)``, possibly on other machines
    that see ``path``; a shard whose model ran in another precision than ``model.compute`` is refused.
    """
    key, meta = corpus_key(model, corpus, aggregation, layout.site, columns)

    def fill(out: np.ndarray) -> None:
        out.flush()  # the header and the file's full size are on disk before any worker opens it
        jobs = [(corpus.sentences, aggregation, str(out.filename), k, n_workers, layout.site, columns)
                for k in range(n_workers)]
        shards = map_shards(jobs)
        other = sorted({s["compute"] for s in shards} - {model.compute})
        if other:
            raise InputError(f"distributed extraction of {corpus.name}: shards ran {model.name} in {other}, the entry "
                             f"is keyed {model.compute} (workers of mixed GPUs?); nothing was registered")
        verify_shards(str(out.filename), shards, corpus.n_words)

    meta = {**meta, "workers": n_workers}
    width = layout.n_neurons if columns is None else len(columns)
    # Under the cache's per-key lock: a sweep and an `lca run` (or two sweeps) extract a key once.
    array, hit = cache.get_or_compute(key, (corpus.n_words, width), fill, meta)
    return array, key, hit
