"""One property in several languages: LCA runs on sentence-parallel corpora (Section 5.5, Figure 10).

The UD PUD treebanks (en/de/fr...) hold the same sentences, in the same order, translated:
:func:`parallel_corpora` cuts each into train and test alike, so that the same sentences, by index,
train and test every language, and :func:`run_parallel` runs LCA on each with one loaded model.
The runs are then compared like any others (:func:`lca.report.compare.compare_runs`).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from .._validation import InputError

__all__ = ["parallel_corpora", "run_parallel"]


def _sent_ids(path: Path) -> list[str]:
    pattern = re.compile(r"^#\s*sent_id\s*=\s*(\S+)")
    return [m.group(1) for line in path.read_text(encoding="utf-8").splitlines() if (m := pattern.match(line))]


def parallel_corpora(names: Sequence[str], seed: int = 0, data_dir=None) -> dict:
    """``{name: (train, test)}`` of single-split parallel UD datasets (the PUD treebanks), cut alike.

    :func:`lca.data.datasets.train_test` cuts each by the same seeded sentence permutation, so the
    test sentences are translations of each other when the files list the same ``sent_id``
    values in the same order, which is checked here.
    """
    from ..data.datasets import dataset_path, train_test

    names = [n.strip() for n in names if n.strip()]
    if len(names) < 2:
        raise InputError(f"parallel comparison needs at least 2 datasets; got {names}")
    ids = {}
    for n in names:
        splits = list(_dataset_splits(n))
        if len(splits) != 1:
            raise InputError(f"{n} has the splits {splits}; parallel comparison takes single-split treebanks (ud-pud-*)")
        ids[n] = _sent_ids(dataset_path(n, splits[0], data_dir))
    for n in names[1:]:
        if ids[n] != ids[names[0]]:
            raise InputError(f"{n} is not sentence-parallel to {names[0]}: their sent_id lists differ "
                             f"({len(ids[n])} vs {len(ids[names[0]])} sentences)")
    return {n: train_test(n, data_dir, seed) for n in names}


def _dataset_splits(name: str):
    from ..data.datasets import DATASETS

    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; the datasets are {', '.join(DATASETS)}")
    return DATASETS[name].splits


def run_parallel(names: Sequence[str], config, out, cache=None, progress_for=None) -> list[Path]:
    """Run LCA with ``config`` on each parallel dataset (see :func:`parallel_corpora`); returns the run folders.

    ``progress_for(name)``, if given, returns the progress callback of the run on dataset ``name``.
    """
    from ..models.loading import load_model
    from ..runs.pipeline import run_lca
    from ..runs.result import save_result

    corpora = parallel_corpora(names)
    loaded = load_model(config)
    folders = []
    for name, (train, test) in corpora.items():
        folder = Path(out) / name
        progress = progress_for(name) if progress_for else None
        save_result(run_lca(train, test, config, loaded=loaded, cache=cache, progress=progress), folder)
        folders.append(folder)
    return folders
