"""Data loaders."""
from .tabular import list_npz, load_npz, semi_supervised_split, standardize

__all__ = ["list_npz", "load_npz", "semi_supervised_split", "standardize"]
