"""Annotated text: corpora and the tasks derived from them (:mod:`.corpus`), file formats (:mod:`.formats`),
the dataset registry (:mod:`.datasets`), checked downloads (:mod:`.download`) and the train and test corpora a
command or a sweep names, with the unseen-tag policy (:mod:`.sources`).

May import :mod:`lca.store` and the top-level helpers; nothing about models or probes.
"""
