"""LCA Explorer: Linguistic Correlation Analysis of transformer neurons.

>>> import lca
>>> sorted(lca.RunConfig().to_dict())[:3]
['aggregation', 'alpha', 'batch_size']
"""
from ._version import __version__
from ._validation import InputError
from .cache import ActivationCache, activation_key
from .data import TASKS, Corpus, Examples, control_labels, read_conllu, read_neurox, task_examples
from .datasets import DATASETS, list_datasets, load_dataset, train_test
from .extract import DEFAULT_MODEL, LoadedModel, extract_activations, load_model
from .features import Features
from .formats import read_columns, read_conll2000, read_corpus, read_pmb
from .grid import GridResult, grid_search, quick_grid_search
from .neurons import flat_to_layer_unit, layer_unit_to_flat, neuron_label, parse_neuron
from .pipeline import STAGES, corpus_activations, run_lca
from .probe import ElasticNetProbe, ProbeWeights, accuracy, predict, train_probes
from .probeless import probeless_ranking
from .rank import lca_ranking, random_ranking, tag_neurons, weight_magnitude_ranking
from .result import LCAResult, RunConfig, load_result, save_result
from .select import minimal_subset
from .sites import SITES, SiteLayout, site_layout  # noqa: E402  (neuron sites: hidden states, MLP neurons)
from .memory import MemoryPlan, plan_run  # noqa: E402
from .screen import screen_neurons  # noqa: E402
from . import explore, runs, viz  # noqa: E402  (modules: neuron exploration, the run store, plotly figures)
from .intervene import extract_silenced, silenced  # noqa: E402  (causal check: silence neurons in the model)
from .intervene_run import InterventionResult, run_intervention  # noqa: E402

__all__ = [
    "InputError", "ActivationCache", "activation_key", "TASKS", "Corpus", "Examples", "control_labels",
    "read_conllu", "read_neurox", "task_examples", "DATASETS", "list_datasets", "load_dataset", "train_test",
    "DEFAULT_MODEL", "LoadedModel", "extract_activations", "load_model", "Features", "read_columns",
    "read_conll2000", "read_corpus", "read_pmb", "GridResult", "grid_search", "quick_grid_search",
    "flat_to_layer_unit", "layer_unit_to_flat", "neuron_label", "parse_neuron", "STAGES",
    "corpus_activations", "run_lca", "ElasticNetProbe", "ProbeWeights", "accuracy", "predict", "train_probes",
    "probeless_ranking", "lca_ranking", "random_ranking", "tag_neurons", "weight_magnitude_ranking", "LCAResult",
    "RunConfig", "load_result", "save_result", "minimal_subset", "explore", "runs", "viz", "__version__",
    "SITES", "SiteLayout", "site_layout", "MemoryPlan", "plan_run", "screen_neurons",
    "silenced", "extract_silenced", "InterventionResult", "run_intervention",
]
