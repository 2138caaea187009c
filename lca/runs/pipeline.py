"""The whole LCA method in one call: activations, grid, oracle, ranking, minimal subset and checks."""
from __future__ import annotations

import dataclasses
import itertools
import time
import warnings
from contextlib import contextmanager
from typing import Callable

import numpy as np

from .._validation import InputError
from ..method.ablate import CURVE_FRACTIONS, ablation_curve, mean_sd, retrain_accuracy
from ..store.cache import ActivationCache
from ..data.corpus import Corpus, Examples, control_labels, task_examples
from ..models.extract import extract_activations
from ..models.loading import LoadedModel, load_model
from ..method.features import Features
from ..method.grid import fixed_point, grid_search, quick_grid_search
from .memory import preflight
from ..method.probe import accuracy
from ..method.probeless import probeless_ranking
from ..method.rank import bottom_ranking, lca_ranking, random_rankings, tag_neurons, weight_magnitude_ranking
from .inputs import ModelKey, corpus_key, held_columns, layer_columns
from .result import LCAResult, RunConfig
from .sections import Ablation, ActivationKeys, Lambdas, Minimal, Probeless, Retrain, Screen, Selectivity
from .seeds import aggregate_seeds
from ..method.screen import screen_neurons
from ..method.select import minimal_subset
from ..models.sites import SiteLayout, site_layout

__all__ = ["run_lca", "corpus_activations", "STAGES"]

STAGES = ("load", "extract", "grid", "minimal", "ablation", "probeless", "retrain", "selectivity")
Progress = Callable[[str, float], None]


def corpus_activations(loaded: LoadedModel, corpus: Corpus, aggregation: str = "last",
                       cache: ActivationCache | None = None,
                       progress: Callable[[int, int], None] | None = None, site: str = "hidden",
                       columns: np.ndarray | None = None) -> tuple[np.ndarray, str, bool]:
    """``(activations (n_words, D) float16, cache key, was_cached)`` of a corpus, through the disk cache.

    ``site`` picks the neurons (:mod:`lca.models.sites`); ``columns`` (sorted flat ids of the site) keeps
    only those, in that order (a screened run).
    """
    cache = cache or ActivationCache()
    key, meta = corpus_key(ModelKey.of(loaded), corpus, aggregation, site, columns)
    width = site_layout(loaded, site).n_neurons if columns is None else len(columns)
    array, hit = cache.get_or_compute(
        key, (corpus.n_words, width),
        lambda out: extract_activations(loaded, corpus.sentences, aggregation, out=out, progress=progress, site=site,
                                        columns=columns), meta)
    if key in cache.repaired:  # said once on the command line; the result keeps it for the app
        warnings.warn(f"recomputed the activations of {corpus.name}: the cached file was damaged")
    return array, key, hit


def _sentence_of(corpus: Corpus, examples: Examples) -> np.ndarray:
    rows = examples.rows[:, 1] if examples.rows.ndim == 2 else examples.rows
    return np.searchsorted(corpus.sentence_offsets(), rows, side="right") - 1


