"""What a finished run shows: plotly figures (:mod:`.viz`), layer tables (:mod:`.layer_tables`), one neuron
over a corpus (:mod:`.explore`), neurons that a few words dominate (:mod:`.massive`), the verdict in words
(:mod:`.verdict`) and runs side by side (:mod:`.compare`, :mod:`.compare_viz`).

May import :mod:`lca.runs` and every layer below it; never computes a probe of its own.
"""
