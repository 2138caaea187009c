"""Transformer models: loading and the hub (:mod:`.loading`, :mod:`.hub`), GGUF files converted once
(:mod:`.gguf`), the model folders kept locally (:mod:`.local`) and models added by name (:mod:`.catalogue`),
where layers and neuron sites sit (:mod:`.blocks`, :mod:`.sites`), word-level activation extraction
(:mod:`.extract`) and fine-tuned or random copies to compare against (:mod:`.finetune`).

May import :mod:`lca.data` and :mod:`lca.store`; knows nothing of probes.
"""
