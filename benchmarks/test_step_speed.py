"""Speed of one training step (D then G), pytest-benchmark.

    pytest benchmarks/ --benchmark-only --benchmark-save=NAME
    pytest-benchmark compare           # compares saved runs

Real batches are random tensors of the right shape: the step's cost does not
depend on the data, and no data set needs to be present.
"""

import pytest
import torch

import ganzoo
from ganzoo.config import TrainConfig

BATCH = {"mlp": 256, "mlp.test": 256, "dcgan": 64, "dcgan.test": 64}


def make_step(arch: str, loss_name: str, batch_size: int):
    torch.manual_seed(0)
    cfg = TrainConfig(arch=arch, loss=loss_name).resolved()
    G, D, _ = ganzoo.create_architecture(arch)
    loss = ganzoo.create_loss(loss_name)
    g_opt = torch.optim.Adam(G.parameters(), lr=cfg.g_lr, betas=cfg.betas)
    d_opt = torch.optim.Adam(D.parameters(), lr=cfg.d_lr, betas=cfg.betas)
    real = torch.rand(batch_size, *G.output_shape) * 2 - 1

    def step():
        with torch.no_grad():
            fake = G(G.sample_latent(batch_size))
        d_loss = loss.discriminator_loss(D(real), D(fake))
        for reg in loss.regularizers:
            d_loss = d_loss + reg(D, real, fake)
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        loss.after_discriminator_step(D)
        D.requires_grad_(False)
        g_loss = loss.generator_loss(D(G(G.sample_latent(batch_size))))
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        D.requires_grad_(True)

    return step


@pytest.mark.parametrize("loss", ["non-saturating", "minimax", "wgan-gp"])
@pytest.mark.parametrize("arch", sorted(BATCH))
def test_train_step(benchmark, arch, loss):
    benchmark.extra_info.update(arch=arch, loss=loss, batch_size=BATCH[arch], threads=torch.get_num_threads())
    benchmark(make_step(arch, loss, BATCH[arch]))


def test_sampling_2500_points(benchmark):
    G, _, _ = ganzoo.create_architecture("mlp")
    benchmark(lambda: G.sample(2500, generator=torch.Generator().manual_seed(0)))
