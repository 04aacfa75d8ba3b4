"""CNN_A2: the sps-genai app's CIFAR-10 classifier on 64x64 input. 825,398 parameters."""
from torch import nn


class CNN_A2(nn.Module):
    def __init__(self, num_classes: int = 10, image_size: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1)   # -> 16 x 64 x 64, pooled to 32 x 32
        self.conv2 = nn.Conv2d(16, 32, 3, stride=1, padding=1)  # -> 32 x 32 x 32, pooled to 16 x 16
        self.pool = nn.MaxPool2d(2, 2)
        self.relu = nn.ReLU()
        flat = 32 * (image_size // 4) ** 2  # 8192 at 64x64
        self.fc1 = nn.Linear(flat, 100)
        self.fc2 = nn.Linear(100, num_classes)

    def forward(self, x):  # x: (B, 3, 64, 64) normalised -> logits (B, 10)
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.flatten(1)
        return self.fc2(self.relu(self.fc1(x)))
