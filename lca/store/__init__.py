"""Bytes on disk: atomic writes (:mod:`.atomic`) and the activation cache (:mod:`.cache`), with where it lives.

The lowest layer: imports only the top-level helpers of :mod:`lca` (``_validation``, ``_version``).
"""
