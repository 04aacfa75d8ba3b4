"""The sps-genai app's diffusion UNet: predicts the noise in x given the noise variance.

forward(x (B, 3, 32, 32), noise_variance (B, 1, 1, 1)) -> predicted noise (B, 3, 32, 32).

Dropped from the seed: `embedding_proj` (a 1x1 conv defined but never called) and each ResidualBlock's
`BatchNorm2d(affine=False)` (declared but never applied); neither touches the forward pass, so removing them
changes no output. Load a seed state_dict with those keys filtered out (strict=False is not needed then).

Export-friendly: no Python branching on the batch size; the embedding is upsampled to the fixed `image_size`
and up-blocks use `scale_factor=2`, so torch.onnx.export(dynamo=True) works with a dynamic batch axis.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F


class SinusoidalEmbedding(nn.Module):
    """noise variance (B, 1, 1, 1) -> (B, 2 * num_frequencies, 1, 1): concat[sin, cos] of 2*pi*f*v."""

    def __init__(self, num_frequencies: int = 16, min_frequency: float = 1.0, max_frequency: float = 1000.0):
        super().__init__()
        frequencies = torch.exp(torch.linspace(math.log(min_frequency), math.log(max_frequency), num_frequencies))
        self.register_buffer("angular_speeds", (2.0 * math.pi * frequencies).view(1, -1, 1, 1), persistent=False)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        angles = v * self.angular_speeds  # (B, 1, 1, 1) * (1, F, 1, 1) -> (B, F, 1, 1)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class ResidualBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.proj = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)

    def forward(self, x):
        residual = self.proj(x)
        return self.conv2(F.silu(self.conv1(x))) + residual


class DownBlock(nn.Module):
    def __init__(self, in_ch: int, width: int, block_depth: int):
        super().__init__()
        self.blocks = nn.ModuleList(
            [ResidualBlock(in_ch if i == 0 else width, width) for i in range(block_depth)])
        self.pool = nn.AvgPool2d(2)

    def forward(self, x, skips: list):
        for block in self.blocks:
            x = block(x)
            skips.append(x)
        return self.pool(x)


class UpBlock(nn.Module):
    def __init__(self, in_ch: int, skip_chs: list, width: int):
        super().__init__()
        blocks, ch = [], in_ch
        for skip_ch in skip_chs:  # in pop order
            blocks.append(ResidualBlock(ch + skip_ch, width))
            ch = width
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x, skips: list):
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        for block in self.blocks:
            x = block(torch.cat([x, skips.pop()], dim=1))
        return x


class UNet(nn.Module):
    def __init__(self, image_size: int = 32, num_channels: int = 3, embedding_dim: int = 32,
                 widths=(32, 64, 96), mid_width: int = 128, block_depth: int = 2):
        super().__init__()
        widths = list(widths)
        self.image_size = image_size
        self.embedding = SinusoidalEmbedding(embedding_dim // 2)
        self.initial = nn.Conv2d(num_channels, widths[0], 1)
        ch = widths[0] + embedding_dim
        self.down = nn.ModuleList()
        skip_chs = []
        for w in widths:
            self.down.append(DownBlock(ch, w, block_depth))
            skip_chs += [w] * block_depth
            ch = w
        self.mid = nn.ModuleList([ResidualBlock(ch, mid_width)]
                                 + [ResidualBlock(mid_width, mid_width) for _ in range(block_depth - 1)])
        ch = mid_width
        self.up = nn.ModuleList()
        for w in reversed(widths):
            popped = [skip_chs.pop() for _ in range(block_depth)]
            self.up.append(UpBlock(ch, popped, w))
            ch = w
        self.final = nn.Conv2d(ch, num_channels, 1)
        nn.init.zeros_(self.final.weight)  # bias keeps its default init, as in the seed

    def forward(self, x: torch.Tensor, noise_variance: torch.Tensor) -> torch.Tensor:
        e = F.interpolate(self.embedding(noise_variance), size=(self.image_size, self.image_size), mode="nearest")
        x = torch.cat([self.initial(x), e], dim=1)
        skips: list = []
        for block in self.down:
            x = block(x, skips)
        for block in self.mid:
            x = block(x)
        for block in self.up:
            x = block(x, skips)
        return self.final(x)
