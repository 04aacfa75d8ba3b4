"""Real inputs for the parity gate, named by the registry (`export.real_inputs`)."""
import numpy as np
from PIL import Image

from genai_serve.imaging import cnn_input


def cifar_test_batch(n: int = 16) -> np.ndarray:
    """n held-out images through the serving preprocessing: what the ONNX graph really sees."""
    from training.data import load_cifar10

    images, _, _ = load_cifar10("test", offline_n=n)
    return np.stack([cnn_input(Image.fromarray(img)) for img in images[:n]])


def latent_batch(n: int = 16, latent_dim: int = 100) -> np.ndarray:
    """The GAN's real input is N(0, 1) noise, as the handler draws it."""
    return np.random.default_rng(1).standard_normal((n, latent_dim), dtype=np.float32)
