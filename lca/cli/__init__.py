"""``python -m lca``: the command line (:mod:`.main`), ``lca cache`` (:mod:`.cache`) and ``lca models``
(:mod:`.models`); the corpora a command names come from :mod:`lca.data.sources`.

The top layer: May import :mod:`lca.scale` and every layer below it; nothing imports it.
"""
