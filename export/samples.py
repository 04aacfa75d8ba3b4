"""Real inputs for the export gates, named by the registry (`export.real_inputs`).

Each takes the checkpoint (a normaliser may live in it) and returns {graph input name: batch}: what
serving really feeds the graph, so the gate checks the numbers users get."""
import numpy as np
from PIL import Image

from genai_serve.imaging import cnn_input


def _cifar_test(n: int) -> np.ndarray:
    """n held-out images, uint8 (n, 32, 32, 3)."""
    from training.data import load_cifar10

    images, _, _ = load_cifar10("test", offline_n=n)
    return images[:n]


def cifar_test_batch(ckpt=None, n: int = 16) -> dict:
    """n held-out images through the serving preprocessing: what the CNN's ONNX graph really sees."""
    return {"input": np.stack([cnn_input(Image.fromarray(img)) for img in _cifar_test(n)])}


def latent_batch(ckpt=None, n: int = 16, latent_dim: int = 100) -> dict:
    """The GAN's real input is N(0, 1) noise, as the handler draws it."""
    return {"input": np.random.default_rng(1).standard_normal((n, latent_dim), dtype=np.float32)}


def ebm_batch(ckpt=None, n: int = 16) -> dict:
    """Held-out images in [-1, 1] (what Langevin converges towards) and uniform noise (where it starts)."""
    real = _cifar_test(n).transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0
    start = np.random.default_rng(1).uniform(-1, 1, real.shape).astype(np.float32)
    return {"real_images": real, "uniform_start": start}


def diffusion_batch(ckpt, n: int = 16) -> dict:
    """Normalised held-out images noised at t spread over [0, 1] on the offset-cosine schedule, as the
    reverse loop feeds the UNet: x = signal * image + noise * eps, noise_variance = noise^2."""
    from genai_serve.sampling.diffusion import offset_cosine_schedule

    norm = ckpt["extra"]["normalizer"]
    mean = np.asarray(norm["mean"], np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(norm["std"], np.float32).reshape(1, 3, 1, 1)
    images = (_cifar_test(n).transpose(0, 3, 1, 2).astype(np.float32) / 255.0 - mean) / std
    t = np.linspace(0.0, 1.0, n, dtype=np.float32).reshape(n, 1, 1, 1)
    noise_rates, signal_rates = offset_cosine_schedule(t)
    eps = np.random.default_rng(1).standard_normal(images.shape, dtype=np.float32)
    return {"x": (signal_rates * images + noise_rates * eps).astype(np.float32),
            "noise_variance": (noise_rates ** 2).astype(np.float32)}



def lstm_states(ckpt, n_texts: int = 8, max_len: int = 40, every: int = 4) -> dict:
    """The LSTM step's real inputs: (token, h, c) as serving meets them, i.e. the states reached by reading
    held-out texts from <s> with a zero state, taken every `every` tokens."""
    from export.text import gate_texts
    from genai_serve.nets import build
    from genai_serve.nets.lstm import numpy_step
    from genai_serve.text.tokenize import Vocab

    net = build(ckpt["config"]["net"], **ckpt["config"]["kwargs"])
    net.load_state_dict(ckpt["state_dict"])
    step, vocab = numpy_step(net.eval()), Vocab(ckpt["extra"]["vocab"])
    tokens, hs, cs = [], [], []
    for toks in gate_texts(ckpt)[:n_texts]:
        h = c = np.zeros((1, 1, net.hidden_size), np.float32)
        for t, tok in enumerate(vocab.encode_text(toks)[:max_len]):
            if t % every == 0:
                tokens.append([tok]), hs.append(h), cs.append(c)
            _, h, c = step(np.array([[tok]], np.int64), h, c)
    return {"tokens": np.array(tokens, np.int64), "h": np.concatenate(hs, axis=1), "c": np.concatenate(cs, axis=1)}
