"""Samplers checked against golden values from dummy networks (as diffusers tests its schedulers): each step
function run in a plain loop, as training and the benchmarks run it. Sharing a step between requests (joined
mid-loop, per-request seeds) is serving's engine's, tested with the handlers (test_iterative_handlers.py)."""
import math

import numpy as np
import pytest
import torch

from genai_serve.sampling import denormalize, langevin_step, offset_cosine_schedule, reverse_step

# --------------------------------------------------------------------------- diffusion schedule


def test_offset_cosine_schedule_endpoints_and_unit_norm():
    noise, signal = offset_cosine_schedule(np.array([0.0, 1.0]))
    assert signal[0] == pytest.approx(0.95, abs=1e-12) and signal[1] == pytest.approx(0.02, abs=1e-12)
    t = np.linspace(0, 1, 11, dtype=np.float32)
    noise, signal = offset_cosine_schedule(t)
    assert noise.dtype == np.float32 and signal.dtype == np.float32
    np.testing.assert_allclose(signal ** 2 + noise ** 2, 1.0, atol=1e-6)
    assert np.all(np.diff(signal) < 0)  # signal falls as t goes 0 -> 1
    # the middle is the middle angle
    mid = (math.acos(0.95) + math.acos(0.02)) / 2
    n, s = offset_cosine_schedule(0.5)
    assert float(s) == pytest.approx(math.cos(mid)) and float(n) == pytest.approx(math.sin(mid))


# --------------------------------------------------------------------------- reverse diffusion


def _reference_loop(x0: float, steps: int, k: float = 0.1) -> float:
    """The seed's loop for one scalar, float64, with pred_noise = k * x; written independently of the module."""
    a0, a1 = math.acos(0.95), math.acos(0.02)
    rates = lambda t: (math.sin(a0 + t * (a1 - a0)), math.cos(a0 + t * (a1 - a0)))  # noqa: E731
    x, pred_img = x0, None
    for step in range(steps):
        t = 1 - step / steps
        n, s = rates(t)
        pred_noise = k * x
        pred_img = (x - n * pred_noise) / s
        nn_, ns = rates(t - 1 / steps)
        x = ns * pred_img + nn_ * pred_noise
    return pred_img


def reverse_diffusion(predict, x, steps):
    """The plain loop over reverse_step (training, benchmarks and the seed-app reproduction write it so)."""
    for step in range(steps):
        x, images = reverse_step(predict, x, step, steps)
    return images


def test_reverse_diffusion_golden_three_steps():
    x0 = np.array([1.0, -0.5, 0.25, 2.0], np.float32).reshape(1, 1, 2, 2)
    seen = []

    def predict(x, v):
        seen.append(v.copy())
        return 0.1 * x

    out = reverse_diffusion(predict, x0, 3)
    assert out.dtype == np.float32 and out.shape == x0.shape
    expected = np.array([_reference_loop(float(v), 3) for v in x0.ravel()]).reshape(x0.shape)
    # float32 loses ~4e-6 relative against float64 here (dividing by signal 0.02 at t = 1 amplifies rounding)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    # hard-coded golden for x0 = 1 (float64 value of _reference_loop(1.0, 3); the loop is linear in x)
    assert out[0, 0, 0, 0] == pytest.approx(39.94691932234796, rel=1e-5)
    # the network saw the noise variance at t = 1, 2/3, 1/3
    a0, a1 = math.acos(0.95), math.acos(0.02)
    for v, t in zip(seen, (1.0, 2 / 3, 1 / 3)):
        assert v.shape == (1, 1, 1, 1) and v.dtype == np.float32
        assert v.item() == pytest.approx(math.sin(a0 + t * (a1 - a0)) ** 2, rel=1e-6)


def test_reverse_diffusion_one_step_is_the_plain_denoise():
    x0 = np.full((2, 3, 4, 4), 0.7, np.float32)
    out = reverse_diffusion(lambda x, v: np.zeros_like(x), x0, 1)
    # t = 1: signal 0.02 (cos(acos(0.02)) in float32 is 0.01999991, as in the seed's float32 torch)
    np.testing.assert_allclose(out, 0.7 / 0.02, rtol=1e-5)


def _nonlinear_predict(calls):
    def predict(x, v):
        calls.append(x.shape[0])
        return np.tanh(x) * np.sqrt(v) + 0.05  # elementwise: no row mixing
    return predict


