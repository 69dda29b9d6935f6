"""The papers' own training recipes, registered through `ganzoo_register_recipes` like a
plugin's.

A recipe is a named training configuration: the architecture and its options, the loss,
regularisers, augmentation, schedules, update rule and data. Everything it leaves out comes
from the architecture's and the loss's registered training defaults (batch, rates, betas,
steps, EMA: each paper's, see docs/architectures.md), so `ganzoo train --recipe NAME` trains
the paper's whole configuration; a flag given beside it wins over the recipe. Each recipe's
description says where it departs from the paper, and its `version` changes whenever its
settings do, so that a run records which recipe trained it.
"""

from __future__ import annotations

from ganzoo.plugin.hookspecs import hookimpl

R3GAN_SCHEDULE_IMAGES = "2e7"  # the half-cosine schedules run over the first 20M images

#: name -> (settings, description, paper, version)
RECIPES = {
    "r3gan-cifar10": (
        {
            "arch": "r3gan",
            "loss": "rpgan",
            "data": "cifar10",
            "regularizer": "r1,r2",
            "augment": "diffaugment",
            "augment_options": {"policy": "translation,cutout"},
            "ema_decay": 0.999,
            "schedules": {
                "lr": f"cosine:2e-4:5e-5:{R3GAN_SCHEDULE_IMAGES}",
                "beta2": f"cosine:0.9:0.99:{R3GAN_SCHEDULE_IMAGES}",
                "regularizer.gamma": f"cosine:0.05:0.005:{R3GAN_SCHEDULE_IMAGES}",
                "ema_half_life": f"cosine:0:5e6:{R3GAN_SCHEDULE_IMAGES}",
                "augment.p": f"cosine:0:0.55:{R3GAN_SCHEDULE_IMAGES}",
            },
        },
        "R3GAN's CIFAR-10 preset: RpGAN + R1 + R2 with one gamma (0.05 -> 0.005), half-cosine schedules of the "
        "rate, beta2, gamma, EMA half-life and augmentation probability over 20M images (ADA's augmentations "
        "replaced by DiffAugment at the same scheduled probability)",
        "Huang et al. 2024 (R3GAN), code brownvc/R3GAN",
        "1",
    ),
    "stylegan2-cifar10": (
        {
            "arch": "stylegan2",
            "loss": "non-saturating",
            "data": "cifar10",
            "regularizer": "r1",
            "regularizer_options": {"gamma": 0.01},
            "reg_every": 16,
        },
        "StyleGAN2 at 32x32, the official code's CIFAR configuration: non-saturating loss, lazy R1 "
        "(gamma 0.01, every 16 D steps), Adam 0.0025 (0, 0.99), batch 64, EMA of G",
        "Karras et al. 2020 (StyleGAN2), code NVlabs/stylegan2-ada-pytorch",
        "1",
    ),
    "biggan-cifar10": (
        {"arch": "biggan", "loss": "hinge", "data": "cifar10", "arch_options": {"num_classes": 10}},
        "BigGAN at 32x32, the official CIFAR-10 script (launch_cifar_ema.sh): hinge loss, class-conditional, "
        "4 D steps per G step, Adam 2e-4 (0, 0.999), batch 50, EMA 0.9999; orthogonal regularisation and "
        "attention kept on, as the paper's ImageNet models have them",
        "Brock et al. 2019 (BigGAN), code ajbrock/BigGAN-PyTorch",
        "1",
    ),
    "sngan-cifar10": (
        {"arch": "sngan-resnet", "loss": "hinge", "data": "cifar10", "lr_schedule": "linear-decay"},
        "SNGAN's CIFAR-10 ResNet: hinge loss, spectral norm in D, 5 D steps per G step, Adam 2e-4 (0, 0.9) "
        "falling linearly to 0, batch 64",
        "Miyato et al. 2018 (SNGAN)",
        "1",
    ),
    "pacgan-2d": (
        {
            "arch": "pacgan-mlp",
            "loss": "non-saturating",
            "data": "ring8-pacgan",
            "update": "simultaneous",
            "arch_options": {"pack": 2, "bn_groups": 2},
            "batch_size": 200,
            "steps": 400_000,
        },
        "PacGAN2 on PacGAN's 2D ring (use --data grid25 for the grid): the simultaneous update of PacGAN's "
        "code, packs of 2, G's batch norm per packed group, 100 packs a batch, 400 epochs of 1,000 batches. "
        "PacGAN's Adam beta1 is ambiguous (0.2 or 0.8, see docs/architectures.md); this recipe takes "
        "pacgan-mlp's 0.2",
        "Lin et al. 2018 (PacGAN), code fjxmlzn/PacGAN",
        "1",
    ),
    "unrolled-gan-stacked-mnist": (
        {
            "arch": "unrolled-dcgan",
            "loss": "non-saturating",
            "data": "stacked-mnist",
            "unroll_steps": 5,
            "arch_options": {"d_width": 2},
            "eval_metrics": ["stacked-mnist-modes"],
            "eval_samples": 25_600,
            "eval_batch_norm": "batch",
            "eval_images": "float",
        },
        "The Unrolled GAN on Stacked MNIST as PacGAN's code runs it: 5 unrolled Adam steps of D in G's "
        "update, D a quarter of G (--arch-opt d_width=4 for a half), modes counted on 25,600 samples drawn "
        "with batch statistics and classified as floats",
        "Metz et al. 2017 (Unrolled GAN); Lin et al. 2018's code (fjxmlzn/PacGAN)",
        "1",
    ),
}


@hookimpl
def ganzoo_register_recipes(register):
    for name, (settings, description, paper, version) in RECIPES.items():
        register(name, settings, description=description, paper=paper, version=version)
