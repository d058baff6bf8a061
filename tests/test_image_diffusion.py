"""image-recon and image-cond: U-Net denoisers trained on crops; maps at input resolution, a pasted
blob found, deterministic, saved and loaded, cloned, bad input refused."""
import copy

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import adgdm
from adgdm.detectors import make_detector
from adgdm.detectors.image.denoising import ImageCond, ImageRecon, smooth_noise, ssim_map

TINY = dict(width=8, max_steps=100, train_crop=16, random_state=0)
BLOB = (slice(12, 18), slice(14, 20))  # rows, columns of the pasted blob


def _texture(n, h=32, w=32, seed=0, channels=None):
    """Smooth vertical stripes with a random phase per image, plus small pixel noise."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    base = 0.5 + 0.2 * np.sin(np.arange(w)[None, None, :] / 2.0 + phase)
    imgs = np.clip(base + 0.02 * rng.normal(size=(n, h, w)), 0, 1)
    if channels:
        imgs = np.repeat(imgs[..., None], channels, axis=3) * np.array([1.0, 0.9, 0.8])[:channels]
    return imgs


def _with_blobs(seed=1):
    test = _texture(6, seed=seed)
    test[3:, BLOB[0], BLOB[1]] = 1.0  # bright blob on the last three
    return test


@pytest.fixture(scope="module")
def fitted():
    train = _texture(24, seed=0)
    return {"image-recon": ImageRecon(**TINY).fit(train), "image-cond": ImageCond(**TINY).fit(train)}


# --- behaviour ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["image-recon", "image-cond"])
def test_a_pasted_blob_scores_above_clean_images_and_the_map_peaks_inside(fitted, name):
    det = fitted[name]
    test = _with_blobs()
    maps = det.anomaly_map(test)
    assert maps.shape == test.shape
    s = det.decision_function(test)
    assert s[3:].min() > s[:3].max()
    for m in maps[3:]:
        y, x = np.unravel_index(np.argmax(m), m.shape)
        assert BLOB[0].start <= y < BLOB[0].stop and BLOB[1].start <= x < BLOB[1].stop
    assert det.predict(test)[3:].all()
    # the threshold comes from the held-out calibration images: 20 % of 24 -> 5 scores
    assert len(det.decision_scores_) == 5 and det.threshold_ == pytest.approx(np.quantile(det.decision_scores_, 0.9))


def test_simplex_noise_trains_and_finds_the_blob():
    det = ImageRecon(**dict(TINY, noise="simplex")).fit(_texture(24, seed=0))
    test = _with_blobs()
    s = det.decision_function(test)
    assert s[3:].min() > s[:3].max()


def test_smooth_noise_is_unit_variance_and_spatially_coherent():
    g = torch.Generator().manual_seed(0)
    n = smooth_noise((4, 2, 64, 48), g)
    assert n.shape == (4, 2, 64, 48)
    np.testing.assert_allclose(n.std(dim=(2, 3)).numpy(), 1.0, atol=1e-4)
    np.testing.assert_allclose(n.mean(dim=(2, 3)).numpy(), 0.0, atol=1e-5)
    neighbour = float((n[..., 1:] * n[..., :-1]).mean())  # lag-1 correlation; white noise has ~0
    assert neighbour > 0.5
    assert torch.equal(n, smooth_noise((4, 2, 64, 48), torch.Generator().manual_seed(0)))


def test_ssim_map_is_one_for_identical_images_and_drops_where_they_differ():
    a = torch.rand(1, 1, 24, 24, generator=torch.Generator().manual_seed(0))
    b = a.clone()
    b[..., 8:14, 8:14] = 1.0
    assert torch.allclose(ssim_map(a, a), torch.ones(1, 24, 24), atol=1e-4)
    s = ssim_map(a, b)[0]
    assert s[8:14, 8:14].mean() < 0.5 and s[0:3, 20:24].min() > 0.999


def test_guidance_pulls_the_reconstruction_towards_the_input(fitted):
    det = copy.deepcopy(fitted["image-cond"])  # set_params must not change the shared fixture
    clean = _texture(3, seed=5)
    dist = [det.set_params(guidance=w, smooth_sigma=0).anomaly_map(clean).mean() for w in (0.0, 1.0, 3.0)]
    assert dist[0] > dist[1] > dist[2]


def test_maps_at_input_resolution_for_non_square_and_colour_input(fitted):
    det = fitted["image-recon"]
    odd = _texture(2, h=30, w=44, seed=3)  # sides not multiples of the U-Net's factor: padded and cropped back
    assert det.anomaly_map(odd).shape == (2, 30, 44)
    # colour, centre crop: the map is put back in the frame of the 40x48 input (crop offset 4, 8)
    rgb = ImageRecon(**dict(TINY, crop=32)).fit((_texture(12, 40, 48, channels=3) * 255).astype(np.uint8))
    assert rgb.n_channels_ == 3 and rgb.image_shape_ == (32, 32, 3)
    test = _texture(2, 40, 48, seed=4, channels=3)
    test[1, 10:16, 14:20] = 1.0
    maps = rgb.anomaly_map(test)
    assert maps.shape == (2, 40, 48)
    y, x = np.unravel_index(np.argmax(maps[1]), maps[1].shape)
    assert 10 <= y < 16 and 14 <= x < 20
    spike = np.zeros((1, 32, 32))
    spike[0, 0, 0] = 1.0
    placed = rgb._to_input(spike, (40, 48))
    assert placed.shape == (1, 40, 48) and placed[0, 4, 8] == 1.0 and placed[0, 4, 9] == 0.0


def test_deterministic_under_random_state_and_independent_of_the_batch():
    train, test = _texture(8, seed=0), _with_blobs()
    kw = dict(TINY, max_steps=30)
    a = ImageRecon(**kw).fit(train).anomaly_map(test)
    b_det = ImageRecon(**kw).fit(train)
    np.testing.assert_array_equal(a, b_det.anomaly_map(test))
    c = ImageRecon(**dict(kw, random_state=1)).fit(train).anomaly_map(test)
    assert not np.allclose(a, c)
    np.testing.assert_allclose(b_det.set_params(batch_size=1).anomaly_map(test), a, atol=1e-6)


@pytest.mark.parametrize("name", ["image-recon", "image-cond"])
def test_save_and_load_round_trip(fitted, name, tmp_path):
    det = fitted[name]
    det.save(tmp_path / "m")
    back = adgdm.load(tmp_path / "m")
    assert type(back) is type(det) and back.get_params() == det.get_params()
    assert back.threshold_ == det.threshold_
    np.testing.assert_array_equal(back.decision_scores_, det.decision_scores_)
    test = _with_blobs()
    np.testing.assert_array_equal(back.anomaly_map(test), det.anomaly_map(test))


def test_clone_and_registry(fitted):
    det = fitted["image-cond"]
    c = clone(det)
    assert c.get_params() == det.get_params() and not hasattr(c, "net_")
    with pytest.raises(NotFittedError):
        c.anomaly_map(_texture(1))
    assert {"image-recon", "image-cond"} <= set(adgdm.list_detectors("image"))
    d = make_detector("image-recon:noise_levels=0.1|0.3,noise=simplex", random_state=0)
    assert isinstance(d, ImageRecon) and d.noise_levels == (0.1, 0.3) and d.noise == "simplex"
    assert make_detector("image-cond:guidance=2", random_state=0).guidance == 2


# --- bad input ----------------------------------------------------------------------------------
def test_bad_input(fitted):
    det = fitted["image-recon"]
    with pytest.raises(ValueError, match="NaN"):
        det.anomaly_map(np.full((1, 32, 32), np.nan))
    with pytest.raises(ValueError, match="NaN or infinite"):
        ImageRecon(**TINY).fit(np.full((6, 32, 32), np.inf))
    with pytest.raises(ValueError, match="differ in size"):
        det.anomaly_map([np.zeros((32, 32)), np.zeros((40, 40))])
    mixed = clone(det).set_params(size=32)._prep([np.zeros((32, 32)), np.zeros((40, 40))])[0]
    assert mixed.shape == (2, 32, 32, 1)
    with pytest.raises(ValueError, match="3 channel.*fitted on 1"):
        det.anomaly_map(_texture(1, channels=3))
    with pytest.raises(ValueError, match="smaller than train_crop"):
        det.anomaly_map(_texture(1, h=12, w=40))
    with pytest.raises(ValueError, match="smaller than train_crop"):
        ImageRecon(**TINY).fit(_texture(6, h=8, w=8))
    with pytest.raises(ValueError, match="at least 4 training images"):
        ImageRecon(**TINY).fit(_texture(3))
    with pytest.raises(NotFittedError):
        ImageCond().decision_function(_texture(1))
    with pytest.raises(ValueError, match="noise must be"):
        ImageRecon(noise="pink").fit(_texture(6))
    with pytest.raises(ValueError, match="fractions in"):
        ImageRecon(noise_levels=(0.0, 0.2)).fit(_texture(6))
    with pytest.raises(ValueError, match="multiple of 4"):
        ImageRecon(train_crop=10).fit(_texture(6))
    with pytest.raises(ValueError, match="guidance"):
        ImageCond(guidance=-1).fit(_texture(6))