def test_a_step_takes_rows_at_different_iterations_of_different_counts_in_one_call():
    """What lets serving's engine share a UNet call between requests: each row follows its own t grid."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    calls = []
    # row 0: its 2nd of 2 steps; row 1: its 1st of 5
    a_before, _ = reverse_step(_nonlinear_predict([]), x0[:1], 0, 2)
    both, images = reverse_step(_nonlinear_predict(calls), np.concatenate([a_before, x0[1:]]),
                                np.array([1, 0]), np.array([2, 5]))
    assert calls == [2]  # one network call for both
    _, alone_a = reverse_step(_nonlinear_predict([]), a_before, 1, 2)
    alone_b, _ = reverse_step(_nonlinear_predict([]), x0[1:], 0, 5)
    np.testing.assert_array_equal(images[:1], alone_a)  # bitwise
    np.testing.assert_array_equal(both[1:], alone_b)
    np.testing.assert_array_equal(images[:1], reverse_diffusion(_nonlinear_predict([]), x0[:1], 2))


def test_denormalize_per_channel_and_clipped():
    x = np.array([[[[0.0]], [[1.0]], [[-10.0]]]], np.float32)  # (1, 3, 1, 1)
    out = denormalize(x, mean=[0.5, 0.4, 0.3], std=[0.2, 0.3, 0.25])
    np.testing.assert_allclose(out.ravel(), [0.5, 0.7, 0.0], rtol=1e-6)
    assert denormalize(np.array([[[[5.0]]]]), 0.5, 0.5).item() == 1.0


# --------------------------------------------------------------------------- Langevin


def quadratic(x):  # E = 0.5 * sum(x^2) per row: dE/dx = x
    return 0.5 * (x ** 2).flatten(1).sum(1)


def langevin(energy, x, steps, step_size, noise, grad_clamp=0.03, eps=None):
    """The plain loop over langevin_step; eps(step) gives each step's N(0, 1) draw (zeros when noise is 0)."""
    with torch.no_grad():
        for step in range(steps):
            x = langevin_step(energy, x, torch.zeros_like(x) if eps is None else eps(step), step_size, noise,
                              grad_clamp)
    return x


def test_langevin_quadratic_golden_with_gradient_clamp():
    x = torch.tensor([0.5, 0.01, -0.02, -0.95]).view(4, 1, 1, 1)
    out = langevin(quadratic, x, steps=3, step_size=10.0, noise=0.0)
    # by hand, g = clamp(x, -0.03, 0.03), x <- x - 10 g:
    #  0.5  -> 0.2  -> -0.1  -> 0.2
    #  0.01 -> -0.09 -> 0.21 -> -0.09
    # -0.02 -> 0.18 -> -0.12 -> 0.18
    # -0.95 -> -0.65 -> -0.35 -> -0.05
    torch.testing.assert_close(out.view(-1), torch.tensor([0.2, -0.09, 0.18, -0.05]), atol=1e-6, rtol=0)
    assert not out.requires_grad and x.view(-1)[0] == 0.5  # input untouched


def test_langevin_clamps_to_the_unit_box_after_noise_and_after_the_step():
    down_hill = lambda x: -x.flatten(1).sum(1)  # noqa: E731  dE/dx = -1 -> clamped to -0.03: x rises 0.03*step_size
    x = torch.tensor([0.9, -1.0]).view(2, 1, 1, 1)
    out = langevin(down_hill, x, steps=1, step_size=10.0, noise=0.0)
    torch.testing.assert_close(out.view(-1), torch.tensor([1.0, -0.7]))  # 1.2 clamped to 1
    # noise: x + 0.5 * 1 = 1.3 -> 1 before the gradient step, so the step starts from 1 (E = sum x^2/2: g=0.03)
    out = langevin(quadratic, torch.tensor([0.8]).view(1, 1, 1, 1), steps=1, step_size=1.0, noise=0.5,
                   eps=lambda step: torch.ones(1, 1, 1, 1))
    assert out.item() == pytest.approx(1.0 - 0.03)
    # grad_clamp is a knob
    out = langevin(quadratic, torch.tensor([0.5]).view(1, 1, 1, 1), steps=1, step_size=1.0, noise=0.0,
                   grad_clamp=0.1)
    assert out.item() == pytest.approx(0.4)


def test_langevin_step_takes_per_row_settings_and_leaves_the_weights_alone():
    from genai_serve.nets.ebm import EnergyModel

    torch.manual_seed(0)
    net = EnergyModel().eval()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    per_row = lambda *v: torch.tensor(v).view(-1, 1, 1, 1)  # noqa: E731
    with torch.no_grad():
        both = langevin_step(net.energy, x, eps, per_row(10.0, 5.0, 5.0), per_row(0.01, 0.02, 0.02))
        first = langevin_step(net.energy, x[:1], eps[:1], 10.0, 0.01)
        rest = langevin_step(net.energy, x[1:], eps[1:], 5.0, 0.02)
    torch.testing.assert_close(both, torch.cat([first, rest]), atol=1e-5, rtol=0)
    assert all(p.grad is None for p in net.parameters())  # no parameter gradients accumulated


def test_langevin_refuses_inference_mode_with_a_clear_message():
    with torch.inference_mode(), pytest.raises(RuntimeError, match="no_grad"):
        langevin_step(quadratic, torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1), 1.0, 0.0)
