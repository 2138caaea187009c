"""The package version, in a leaf module: :mod:`lca` and :mod:`lca.store.cache` (whose keys carry it) both import it."""
__version__ = "0.1.0"
