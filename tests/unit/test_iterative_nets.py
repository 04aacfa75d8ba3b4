"""The iterative samplers' per-step networks: EnergyModel and the diffusion UNet."""
import numpy as np
import onnxruntime as ort
import pytest
import torch

from genai_serve.nets import NETS, build
from genai_serve.nets.ebm import EnergyModel
from genai_serve.nets.unet import UNet

UNET_PARAMS = 1_950_627  # the seed's 1,951,683 minus the unused embedding_proj (1x1 conv 32->32: 1,056)


def n_params(net):
    return sum(p.numel() for p in net.parameters())


def test_registered_in_nets():
    assert NETS["ebm_energy"] is EnergyModel and NETS["diffusion_unet"] is UNet
    assert isinstance(build("diffusion_unet", image_size=32), UNet)


def test_energy_model_params_keys_and_shape():
    torch.manual_seed(0)
    net = EnergyModel()
    assert n_params(net) == 77_793
    assert sorted({k.split(".")[0] for k in net.state_dict()}) == ["conv1", "conv2", "conv3", "conv4", "fc1", "fc2"]
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    e = net.energy(x)
    assert e.shape == (4,) and torch.equal(net(x), e)


def test_unet_params_and_no_dead_parts():
    net = UNet()
    assert n_params(net) == UNET_PARAMS
    keys = list(net.state_dict())
    assert not any("embedding_proj" in k or "running_mean" in k or "num_batches_tracked" in k for k in keys)


def test_unet_shape_and_zero_initialised_final_layer():
    torch.manual_seed(0)
    net = UNet().eval()
    assert torch.count_nonzero(net.final.weight) == 0
    x, v = torch.randn(3, 3, 32, 32), torch.rand(3, 1, 1, 1)
    with torch.no_grad():
        out = net(x, v)
    assert out.shape == (3, 3, 32, 32)
    # with zero final weights the prediction is the final bias broadcast, whatever the input
    torch.testing.assert_close(out, net.final.bias.view(1, 3, 1, 1).expand(3, 3, 32, 32), rtol=0, atol=0)


def test_unet_output_depends_on_the_noise_variance():
    torch.manual_seed(0)
    net = UNet().eval()
    torch.nn.init.normal_(net.final.weight, std=0.1)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        a, b = net(x, torch.full((1, 1, 1, 1), 0.1)), net(x, torch.full((1, 1, 1, 1), 0.9))
    assert not torch.allclose(a, b)


def test_unet_onnx_export_dynamic_batch_matches_torch(tmp_path):
    from torch.export import Dim

    torch.manual_seed(0)
    net = UNet().eval()
    torch.nn.init.normal_(net.final.weight, std=0.1)  # else the output is just the bias
    path = tmp_path / "unet.onnx"
    x, v = torch.randn(2, 3, 32, 32), torch.rand(2, 1, 1, 1)
    batch = Dim("batch")
    torch.onnx.export(net, (x, v), str(path), dynamo=True, external_data=False,
                      dynamic_shapes=({0: batch}, {0: batch}))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    assert len(names) == 2
    rng = np.random.default_rng(0)
    outs = {}
    for n in (1, 5):
        xs = rng.standard_normal((n, 3, 32, 32)).astype(np.float32)
        vs = rng.uniform(0, 1, (n, 1, 1, 1)).astype(np.float32)
        got = sess.run(None, {names[0]: xs, names[1]: vs})[0]
        with torch.no_grad():
            want = net(torch.from_numpy(xs), torch.from_numpy(vs)).numpy()
        assert got.shape == (n, 3, 32, 32)
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
        outs[n] = (xs, vs, got)
    # batch invariance on ORT CPU (a seed gives the same output alone or batched): the first row of the batch of 5 alone
    xs, vs, got = outs[5]
    alone = sess.run(None, {names[0]: xs[:1], names[1]: vs[:1]})[0]
    np.testing.assert_array_equal(alone, got[:1])
