"""Benchmark protocol runners and result tables."""
from .tabular import run_tabular
from .summary import summarize

__all__ = ["run_tabular", "summarize"]
