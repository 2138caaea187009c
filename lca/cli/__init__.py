"""``python -m lca``: the command line (:mod:`.main`), the corpora a command names (:mod:`.data`) and
``lca cache`` (:mod:`.cache`).

The top layer: may import every other subpackage; nothing imports it.
"""
