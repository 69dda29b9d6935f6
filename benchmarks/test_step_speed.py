"""Speed of one training step (n_d D steps, then one G step), pytest-benchmark.

    pytest benchmarks/ --benchmark-only --benchmark-save=NAME
    pytest-benchmark compare 0001 0002     # see docs/benchmarks.md

Each benchmark runs ganzoo's own `step.train_step` on the objects `players.build_training`
builds, so it measures the code `ganzoo train` runs. Real batches are random tensors of
the data's shape: a step's cost does not depend on the values, and no data set is needed.
Beside ganzoo's `dcgan-64` step sits the step of the PyTorch DCGAN example, written as
that example writes it, so the harness's overhead is a measured ratio.
"""

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.core.config import TrainConfig
from ganzoo.plugin.api import architecture_entry
from ganzoo.training.players import build_training
from ganzoo.training.resolve import resolve
from ganzoo.training.step import train_step

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
LOSSES = ["non-saturating", "minimax", "wgan-gp", "hinge"]
ARCHITECTURES = [
    a
    for a in ganzoo.list_architectures()
    if a.split(".")[0] in ("mlp", "dcgan", "sngan-resnet", "wgan-gp-resnet", "sngan-projection")
]
BATCH = 64


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


class RandomData:
    """A stand-in data set: random batches of the architecture's data shape."""

    name = "random"

    def __init__(self, shape, num_classes):
        self.sample_shape, self.num_classes = tuple(shape), num_classes

    def to(self, device):
        return self

    def batches(self, batch_size, device, seed):
        shape, classes = self.sample_shape, self.num_classes

        class Batches:
            def __init__(self):
                self.real = torch.rand(batch_size, *shape, device=device) * 2 - 1
                self.labels = torch.randint(max(classes, 1), (batch_size,), device=device)

            def next(self):
                return self.real, self.labels

        return Batches()


def ganzoo_step(
    arch: str,
    loss: str,
    batch_size: int = BATCH,
    channels_last: bool = False,
    train: dict | None = None,
    **arch_options,
):
    defaults = architecture_entry(arch).defaults
    data = RandomData(defaults["data_shape"], defaults.get("num_classes", 0) or 0)
    cfg = resolve(
        TrainConfig(
            arch=arch,
            loss=loss,
            batch_size=batch_size,
            device=str(DEVICE),
            arch_options=arch_options,
            channels_last=channels_last,
            **(train or {}),
        )
    )
    training = build_training(cfg, data, DEVICE)
    training.G.train()
    training.D.train()

    def step():
        train_step(training)
        sync()

    return step, cfg


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_train_step(benchmark, arch, loss):
    step, cfg = ganzoo_step(arch, loss, 256 if arch.startswith("mlp") else BATCH)
    step()  # warm-up: allocations, cuDNN autotuning
    benchmark.group = f"train-step-{arch}"
    benchmark.extra_info.update(device=str(DEVICE), batch_size=cfg.batch_size, n_d=cfg.n_d)
    benchmark(step)
    benchmark.extra_info["images_per_s"] = round(cfg.batch_size * cfg.n_d / benchmark.stats.stats.mean, 1)


# --- the PyTorch DCGAN example's step, as that example writes it ----------------------------


class ExampleGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, x):
        return self.main(x)


class ExampleDiscriminator(nn.Module):
    def __init__(self, ndf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def reference_dcgan_step(batch_size: int = BATCH):
    torch.manual_seed(0)
    netG, netD = ExampleGenerator().to(DEVICE), ExampleDiscriminator().to(DEVICE)
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real_cpu = (torch.rand(batch_size, 3, 64, 64) * 2 - 1).to(DEVICE)
    real_label, fake_label = 1, 0

    def step():
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=DEVICE)
        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        noise = torch.randn(batch_size, 100, 1, 1, device=DEVICE)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        sync()

    return step


def test_reference_pytorch_example_dcgan_step(benchmark):
    step = reference_dcgan_step()
    step()
    benchmark.group = "dcgan-64-vs-pytorch-example"
    benchmark.extra_info.update(device=str(DEVICE), batch_size=BATCH)
    benchmark(step)


def test_ganzoo_dcgan_64_step(benchmark):
    # Same networks (the example's widths, 64), loss (non-saturating = BCE against ones for G)
    # and optimiser; ganzoo draws a fresh G(z) for the G step where the example reuses the
    # D step's fake, which costs one more G forward pass.
    step, _ = ganzoo_step("dcgan-64", "non-saturating", g_width=64, d_width=64)
    step()
    benchmark.group = "dcgan-64-vs-pytorch-example"
    benchmark.extra_info.update(device=str(DEVICE), batch_size=BATCH)
    benchmark(step)


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels-last"])
def test_quick_mnist_dcgan_step_memory_format(benchmark, channels_last):
    """The quick suite's MNIST DCGAN (32 channels wide, batch 64) in either memory layout."""
    step, _ = ganzoo_step("dcgan", "non-saturating", channels_last=channels_last, g_width=32, d_width=32)
    step()
    benchmark.group = "dcgan-mnist-memory-format"
    benchmark.extra_info.update(device=str(DEVICE), batch_size=BATCH, channels_last=channels_last)
    benchmark(step)


# Each modern family's step as its paper trains it, at a width a CPU can train (32 channels;
# StyleGAN2's widths capped at 32), on 32x32 colour images of batch 64, in either layout.
FAMILY_STEPS = {
    "r3gan": ("rpgan", {"regularizer": "r1,r2"}, {"width": 32, "cardinality": 4}),  # R1 + R2: double backward
    "biggan": ("hinge", {"n_d": 4}, {"width": 32, "latent_dim": 64, "shared_dim": 32}),
    "stylegan2": (
        "non-saturating",
        {"regularizer": "r1", "reg_every": 16},
        {"latent_dim": 64, "w_dim": 64, "channel_base": 1024, "channel_max": 32, "mbstd_group": 4},
    ),
}


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels-last"])
@pytest.mark.parametrize("family", list(FAMILY_STEPS))
def test_family_step_memory_format(benchmark, family, channels_last):
    loss, train, options = FAMILY_STEPS[family]
    step, cfg = ganzoo_step(family, loss, channels_last=channels_last, train=train, **options)
    step()
    benchmark.group = f"{family}-memory-format"
    benchmark.extra_info.update(device=str(DEVICE), batch_size=BATCH, channels_last=channels_last, n_d=cfg.n_d)
    benchmark(step)
    benchmark.extra_info["images_per_s"] = round(BATCH * cfg.n_d / benchmark.stats.stats.mean, 1)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_sampling(benchmark, arch):
    G, _, _ = ganzoo.create_architecture(arch)
    G.to(DEVICE)
    rng = torch.Generator(DEVICE).manual_seed(0)
    benchmark.group = "sampling"

    def sample():
        G.sample(1000, generator=rng)
        sync()

    benchmark(sample)
    benchmark.extra_info["images_per_s"] = round(1000 / benchmark.stats.stats.mean, 1)
