"""The sps-genai app's CIFAR-10 energy model: 77,793 params, lower energy = more real.

Input (B, 3, 32, 32) in [-1, 1]; spatial size 32 -> 16 -> 8 -> 4 -> 2; swish after every layer but the last.
Layer names conv1..conv4, fc1, fc2 match the sps-genai app's state_dict keys.
"""
import torch
from torch import nn
from torch.nn import functional as F


class EnergyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 5, stride=2, padding=2)   # -> 16 x 16 x 16
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)  # -> 32 x 8 x 8
        self.conv3 = nn.Conv2d(32, 64, 3, stride=2, padding=1)  # -> 64 x 4 x 4
        self.conv4 = nn.Conv2d(64, 64, 3, stride=2, padding=1)  # -> 64 x 2 x 2
        self.fc1 = nn.Linear(256, 64)
        self.fc2 = nn.Linear(64, 1)

    def energy(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 32, 32) -> (B,)
        x = F.silu(self.conv1(x))  # swish = x * sigmoid(x)
        x = F.silu(self.conv2(x))
        x = F.silu(self.conv3(x))
        x = F.silu(self.conv4(x))
        x = F.silu(self.fc1(x.flatten(1)))
        return self.fc2(x).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy(x)
