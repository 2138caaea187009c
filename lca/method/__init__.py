"""The paper's algorithms on activation matrices: feature views (:mod:`.features`), the elastic-net probe
(Algorithm 1: :mod:`.probe`, laid out by :mod:`.probe_blocks`), the λ grid search (Algorithm 2: :mod:`.grid`),
neuron rankings (Algorithm 3: :mod:`.rank`), the minimal subset (Algorithm 4: :mod:`.select`), ablation and
retraining checks (:mod:`.ablate`), the probeless baseline (:mod:`.probeless`) and the streamed neuron screen
(:mod:`.screen`).

May import :mod:`lca.models`, :mod:`lca.data` and :mod:`lca.store`; reads and writes no run folder.
"""
