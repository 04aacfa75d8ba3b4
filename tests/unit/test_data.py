"""training/data.py: offline stand-ins are deterministic, well-formed and honest; real data is never faked."""
import numpy as np
import pytest
from PIL import Image

from genai_serve.imaging import CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, cnn_input
from training.data import (
    DatasetNotFoundError, cnn_batches, cnn_eval_transform, cnn_train_transform, load_cifar10, load_mnist,
    procedural_cifar10,
)


@pytest.fixture(scope="module")
def small_sets():
    return load_cifar10("train", offline_n=400, seed=3), load_cifar10("test", offline_n=200, seed=3)


def test_procedural_set_shapes_dtypes_info(small_sets):
    (x, y, info), (xt, yt, info_t) = small_sets
    assert x.shape == (400, 32, 32, 3) and x.dtype == np.uint8
    assert y.shape == (400,) and y.dtype == np.int64
    assert xt.shape == (200, 32, 32, 3)
    assert info["real"] is False and "NOT CIFAR-10" in info["source"]
    assert info["split"] == "train" and info["n"] == 400 and info["seed"] == 3
    assert info["classes"] == list(CIFAR10_CLASSES)
    assert x.min() < 30 and x.max() > 225  # uses the full colour range, not a washed-out band


def test_procedural_set_all_classes_balanced(small_sets):
    (_, y, _), (_, yt, _) = small_sets
    assert np.bincount(y, minlength=10).tolist() == [40] * 10
    assert np.bincount(yt, minlength=10).tolist() == [20] * 10


def test_procedural_set_is_deterministic_per_seed():
    a, la = procedural_cifar10(30, seed=7)
    b, lb = procedural_cifar10(30, seed=7)
    c, _ = procedural_cifar10(30, seed=8)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, c)


def test_train_and_test_splits_differ(small_sets):
    (x, _, _), (xt, _, _) = small_sets
    train_rows = {img.tobytes() for img in x}
    assert not any(img.tobytes() in train_rows for img in xt)


def _colour_features(x: np.ndarray) -> np.ndarray:
    """Per image: mean RGB and the mean RGB of the 15% of pixels farthest from the median colour
    (a rough foreground colour), (N, 6) floats."""
    px = x.reshape(len(x), -1, 3).astype(np.float32)
    dist = np.linalg.norm(px - np.median(px, axis=1, keepdims=True), axis=2)
    far = dist >= np.quantile(dist, 0.85, axis=1, keepdims=True)
    fg = (px * far[..., None]).sum(1) / far.sum(1, keepdims=True)
    return np.concatenate([px.mean(1), fg], axis=1)


def test_class_is_not_decidable_from_colour():
    """Nearest class-centroid on background and foreground colour stays near chance: the label is the shape."""
    x, y, _ = load_cifar10("train", offline_n=1000, seed=0)
    xt, yt, _ = load_cifar10("test", offline_n=500, seed=0)
    f, ft = _colour_features(x), _colour_features(xt)
    centroids = np.stack([f[y == c].mean(0) for c in range(10)])
    pred = np.argmin(((ft[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (pred == yt).mean() < 0.2


def test_digits_fallback_range_and_shape():
    x, y, info = load_mnist("train")
    xt, yt, _ = load_mnist("test")
    assert x.shape[1:] == (1, 28, 28) and x.dtype == np.float32
    assert len(x) + len(xt) == 1797 and len(xt) == 299
    assert x.min() >= -1.0 and x.max() <= 1.0 and x.min() == -1.0 and x.max() > 0.9
    assert (x[:, :, :4, :] == -1).all() and (x[:, :, -4:, :] == -1).all()  # MNIST-like 4 px border
    assert set(np.unique(y)) == set(range(10))
    assert info["real"] is False and "load_digits" in info["source"]
    sub, _, _ = load_mnist("train", offline_n=50, seed=1)
    assert sub.shape == (50, 1, 28, 28)


@pytest.mark.parametrize("loader", [load_cifar10, load_mnist])
def test_real_data_missing_raises_clear_error(loader, tmp_path):
    with pytest.raises(DatasetNotFoundError, match="--download"):
        loader("train", data_dir=tmp_path)
    assert isinstance(DatasetNotFoundError("x"), FileNotFoundError)


def test_bad_split_rejected():
    with pytest.raises(ValueError, match="split"):
        load_cifar10("validation")


def test_cnn_eval_transform_is_the_serving_preprocessing(small_sets):
    (x, y, _), _ = small_sets
    for img in x[:5]:
        assert np.array_equal(cnn_eval_transform(img), cnn_input(Image.fromarray(img)))
    xb, yb = next(cnn_batches(x, y, 8, train=False))
    assert xb.shape == (8, 3, 64, 64) and yb.tolist() == y[:8].tolist()
    assert np.array_equal(xb[3].numpy(), cnn_input(Image.fromarray(x[3])))


def test_cnn_train_transform_is_flip_plus_padded_crop(small_sets):
    (x, y, _), _ = small_sets
    base = cnn_eval_transform(x[0])
    black = -np.asarray(CIFAR10_MEAN, np.float32) / np.asarray(CIFAR10_STD, np.float32)
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(40):
        out = cnn_train_transform(x[0], rng)
        assert out.shape == (3, 64, 64) and out.dtype == np.float32
        # every output is a shifted window of the (possibly flipped) image padded with normalised black
        for cand, flipped in ((base, False), (base[:, :, ::-1], True)):
            padded = np.broadcast_to(black[:, None, None], (3, 72, 72)).copy()
            padded[:, 4:68, 4:68] = cand
            hits = [(dy, dx) for dy in range(9) for dx in range(9)
                    if np.array_equal(padded[:, dy : dy + 64, dx : dx + 64], out)]
            if hits:
                seen.add((flipped, hits[0]))
                break
        else:
            pytest.fail("augmented image is not a flip + pad-4 crop of the eval image")
    assert {f for f, _ in seen} == {True, False} and len(seen) > 10  # both flips, many offsets


def test_cnn_batches_shuffle_when_training(small_sets):
    (x, y, _), _ = small_sets
    batches = list(cnn_batches(x[:100], y[:100], 32, train=True, rng=np.random.default_rng(0)))
    assert [len(b[1]) for b in batches] == [32, 32, 32, 4]
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(labels.tolist()) == sorted(y[:100].tolist()) and labels.tolist() != y[:100].tolist()
