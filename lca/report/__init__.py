"""What a finished run shows: plotly figures (:mod:`.viz`), layer tables (:mod:`.layer_tables`), one neuron
over a corpus (:mod:`.explore`), neurons that a few words dominate (:mod:`.massive`), the verdict in words
(:mod:`.verdict`), runs side by side (:mod:`.compare`, :mod:`.compare_viz`), and every neuron × tag's own
evidence: single-neuron statistics (:mod:`.neuron_stats`, kept beside a run by :mod:`.neuron_cache`), search and
tables (:mod:`.neuron_search`), the probe against single neurons (:mod:`.neuron_probe`) and their figures
(:mod:`.neuron_viz`).

May import :mod:`lca.runs` and every layer below it; never computes a probe of its own.
"""
