"""Data loaders."""
from .series import SeriesRecord, load_nab, load_series_csv, load_skab, load_skab_anomaly_free
from .tabular import list_npz, list_tables, load_npz, load_table_csv, semi_supervised_split, standardize

__all__ = ["SeriesRecord", "load_nab", "load_series_csv", "load_skab", "load_skab_anomaly_free", "list_npz", "list_tables", "load_npz", "load_table_csv", "semi_supervised_split", "standardize"]
