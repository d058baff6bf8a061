"""Image defect synthesis: perlin, cutpaste, masked (RePaint with a tiny UNet), defect-paste
(few-shot paste), the rank dispatch of generate_anomalies, bad input."""
import numpy as np
import pytest
import torch
from scipy.ndimage import binary_dilation

from adgdm._torch import seeded
from adgdm.diffusion import NoiseSchedule, TrainConfig, denoising_loss, train
from adgdm.generation import IMAGE_KINDS, ImageModel, generate_anomalies, generate_image_anomalies
from adgdm.nets import ResidualMLP, UNet

SIDE = 32


def _texture(n, seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 4 * np.pi, SIDE)
    base = 0.5 + 0.15 * np.sin(x)[None, :, None] * np.cos(x)[None, None, :]
    return np.clip(base + 0.03 * rng.normal(size=(n, SIDE, SIDE)), 0, 1)


@pytest.fixture(scope="module")
def normals():
    return _texture(24)


@pytest.fixture(scope="module")
def model(normals):
    sched = NoiseSchedule(n_steps=100)
    with seeded(0):
        net = UNet(channels=1, width=8, mults=(1, 2), emb_dim=32)
    data = [torch.from_numpy(normals[:, None].astype(np.float32)) * 2 - 1]
    net, _ = train(net, data, denoising_loss(sched), TrainConfig(max_steps=50, batch_size=16), seed=0)
    return ImageModel(net, sched)


@pytest.fixture(scope="module")
def real_defects(normals):
    d = normals[:2].copy()
    m = np.zeros((2, SIDE, SIDE))
    d[0, 5:9, 6:9], m[0, 5:9, 6:9] = 0.05, 1  # a dark spot
    d[1, 20:22, 4:16], m[1, 20:22, 4:16] = 0.05, 1  # a dark scratch
    return d, m


def _kwargs(kind, model, real_defects):
    if kind == "masked":
        return dict(model=model, steps=5)
    if kind == "defect-paste":
        return dict(defects=real_defects[0], defect_masks=real_defects[1])
    return {}


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_each_kind_returns_n_images_and_masks_in_range_and_is_seeded(kind, normals, model, real_defects):
    kw = _kwargs(kind, model, real_defects)
    imgs, masks = generate_image_anomalies(normals, 5, kind, random_state=0, **kw)
    assert imgs.shape == (5, SIDE, SIDE, 1) and imgs.dtype == np.float32
    assert masks.shape == (5, SIDE, SIDE) and masks.dtype == np.float32
    assert 0 <= imgs.min() and imgs.max() <= 1 and 0 <= masks.min() and masks.max() <= 1
    assert (masks.reshape(5, -1).max(axis=1) > 0.5).all()  # every output has a defect
    again = generate_image_anomalies(normals, 5, kind, random_state=0, **kw)
    np.testing.assert_array_equal(imgs, again[0])
    np.testing.assert_array_equal(masks, again[1])
    other = generate_image_anomalies(normals, 5, kind, random_state=1, **kw)
    assert not np.array_equal(imgs, other[0])


def test_masked_changes_pixels_only_inside_the_blend_margin(normals, model):
    one = normals[:1]  # a single normal image: every output starts from it
    mask = np.zeros((3, SIDE, SIDE))
    mask[0, 8:14, 8:16] = mask[1, 20:26, 3:9] = mask[2, 2:6, 24:30] = 1
    for margin in (0, 2):
        imgs, w = generate_image_anomalies(one, 3, "masked", model=model, masks=mask, margin=margin, steps=5,
                                           random_state=0)
        changed = np.abs(imgs[..., 0] - one[0].astype(np.float32)) > 0
        allowed = np.stack([binary_dilation(m > 0, iterations=margin) if margin else m > 0 for m in mask])
        assert not (changed & ~allowed).any()
        assert changed[mask > 0].mean() > 0.5  # the region is regenerated
        assert (w[mask > 0] == 1).all() and (w[~allowed] == 0).all()


def test_masked_severity_moves_the_region_further_from_the_image(normals, model):
    one = normals[:1]
    mask = np.zeros((SIDE, SIDE))
    mask[10:20, 10:20] = 1
    change = []
    for s in (0.0, 1.0):
        imgs, _ = generate_image_anomalies(one, 4, "masked", model=model, masks=mask, severity=s, steps=5,
                                           random_state=0)
        change.append(np.abs(imgs[:, 10:20, 10:20, 0] - one[0, 10:20, 10:20]).mean())
    assert change[1] > change[0]


def test_masked_random_mask_shapes_and_model_errors(normals, model):
    for shape in ("blob", "perlin"):
        _, m = generate_image_anomalies(normals, 2, "masked", model=model, masks=shape, steps=3, random_state=0)
        assert (m == 1).any()
    _, m = generate_image_anomalies(normals, 2, "masked", model=model, mask="perlin", steps=3, random_state=0)
    assert (m == 1).any()
    with pytest.raises(ValueError, match="fitted image diffusion model"):
        generate_image_anomalies(normals, 2, "masked")
    with pytest.raises(ValueError, match="shape"):
        generate_image_anomalies(normals, 2, "masked", model=model, masks=np.ones((3, SIDE, SIDE)))
    with pytest.raises(ValueError, match="empty"):
        generate_image_anomalies(normals, 1, "masked", model=model, masks=np.zeros((SIDE, SIDE)))
    with pytest.raises(ValueError, match="mask must be one of"):
        generate_image_anomalies(normals, 1, "masked", model=model, masks="square")
    with pytest.raises(ValueError, match="channel"):
        generate_image_anomalies(np.repeat(normals[..., None], 3, axis=3), 1, "masked", model=model)
    table_net = ImageModel(ResidualMLP(4, 4, width=8, depth=1), NoiseSchedule(n_steps=100))
    with pytest.raises(ValueError, match="table model"):
        generate_image_anomalies(normals, 1, "masked", model=table_net)
    cond = ImageModel(UNet(channels=1, cond_channels=2, width=8, mults=(1, 2)), NoiseSchedule(n_steps=100))
    with pytest.raises(ValueError, match="condition"):
        generate_image_anomalies(normals, 1, "masked", model=cond)


