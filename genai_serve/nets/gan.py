"""The sps-genai app's MNIST DCGAN: generator 765,889 params, discriminator 138,817."""
from torch import nn


class GANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100):
        super().__init__()
        self.latent_dim = latent_dim
        self.fc = nn.Linear(latent_dim, 128 * 7 * 7)
        self.deconv1 = nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1)  # -> 64 x 14 x 14
        self.bn1 = nn.BatchNorm2d(64)
        self.deconv2 = nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1)  # -> 1 x 28 x 28
        self.relu = nn.ReLU()
        self.tanh = nn.Tanh()

    def forward(self, z):  # z: (B, latent) -> (B, 1, 28, 28) in [-1, 1]
        x = self.fc(z).view(-1, 128, 7, 7)
        x = self.relu(self.bn1(self.deconv1(x)))
        return self.tanh(self.deconv2(x))


class GANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 4, stride=2, padding=1)  # -> 64 x 14 x 14
        self.conv2 = nn.Conv2d(64, 128, 4, stride=2, padding=1)  # -> 128 x 7 x 7
        self.bn2 = nn.BatchNorm2d(128)
        self.act = nn.LeakyReLU(0.2)
        self.fc = nn.Linear(128 * 7 * 7, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):  # x: (B, 1, 28, 28) -> probability real (B, 1)
        x = self.act(self.conv1(x))
        x = self.act(self.bn2(self.conv2(x)))
        return self.sigmoid(self.fc(x.flatten(1)))
