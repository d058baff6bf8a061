"""Denoising networks. They take ``(x, t[, cond])`` and know nothing of the noise schedule."""
from .embeddings import ConditionEmbedding, SinusoidalTimeEmbedding
from .mlp import ResidualMLP
from .temporal import TemporalConvNet

NETS = {"ResidualMLP": ResidualMLP, "TemporalConvNet": TemporalConvNet}


def build_net(name: str, config: dict):
    """Rebuild a network from its class name and ``config`` (used when loading a saved model)."""
    if name not in NETS:
        raise ValueError(f"unknown network {name!r}; known: {sorted(NETS)}")
    return NETS[name](**config)


__all__ = ["ConditionEmbedding", "SinusoidalTimeEmbedding", "ResidualMLP", "TemporalConvNet", "build_net", "NETS"]
