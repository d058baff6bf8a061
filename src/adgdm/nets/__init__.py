"""Denoising networks. They take ``(x, t[, cond])`` and know nothing of the noise schedule."""
from .embeddings import ConditionEmbedding, SinusoidalTimeEmbedding
from .mlp import ResidualMLP
from .temporal import TemporalConvNet
from .unet import UNet

NETS = {"ResidualMLP": ResidualMLP, "TemporalConvNet": TemporalConvNet, "UNet": UNet}


def build_net(name: str, config: dict):
    """Rebuild a network from its class name and ``config`` (used when loading a saved model)."""
    if name not in NETS:
        raise ValueError(f"unknown network {name!r}; known: {sorted(NETS)}")
    return NETS[name](**config)


__all__ = ["ConditionEmbedding", "SinusoidalTimeEmbedding", "ResidualMLP", "TemporalConvNet", "UNet", "build_net", "NETS"]
