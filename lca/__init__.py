"""LCA Explorer: Linguistic Correlation Analysis of transformer neurons."""
__version__ = "0.1.0"
