"""Speed of the 2D step of the `reproduce-2d` suite, beside a plain hand-written step.

    pytest benchmarks/test_step_speed_2d.py --benchmark-only

ganzoo's `step.train_step` on PacGAN's networks (`pacgan-mlp`, batch 100) at pack 1, 2
and 4, alternating (Goodfellow et al.) and simultaneous (PacGAN's code), and with 5 unrolled
D steps, and the same networks trained by the few lines of
PyTorch anyone would write (Adam as PyTorch builds it by default, one D step on
BCE-with-logits, one G step): their ratio is what the harness costs or saves.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.core.config import TrainConfig
from ganzoo.training.players import build_training
from ganzoo.training.resolve import resolve
from ganzoo.training.step import train_step
from ganzoo.zoo.datasets.toy2d import ring_pacgan

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
BATCH = 100


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


@pytest.mark.parametrize(
    "pack,unroll,update",
    [
        (1, 0, "alternating"),
        (1, 0, "simultaneous"),
        (2, 0, "alternating"),
        (2, 0, "simultaneous"),
        (4, 0, "alternating"),
        (4, 0, "simultaneous"),
        (1, 5, "alternating"),
    ],
)
def test_pacgan_mlp_step(benchmark, pack, unroll, update):
    cfg = resolve(
        TrainConfig(
            arch="pacgan-mlp",
            data="ring8-pacgan",
            batch_size=BATCH * pack,
            update=update,
            unroll_steps=unroll,
            arch_options={"pack": pack},
            device=str(DEVICE),
        )
    )
    training = build_training(cfg, ring_pacgan(), DEVICE)

    def step():
        train_step(training)
        sync()

    for _ in range(3):
        step()  # warm-up
    benchmark.group = "2d-step-pacgan-mlp"
    benchmark.extra_info.update(
        device=str(DEVICE), batch_size=cfg.batch_size, pack=pack, unroll_steps=unroll, update=update
    )
    benchmark(step)
    benchmark.extra_info["steps_per_s"] = round(1 / benchmark.stats.stats.mean, 2)


def test_hand_written_pacgan_step(benchmark):
    """PacGAN's networks in plain PyTorch: a Maxout D, a 4x400 BN-ReLU G, Adam(1e-4, (0.2, 0.999))."""

    class Maxout(nn.Module):
        def __init__(self, a, b, k=5):
            super().__init__()
            self.k, self.lin = k, nn.Linear(a, b * k)

        def forward(self, x):
            return self.lin(x).view(x.shape[0], -1, self.k).max(-1).values

    torch.manual_seed(0)
    layers = []
    for width in (2, 400, 400, 400):
        layers += [nn.Linear(width, 400, bias=False), nn.BatchNorm1d(400, momentum=0.05), nn.ReLU()]
    netG = nn.Sequential(*layers, nn.Linear(400, 2)).to(DEVICE)
    netD = nn.Sequential(Maxout(2, 200), Maxout(200, 200), Maxout(200, 200), nn.Linear(200, 1)).to(DEVICE)
    opt_g = torch.optim.Adam(netG.parameters(), lr=1e-4, betas=(0.2, 0.999))
    opt_d = torch.optim.Adam(netD.parameters(), lr=1e-4, betas=(0.2, 0.999))
    data = ring_pacgan()
    rng = torch.Generator().manual_seed(0)
    ones, zeros = torch.ones(BATCH, 1, device=DEVICE), torch.zeros(BATCH, 1, device=DEVICE)

    def step():
        real = data.sample(BATCH, rng)[0].to(DEVICE)
        fake = netG(torch.randn(BATCH, 2, device=DEVICE))
        d_loss = F.binary_cross_entropy_with_logits(netD(real), ones) + F.binary_cross_entropy_with_logits(
            netD(fake.detach()), zeros
        )
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.binary_cross_entropy_with_logits(netD(netG(torch.randn(BATCH, 2, device=DEVICE))), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        sync()

    for _ in range(3):
        step()
    benchmark.group = "2d-step-pacgan-mlp"
    benchmark.extra_info.update(device=str(DEVICE), batch_size=BATCH)
    benchmark(step)
    benchmark.extra_info["steps_per_s"] = round(1 / benchmark.stats.stats.mean, 2)
