"""Annotated text: corpora and the tasks derived from them (:mod:`.corpus`), file formats (:mod:`.formats`),
the dataset registry (:mod:`.datasets`) and checked downloads (:mod:`.download`).

May import :mod:`lca.store` and the top-level helpers; nothing about models or probes.
"""