def test_defect_paste_pastes_inside_its_mask_and_keeps_the_defect_dark(normals, real_defects):
    one = normals[:1]
    imgs, masks = generate_image_anomalies(one, 8, "defect-paste", defects=real_defects[0],
                                           defect_masks=real_defects[1], random_state=0)
    changed = np.abs(imgs[..., 0] - one[0].astype(np.float32)) > 0
    assert not (changed & (masks == 0)).any()
    assert imgs[..., 0][masks > 0.9].mean() < 0.25  # the pasted defects stay dark against a ~0.5 surface
    # sizes vary with the scale jitter; defects may come in a list of different sizes
    imgs2, masks2 = generate_image_anomalies(one, 3, "defect-paste", defects=[real_defects[0][0], one[0, :20, :24]],
                                             defect_masks=[real_defects[1][0], np.eye(20, 24)], random_state=0)
    assert imgs2.shape == (3, SIDE, SIDE, 1)


def test_defect_paste_harmonised_by_a_model_changes_only_near_the_defect(normals, model, real_defects):
    one = normals[:1]
    imgs, masks = generate_image_anomalies(one, 4, "defect-paste", model=model, defects=real_defects[0],
                                           defect_masks=real_defects[1], margin=2, steps=3, random_state=0)
    changed = np.abs(imgs[..., 0] - one[0].astype(np.float32)) > 0
    near = np.stack([binary_dilation(m > 0, iterations=2) for m in masks])
    assert not (changed & ~near).any()


def test_defect_paste_needs_real_defects_with_masks(normals, real_defects):
    d, m = real_defects
    with pytest.raises(ValueError, match="k >= 1"):
        generate_image_anomalies(normals, 2, "defect-paste", defects=d[:0], defect_masks=m[:0])
    with pytest.raises(ValueError, match="k >= 1"):
        generate_image_anomalies(normals, 2, "defect-paste")
    with pytest.raises(ValueError, match="defect_masks"):
        generate_image_anomalies(normals, 2, "defect-paste", defects=d)
    with pytest.raises(ValueError, match="shape"):
        generate_image_anomalies(normals, 2, "defect-paste", defects=d, defect_masks=m[:, :16])
    with pytest.raises(ValueError, match="2 defective images but 1 masks"):
        generate_image_anomalies(normals, 2, "defect-paste", defects=d, defect_masks=m[:1])
    with pytest.raises(ValueError, match="empty"):
        generate_image_anomalies(normals, 2, "defect-paste", defects=d, defect_masks=np.zeros_like(m))


def test_generate_anomalies_dispatches_on_rank(normals):
    imgs, masks = generate_anomalies(None, normals, 3, kind="cutpaste", random_state=0)
    assert imgs.shape == (3, SIDE, SIDE, 1) and masks.shape == (3, SIDE, SIDE)
    imgs4, _ = generate_anomalies(None, normals[..., None], 2, kind="perlin", random_state=0)
    assert imgs4.shape == (2, SIDE, SIDE, 1)
    table = np.random.default_rng(0).normal(size=(50, 4))
    rows = generate_anomalies(None, table, 7, kind="dependency", random_state=0)  # tabular, unchanged
    assert isinstance(rows, np.ndarray) and rows.shape == (7, 4)
    with pytest.raises(ValueError, match="fitted diffusion model"):  # the tabular 'masked'
        generate_anomalies(None, table, 3, kind="masked")
    with pytest.raises(ValueError, match="images take"):  # a tabular kind on images
        generate_anomalies(None, normals, 3, kind="local")


def test_image_generation_bad_input(normals):
    for n in (0, -1, 2.5):
        with pytest.raises(ValueError, match="n must be"):
            generate_image_anomalies(normals, n, "perlin")
    bad = normals.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        generate_image_anomalies(bad, 2, "perlin")
    with pytest.raises(ValueError, match="ndim"):
        generate_image_anomalies(normals[0], 2, "cutpaste")
    with pytest.raises(ValueError, match="unknown kind"):
        generate_image_anomalies(normals, 2, "global")
    with pytest.raises(ValueError, match="severity"):
        generate_image_anomalies(normals, 2, "perlin", severity=-1)
    with pytest.raises(ValueError, match="takes no argument"):
        generate_image_anomalies(normals, 2, "cutpaste", level=0.5)
    with pytest.raises(ValueError, match="masks"):
        generate_image_anomalies(normals, 2, "cutpaste", masks="blob")
    with pytest.raises(ValueError, match="lie in"):
        generate_image_anomalies(normals, 2, "perlin", masks=np.full((SIDE, SIDE), 2.0))


def test_conditional_is_the_deprecated_name_of_defect_paste(normals, real_defects):
    one = normals[:4]
    new = generate_image_anomalies(one, 3, "defect-paste", defects=real_defects[0], defect_masks=real_defects[1],
                                   random_state=0)
    with pytest.warns(FutureWarning, match="now called 'defect-paste'"):
        old = generate_image_anomalies(one, 3, "conditional", defects=real_defects[0], defect_masks=real_defects[1],
                                       random_state=0)
    np.testing.assert_array_equal(old[0], new[0])
    np.testing.assert_array_equal(old[1], new[1])
