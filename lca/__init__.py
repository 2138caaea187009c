"""LCA Explorer: Linguistic Correlation Analysis of transformer neurons.

>>> import lca
>>> sorted(lca.RunConfig().to_dict())[:3]
['aggregation', 'alpha', 'batch_size']
"""
from ._version import __version__
from ._validation import InputError
from .neurons import flat_to_layer_unit, layer_unit_to_flat, neuron_label, parse_neuron
from .store.cache import ActivationCache, activation_key
from .data.corpus import TASKS, Corpus, Examples, control_labels, read_conllu, read_neurox, task_examples
from .data.datasets import DATASETS, list_datasets, load_dataset, train_test
from .data.formats import read_columns, read_conll2000, read_corpus, read_pmb
from .models.extract import DEFAULT_MODEL, LoadedModel, extract_activations, load_model
from .models.sites import SITES, SiteLayout, site_layout  # neuron sites: hidden states, MLP neurons
from .method.features import Features
from .method.grid import GridResult, grid_search, quick_grid_search
from .method.probe import ElasticNetProbe, ProbeWeights, accuracy, predict, train_probes
from .method.probeless import probeless_ranking
from .method.rank import lca_ranking, random_ranking, tag_neurons, weight_magnitude_ranking
from .method.screen import screen_neurons
from .method.select import minimal_subset
from .runs.memory import MemoryPlan, plan_run
from .runs.pipeline import STAGES, corpus_activations, run_lca
from .runs.result import LCAResult, RunConfig, load_result, save_result
from .report import explore, massive, viz  # modules: neuron exploration, massive activations, plotly figures
from .report.neuron_stats import NeuronStats, neuron_stats  # every neuron × tag alone: AUROC, effect sizes, p-values
from .report.neuron_cache import run_neuron_stats
from .causal.intervene import extract_silenced, silenced  # causal check: silence neurons in the model
from .causal.run import InterventionResult, run_intervention

__all__ = [
    "InputError", "ActivationCache", "activation_key", "TASKS", "Corpus", "Examples", "control_labels",
    "read_conllu", "read_neurox", "task_examples", "DATASETS", "list_datasets", "load_dataset", "train_test",
    "DEFAULT_MODEL", "LoadedModel", "extract_activations", "load_model", "Features", "read_columns",
    "read_conll2000", "read_corpus", "read_pmb", "GridResult", "grid_search", "quick_grid_search",
    "flat_to_layer_unit", "layer_unit_to_flat", "neuron_label", "parse_neuron", "STAGES",
    "corpus_activations", "run_lca", "ElasticNetProbe", "ProbeWeights", "accuracy", "predict", "train_probes",
    "probeless_ranking", "lca_ranking", "random_ranking", "tag_neurons", "weight_magnitude_ranking", "LCAResult",
    "RunConfig", "load_result", "save_result", "minimal_subset", "explore", "massive", "viz", "__version__",
    "SITES", "SiteLayout", "site_layout", "MemoryPlan", "plan_run", "screen_neurons",
    "silenced", "extract_silenced", "InterventionResult", "run_intervention",
    "NeuronStats", "neuron_stats", "run_neuron_stats",
]