def _dev_split(corpus: Corpus, examples: Examples, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Example indices of train and development parts, split by whole sentences."""
    n_sent = len(corpus.sentences)
    if n_sent < 2:
        raise InputError(f"{corpus.name}: the training data needs at least 2 sentences to carve a development split")
    n_dev = min(n_sent - 1, max(1, int(round(fraction * n_sent))))
    dev_sentences = np.random.default_rng(seed).permutation(n_sent)[:n_dev]
    is_dev = np.isin(_sentence_of(corpus, examples), dev_sentences)
    return np.nonzero(~is_dev)[0], np.nonzero(is_dev)[0]


def unseen_tags(train: Examples, test: Examples) -> dict[str, int]:
    """Test tags that never occur in training, with their word counts, most frequent first."""
    test_labels = np.asarray(test.labels)
    unseen, counts = np.unique(test_labels[~np.isin(test_labels, np.asarray(train.labels))], return_counts=True)
    order = np.lexsort((unseen, -counts))
    return {str(unseen[i]): int(counts[i]) for i in order}


def _encode_labels(train: Examples, test: Examples, drop_unseen: bool, where: tuple[str, str]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """``(classes, y_train, y_test, kept test indices, dropped words per unseen tag)``."""
    classes = np.unique(np.asarray(train.labels))
    test_labels = np.asarray(test.labels)
    dropped = unseen_tags(train, test)
    if dropped and not drop_unseen:
        listing = ", ".join(f"{t!r} ({c} words)" for t, c in list(dropped.items())[:10])
        more = f" and {len(dropped) - 10} more tags" if len(dropped) > 10 else ""
        raise InputError(f"{sum(dropped.values())} words of the test data ({where[1]}) have tags never seen in the "
                         f"training data ({where[0]}): {listing}{more}; add them to the training data or drop those "
                         "words with --drop-unseen")
    kept = np.nonzero(np.isin(test_labels, classes))[0]
    return (classes, np.searchsorted(classes, np.asarray(train.labels)), np.searchsorted(classes, test_labels[kept]),
            kept, dropped)


@contextmanager
def _stage(name: str, timings: dict, progress: Progress | None):
    if progress:
        progress(name, 0.0)
    start = time.perf_counter()
    yield (lambda fraction: progress(name, float(fraction))) if progress else (lambda fraction: None)
    timings[name] = round(time.perf_counter() - start, 3)
    if progress:
        progress(name, 1.0)


def _layer_columns(layers, layout: SiteLayout, name: str, pair: bool,
                   held: np.ndarray | None = None) -> np.ndarray | None:
    """Flat ids of the neurons analysed: those of ``layers``, or ``held`` (a screen's); both halves for
    pair tasks; None for every neuron."""
    if held is None and layers is None:
        return None
    one = held if held is not None else layer_columns(layers, layout, name)
    return np.concatenate([one, one + layout.n_neurons]) if pair else one


def _layer_histogram(neurons: np.ndarray, n_layers: int, layer_size: int, pair: bool) -> list[int]:
    return np.bincount(np.asarray(neurons) // layer_size, minlength=n_layers * (2 if pair else 1)).tolist()


def run_lca(train: Corpus, test: Corpus, config: RunConfig = RunConfig(), loaded: LoadedModel | None = None,
            cache: ActivationCache | None = None, progress: Progress | None = None) -> LCAResult:
    """Run Algorithms 1–4 and every check of the paper; accuracies are measured on ``test``.

    Selection decisions (λs, the minimal N) use a development split carved from ``train``
    by sentences, never ``test``.  ``progress(stage, fraction)`` is called as each of
    :data:`STAGES` advances; an exception raised from it (e.g. a cancel) stops the run.
    With ``config.seeds`` = K > 1 the whole run is repeated with seeds ``seed … seed+K−1``;
    the result is the first seed's, with every table figure's mean ± sd in ``seeds``.
    """
    if config.seeds == 1:
        return _run_once(train, test, config, loaded, cache, progress)
    if loaded is None:
        with _stage("load", {}, progress):
            loaded = load_model(config)
    K = config.seeds
    results = []
    for i in range(K):
        # Each seed's stages report a K-th of the way through them.
        share = None if progress is None else (lambda stage, f, i=i: progress(stage, (i + f) / K))
        results.append(_run_once(train, test, dataclasses.replace(config, seed=config.seed + i, seeds=1), loaded,
                                 cache, share))
    timings = {stage: round(sum(r.timings.get(stage, 0.0) for r in results), 3) for stage in results[0].timings}
    return dataclasses.replace(results[0], seeds=aggregate_seeds(results), config=config.to_dict(), timings=timings)


def _run_once(train: Corpus, test: Corpus, config: RunConfig, loaded: LoadedModel | None,
              cache: ActivationCache | None, progress: Progress | None) -> LCAResult:
    timings: dict[str, float] = {}
    cache = cache or ActivationCache()
    ex_train, ex_test = task_examples(train, config.task), task_examples(test, config.task)
    classes, y_all, y_test, kept, dropped = _encode_labels(ex_train, ex_test, config.drop_unseen,
                                                           (train.name, test.name))
    fit_idx, dev_idx = _dev_split(train, ex_train, config.dev_fraction, config.seed)
    pair = ex_train.rows.ndim == 2
    # Refuse what cannot fit in memory or on disk before loading anything (the numbers are in the message).
    preflight(config, loaded, train.n_words + test.n_words, len(classes), pair, cache.directory)
    with _stage("load", timings, progress):
        loaded = loaded or load_model(config)
    layout = site_layout(loaded, config.site)
    with _stage("extract", timings, progress) as report:
        screen, share = None, 0.0
        if config.screen is not None:  # one streamed pass over the training words, then only the kept columns
            share = train.n_words / (2 * train.n_words + test.n_words)
            screen = screen_neurons(loaded, train.sentences, ex_train.rows[fit_idx], y_all[fit_idx], len(classes),
                                    config.screen, _layer_columns(config.layers, layout, loaded.name, False)
                                    if config.layers else np.arange(layout.n_neurons), layout.layer_size,
                                    config.aggregation, config.site, lambda done, total: report(share * done / total))
        # the screen's columns, or the chosen layers' (disk and memory scale with them); None: every neuron
        held = held_columns(config, layout, None if screen is None else screen.columns, loaded.name)
        n_total = train.n_words + test.n_words
        acts_train, key_train, hit_train = corpus_activations(
            loaded, train, config.aggregation, cache,
            lambda done, total: report(share + (1 - share) * done / n_total), config.site, held)
        acts_test, key_test, hit_test = corpus_activations(
            loaded, test, config.aggregation, cache,
            lambda done, total: report(share + (1 - share) * (train.n_words + done) / n_total), config.site, held)
    columns = _layer_columns(config.layers, layout, loaded.name, pair, held)  # flat ids analysed; None: every neuron
    # The matrices hold only the analysed columns, already in order: the features need no selection.
    all_train = Features(acts_train, ex_train.rows)
    X_test = Features(acts_test, ex_test.rows[kept])
    X_fit, X_dev = all_train.take(fit_idx), all_train.take(dev_idx)
    y_fit, y_dev = y_all[fit_idx], y_all[dev_idx]
    T, D = len(classes), X_fit.n_features
    device = loaded.device
    kw = dict(**config.training(), seed=config.seed, device=device)

    c_all, c_test = control_labels(ex_train, [ex_test], seed=config.seed)
    c_fit = np.searchsorted(classes, np.asarray(c_all)[fit_idx])  # control tags are drawn from the task's
    c_test = np.searchsorted(classes, np.asarray(c_test)[kept])
    with _stage("grid", timings, progress) as report:
        pairs = list(itertools.product(config.grid, config.grid))
        scoring = dict(top_fraction=config.top_fraction, alpha=config.alpha, beta=config.beta,
                       ranking_steps=config.ranking_steps, progress=report, random_draws=config.random_draws)
        # Quick mode and a fixed λ pair train the control probe on all neurons beside the oracle
        # (same λs, same width).
        if config.lambdas is not None:
            grid = fixed_point(X_fit, y_fit, X_dev, y_dev, T, config.lambdas, companions=c_fit, **scoring, **kw)
        elif config.mode == "quick":
            grid = quick_grid_search(X_fit, y_fit, X_dev, y_dev, T, pairs, companions=c_fit, **scoring, **kw)
        else:
            grid = grid_search(X_fit, y_fit, X_dev, y_dev, T, pairs, **scoring, **kw)
        oracle = grid.oracle
        oracle_acc, noreg_acc = (float(accuracy(X_test, y_test, p, device=device)[0]) for p in (oracle, grid.noreg))
        weights = oracle.coef[0]
        ranking = lca_ranking(weights, config.ranking_steps)
    l1, l2 = grid.lambdas["l1"], grid.lambdas["l2"]
    with _stage("minimal", timings, progress) as report:
        minimal = minimal_subset(X_fit, y_fit, X_dev, y_dev, T, ranking, grid.oracle_dev_accuracy, l1, l2,
                                 delta=config.delta, step=config.step, stride=3 if config.mode == "quick" else 1,
                                 progress=report, **kw)
        N = len(minimal.neurons)
        minimal_acc = float(accuracy(X_test, y_test, minimal.probe, device=device)[0])
    with _stage("ablation", timings, progress):
        randoms = random_rankings(D, config.random_draws, config.seed)
        rankings = {"top": ranking, "random": randoms, "bottom": bottom_ranking(ranking),
                    "weight_magnitude": weight_magnitude_ranking(weights)}
        # Table 2 is the curve's point at the top fraction: one pass over the test set for both.
        curve = ablation_curve(X_test, y_test, oracle, rankings, sorted(set(CURVE_FRACTIONS) | {config.top_fraction}),
                               device=device)
        at_top = next(r for r in curve if r["fraction"] == config.top_fraction)
        ablation = Ablation(**{name: at_top[name] for name in ("top", "random", "random_sd", "bottom",
                                                                "weight_magnitude")})
    with _stage("probeless", timings, progress):
        pl_ranking = probeless_ranking(X_fit, y_fit, T)
    with _stage("retrain", timings, progress):
        # The probes the checks still need train together: the random and bottom N (the minimal
        # probe is the top N one, as nested training equals training alone), the probeless N, and
        # the control task on the top N and (unless the grid did) on all neurons.
        subsets = {**{f"random_{i}": r[:N] for i, r in enumerate(randoms)}, "bottom": rankings["bottom"][:N],
                   "probeless": pl_ranking[:N], "control_top": ranking[:N]}
        if grid.companions is None:
            subsets["control_all"] = None
        labels = [(c_fit, c_test) if name.startswith("control") else (y_fit, y_test) for name in subsets]
        retrained = retrain_accuracy(X_fit, np.stack([a for a, _ in labels]), X_test, np.stack([b for _, b in labels]),
                                     T, subsets, l1, l2, **kw)
        random_draws = [retrained[f"random_{i}"] for i in range(len(randoms))]
        mean, sd = mean_sd(random_draws)
        retrain = Retrain(top=minimal_acc, random=mean, random_sd=sd, random_draws=tuple(random_draws),
                          bottom=retrained["bottom"])
    with _stage("selectivity", timings, progress):
        if grid.companions is not None:
            retrained["control_all"] = float(accuracy(X_test, c_test, grid.companions, device=device)[0])
        selectivity = Selectivity(all=oracle_acc - retrained["control_all"], top=retrain.top - retrained["control_top"],
                                  control_all=retrained["control_all"], control_top=retrained["control_top"])

    majority = float(np.mean(y_test == np.bincount(y_fit, minlength=T).argmax())) if len(y_test) else 0.0
    # From here on neuron ids are flat ids of the whole model (they differ only when some layers are left out).
    flat = (lambda ids: np.asarray(ids)) if columns is None else (lambda ids: columns[np.asarray(ids, dtype=np.int64)])
    D_all = layout.n_neurons * (2 if pair else 1)
    full_weights, left_out = weights, np.empty(0, dtype=np.int64)
    if columns is not None:  # neurons not analysed get weight 0 and come last in the ranking
        full_weights = np.zeros((D_all, T), dtype=weights.dtype)
        full_weights[columns] = weights
        left_out = np.setdiff1d(np.arange(D_all), columns)
    neurons = flat(minimal.neurons)
    per_tag = {tag: flat(n).tolist() for tag, n in zip(classes.tolist(), tag_neurons(weights, minimal.neurons,
                                                                                     config.ranking_steps))}
    return LCAResult(
        model=loaded.name, task=config.task, n_layers=layout.n_layers, layer_size=layout.layer_size, n_neurons=D_all,
        pair=pair, tags=tuple(classes.tolist()), n_train_words=len(ex_train), n_test_words=len(kept),
        lambdas=Lambdas(l1, l2), grid=grid.rows, oracle_accuracy=oracle_acc, noreg_accuracy=noreg_acc,
        majority_accuracy=majority, ranking=tuple(np.concatenate([flat(ranking), left_out]).tolist()), per_tag=per_tag,
        ablation=ablation, retrain=retrain,
        minimal=Minimal(n_neurons=N, fraction=N / D, analysed_neurons=D, accuracy=minimal_acc,
                        dev_accuracy=minimal.dev_accuracy, oracle_dev_accuracy=grid.oracle_dev_accuracy,
                        tried=tuple(tuple(t) for t in minimal.tried), neurons=tuple(neurons.tolist())),
        selectivity=selectivity,
        probeless=Probeless(retrained["probeless"], N, tuple(flat(pl_ranking[:100]).tolist())),
        layer_histogram=tuple(_layer_histogram(neurons, layout.n_layers, layout.layer_size, pair)),
        timings=timings, config=config.to_dict(),
        activation_keys=ActivationKeys(key_train, key_test, str(cache.directory.parent), (hit_train, hit_test),
                                       (key_train in cache.repaired, key_test in cache.repaired), int(len(dev_idx)),
                                       None if held is None else tuple(held.tolist())),  # what the matrices hold
        curve=tuple(curve), ablation_random_draws=tuple(at_top["random_draws"]),
        training_curve=tuple({"epoch": h["epoch"], "step": h["step"], "loss": h["loss"][0], "penalty": h["penalty"][0],
                              "dev_accuracy": h["dev_accuracy"][0]} for h in oracle.history),
        dropped_unseen=dropped, site=config.site, screen=None if screen is None else Screen.from_dict(screen.to_dict()),
        weights=full_weights, intercept=oracle.intercept[0],
    )
