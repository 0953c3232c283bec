"""PyTorch as an oracle for whole models: torchfcn's FCNs, rebuilt in torch with torchfcn's layer
names and its *typed-in* crop offsets, hold our weights (their state dict loads into ours as is)
and must give the same scores and gradients in float64. Skipped without torch."""
import numpy as np
import pytest

from minifcn.models import FCN8s, FCN8sAtOnce, FCN16s, FCN32s

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
tnn, tF = torch.nn, torch.nn.functional



@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # These nets are tiny: torch's thread pool only adds overhead (20× on a busy 2-core box).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


BLOCKS = ((1, 2, 1), (2, 2, 2), (3, 3, 4), (4, 3, 8), (5, 3, 8))


class TorchFCN(tnn.Module):
    """torchfcn's FCN32s/FCN16s/FCN8s/FCN8sAtOnce (eval mode: dropout is the identity)."""

    def __init__(self, variant, n_class, base, fc):
        super().__init__()
        self.variant = variant
        c_in = 3
        for b, n, width in BLOCKS:
            for i in range(1, n + 1):
                pad = 100 if (b, i) == (1, 1) else 1
                setattr(self, f"conv{b}_{i}", tnn.Conv2d(c_in, width * base, 3, padding=pad))
                c_in = width * base
        self.fc6 = tnn.Conv2d(8 * base, fc, 7)
        self.fc7 = tnn.Conv2d(fc, fc, 1)
        self.score_fr = tnn.Conv2d(fc, n_class, 1)
        up = lambda k, s: tnn.ConvTranspose2d(n_class, n_class, k, stride=s, bias=False)  # noqa
        if variant == "32s":
            self.upscore = up(64, 32)
        if variant in ("16s", "8s", "8s-atonce"):
            self.score_pool4 = tnn.Conv2d(8 * base, n_class, 1)
            self.upscore2 = up(4, 2)
        if variant == "16s":
            self.upscore16 = up(32, 16)
        if variant in ("8s", "8s-atonce"):
            self.score_pool3 = tnn.Conv2d(4 * base, n_class, 1)
            self.upscore_pool4 = up(4, 2)
            self.upscore8 = up(16, 8)

    def forward(self, x):
        h, pools = x, {}
        for b, n, _ in BLOCKS:
            for i in range(1, n + 1):
                h = tF.relu(getattr(self, f"conv{b}_{i}")(h))
            h = pools[b] = tF.max_pool2d(h, 2, stride=2, ceil_mode=True)
        h = self.score_fr(tF.relu(self.fc7(tF.relu(self.fc6(h)))))
        H, W = x.shape[2:]
        if self.variant == "32s":
            return self.upscore(h)[:, :, 19:19 + H, 19:19 + W]
        upscore2 = self.upscore2(h)
        scale4, scale3 = (0.01, 0.0001) if self.variant == "8s-atonce" else (1, 1)
        h = self.score_pool4(pools[4] * scale4)
        h = upscore2 + h[:, :, 5:5 + upscore2.shape[2], 5:5 + upscore2.shape[3]]
        if self.variant == "16s":
            return self.upscore16(h)[:, :, 27:27 + H, 27:27 + W]
        upscore_pool4 = self.upscore_pool4(h)
        h = self.score_pool3(pools[3] * scale3)
        h = upscore_pool4 + h[:, :, 9:9 + upscore_pool4.shape[2], 9:9 + upscore_pool4.shape[3]]
        return self.upscore8(h)[:, :, 31:31 + H, 31:31 + W]


@pytest.mark.parametrize("cls,variant", [(FCN32s, "32s"), (FCN16s, "16s"), (FCN8s, "8s"),
                                         (FCN8sAtOnce, "8s-atonce")])
def test_forward_and_gradients_match_torchfcn(cls, variant):
    n_class, base, fc = 3, 2, 4
    torch.manual_seed(0)
    ref = TorchFCN(variant, n_class, base, fc).double().eval()
    with torch.no_grad():                       # every parameter random, the deconvs included
        for p in ref.parameters():
            p.copy_(0.3 * torch.randn_like(p))
    # random deconvolutions that learn, so that their weight gradients are compared too
    model = cls(n_class, base, fc).to(dtype=np.float64).eval().set_learn_upsampling(True)
    # torchfcn's state dict, converted to NumPy, loads into ours as it is (strict).
    model.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()}, strict=True)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 11, 14))
    tx = torch.tensor(x, requires_grad=True)
    tscore = ref(tx)
    score = model(x)
    assert score.shape == (2, n_class, 11, 14)
    np.testing.assert_allclose(score, tscore.detach().numpy(), rtol=1e-10, atol=1e-10)

    dscore = rng.standard_normal(score.shape)
    tscore.backward(torch.tensor(dscore))
    dx = model.backward(dscore)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    theirs = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, theirs[name].grad.numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=name)
