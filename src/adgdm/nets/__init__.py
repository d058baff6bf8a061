"""Networks. The denoisers take ``(x, t[, cond])`` and know nothing of the noise schedule; ``SegNet``
maps images to per-pixel defect logits; ``FeatureExtractor`` gives frozen pretrained patch features
(EfficientNet-Lite0, the ``[vision]`` extra); ``SentenceEncoder`` gives frozen sentence embeddings
(all-MiniLM-L6-v2, the ``[text]`` extra)."""
from .efficientnet import EfficientNetLite0, FeatureExtractor, load_efficientnet_lite0
from .condmap import CondMapDenoiser
from .embeddings import ConditionEmbedding, SinusoidalTimeEmbedding
from .mapnet import MapDenoiser, position_features
from .mlp import ResidualMLP
from .segnet import FeatureSegHead, SegNet, seg_loss
from .temporal import TemporalConvNet
from .text import BertEncoder, SentenceEncoder, WordPieceTokenizer
from .unet import UNet

NETS = {"ResidualMLP": ResidualMLP, "TemporalConvNet": TemporalConvNet, "UNet": UNet, "SegNet": SegNet,
        "FeatureSegHead": FeatureSegHead, "MapDenoiser": MapDenoiser, "CondMapDenoiser": CondMapDenoiser}


def build_net(name: str, config: dict):
    """Rebuild a network from its class name and ``config`` (used when loading a saved model)."""
    if name not in NETS:
        raise ValueError(f"unknown network {name!r}; known: {sorted(NETS)}")
    return NETS[name](**config)


__all__ = ["ConditionEmbedding", "SinusoidalTimeEmbedding", "ResidualMLP", "TemporalConvNet", "UNet", "SegNet",
           "FeatureSegHead", "MapDenoiser", "CondMapDenoiser", "position_features", "seg_loss", "build_net", "NETS", "EfficientNetLite0",
           "FeatureExtractor", "load_efficientnet_lite0", "BertEncoder", "SentenceEncoder", "WordPieceTokenizer"]
