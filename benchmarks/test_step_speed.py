"""Speed of one training step (D then G), pytest-benchmark.

    pytest benchmarks/ --benchmark-only --benchmark-save=NAME
    pytest-benchmark compare           # see docs/benchmarks.md
"""

import pytest
import torch

import ganzoo
from ganzoo.config import TrainConfig


def make_step(arch: str, loss_name: str, batch_size: int):
    torch.manual_seed(0)
    cfg = TrainConfig(arch=arch, loss=loss_name).resolved()
    data = ganzoo.create_dataset("ring8")
    G, D, _ = ganzoo.create_architecture(arch)
    loss = ganzoo.create_loss(loss_name)
    g_opt = torch.optim.Adam(G.parameters(), lr=cfg.g_lr, betas=cfg.betas)
    d_opt = torch.optim.Adam(D.parameters(), lr=cfg.d_lr, betas=cfg.betas)
    batches = data.batches(batch_size, torch.device("cpu"), seed=0)

    def step():
        real, _ = batches.next()
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
@pytest.mark.parametrize("arch", ["mlp", "mlp.test"])
def test_train_step(benchmark, arch, loss):
    benchmark.extra_info.update(arch=arch, loss=loss, batch_size=256, threads=torch.get_num_threads())
    benchmark(make_step(arch, loss, 256))


def test_sampling_2500(benchmark):
    G, _, _ = ganzoo.create_architecture("mlp")
    benchmark(lambda: G.sample(2500, generator=torch.Generator().manual_seed(0)))
