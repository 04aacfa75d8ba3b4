"""Network definitions (torch). Imported by training and export; ONNX handlers never import torch."""
from genai_serve.nets.cnn import CNN_A2
from genai_serve.nets.ebm import EnergyModel
from genai_serve.nets.gan import GANDiscriminator, GANGenerator
from genai_serve.nets.lstm import TinyLSTMLM
from genai_serve.nets.unet import UNet

NETS = {
    "cnn_a2": CNN_A2,
    "gan_generator": GANGenerator,
    "gan_discriminator": GANDiscriminator,
    "ebm_energy": EnergyModel,
    "diffusion_unet": UNet,
    "tiny_lstm_lm": TinyLSTMLM,
}


def build(name: str, **kwargs):
    if name not in NETS:
        raise KeyError(f"unknown net {name!r}; known: {sorted(NETS)}")
    return NETS[name](**kwargs)
