"""The causal check: silence a run's neurons inside the model (:mod:`.intervene`) and measure what breaks:
information flow (:mod:`.effects`), the model's own predictions (:mod:`.lm`), a fine-tuned classifier
(:mod:`.classifier`); ``lca intervene`` (:mod:`.run`) and its figures (:mod:`.viz`).

May import :mod:`lca.report` and every layer below it.
"""
