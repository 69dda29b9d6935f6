"""An example ganzoo plugin: an architecture, a loss, a regulariser, a 2D data set
with known modes and a metric; a tracker that observes runs through the lifecycle hooks,
a command (`ganzoo example-tracked`) and a suite (`ganzoo bench example-triangle`).

Copy this package to start your own; docs/plugins.md walks through it.
"""

import json
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.core.data import Dataset, SampledBatches


class ResidualGenerator(ganzoo.Generator):
    def __init__(self, latent_dim, output_shape, width, blocks):
        super().__init__(latent_dim, output_shape)
        self.inp = nn.Linear(latent_dim, width)
        self.blocks = nn.ModuleList(nn.Sequential(nn.ReLU(), nn.Linear(width, width)) for _ in range(blocks))
        self.out = nn.Linear(width, output_shape[0])

    def forward(self, z, labels=None):
        h = self.inp(z)
        for block in self.blocks:
            h = h + block(h)  # residual connection
        return self.out(F.relu(h))


class ResidualDiscriminator(ganzoo.Discriminator):
    def __init__(self, input_shape, width, blocks):
        super().__init__(input_shape)
        self.inp = nn.Linear(input_shape[0], width)
        self.blocks = nn.ModuleList(nn.Sequential(nn.ReLU(), nn.Linear(width, width)) for _ in range(blocks))
        self.out = nn.Linear(width, 1)

    def forward(self, x, labels=None):
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.out(F.relu(h)).squeeze(1)  # one logit per sample


def build(config):
    shape = tuple(config["data_shape"])
    if len(shape) != 1 or config["num_classes"]:
        raise ganzoo.GanzooError(f"example-resmlp handles flat, unlabelled data (like ring8), not shape {shape}.")
    return (
        ResidualGenerator(config["latent_dim"], shape, config["width"], config["blocks"]),
        ResidualDiscriminator(shape, config["width"], config["blocks"]),
    )


class RelativisticAverageLoss(ganzoo.Loss):
    """RaSGAN (Jolicoeur-Martineau 2019): D estimates how much more real a real sample
    looks than the average fake, and a fake than the average real; G the reverse.
    (ganzoo's own `rpgan` pairs samples one to one instead.)"""

    generator_needs_real = True  # G's loss compares fakes with reals

    def discriminator_loss(self, real_logits, fake_logits):
        return (
            F.softplus(-(real_logits - fake_logits.mean())).mean() + F.softplus(fake_logits - real_logits.mean()).mean()
        )

    def generator_loss(self, fake_logits, real_logits=None):
        return (
            F.softplus(-(fake_logits - real_logits.mean())).mean() + F.softplus(real_logits - fake_logits.mean()).mean()
        )


DEFAULTS = {"data_shape": (2,), "num_classes": 0, "latent_dim": 16, "width": 128, "blocks": 2}


@ganzoo.hookimpl
def ganzoo_register_architectures(register):
    register(
        "example-resmlp",
        build,
        defaults=DEFAULTS,
        train_defaults={"batch_size": 256, "g_lr": 1e-3, "d_lr": 1e-3},
        description="residual MLP (example plugin)",
    )
    # Every architecture ships a tiny ".test" variant for contract tests.
    register(
        "example-resmlp.test",
        build,
        defaults={**DEFAULTS, "width": 16, "blocks": 1},
        description="tiny residual MLP for tests",
    )


@ganzoo.hookimpl
def ganzoo_register_losses(register):
    register(
        "relativistic-average",
        RelativisticAverageLoss,
        description="relativistic average GAN (RaSGAN)",
        paper="Jolicoeur-Martineau 2019",
    )


class DriftPenalty:
    """Progressive GAN's drift term (Karras et al. 2018): epsilon * E[D(real)^2] keeps a
    Wasserstein critic's outputs from drifting far from zero."""

    def __init__(self, epsilon: float = 1e-3):
        self.epsilon = float(epsilon)

    def __call__(self, discriminator, real, fake, labels=None):
        return self.epsilon * discriminator(real, labels).pow(2).mean()


@ganzoo.hookimpl
def ganzoo_register_regularizers(register):
    register(
        "example-drift", DriftPenalty, description="epsilon * E[D(real)^2] (example plugin)", paper="Karras et al. 2018"
    )


class Triangle(Dataset):
    """Three Gaussians at the corners of an equilateral triangle, the top one twice as likely
    as each of the others. It offers "modes": ganzoo's mode coverage (and any other metric
    that needs known modes) applies to it with no code here."""

    sample_shape = (2,)
    offers = frozenset({"modes"})

    def __init__(self, radius: float = 1.0, std: float = 0.05):
        angles = torch.tensor([90.0, 210.0, 330.0]) * math.pi / 180
        self.name = "example-triangle"
        self.centers = radius * torch.stack([angles.cos(), angles.sin()], dim=1)  # promised by "modes"
        self.std = float(std)
        self.mode_weights = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)

    def batches(self, batch_size, device, seed):
        def draw(n, rng):
            modes = torch.multinomial(self.mode_weights.float(), n, replacement=True, generator=rng)
            return self.centers[modes] + self.std * torch.randn(n, 2, generator=rng), None

        # SampledBatches keeps the position (a random generator's state) for exact resume.
        return SampledBatches(draw, batch_size, device, seed)

    def describe(self):
        return {
            **super().describe(),
            "centers": self.centers.tolist(),
            "std": self.std,
            "mode_weights": self.mode_weights.tolist(),
        }


def triangle(radius: float = 1.0, std: float = 0.05) -> Triangle:
    return Triangle(radius, std)


@ganzoo.hookimpl
def ganzoo_register_datasets(register):
    register("example-triangle", triangle, description="3 Gaussians on a triangle, unequal weights (example plugin)")


class ModeDistance(ganzoo.Metric):
    """How far generated samples sit from the data's modes: the median distance to the
    nearest mode centre, in units of the modes' standard deviation (a sample drawn from
    the data itself gives about 1.18, the median of a 2D Rayleigh)."""

    needs = ("modes",)  # any data set offering known modes: ring8, grid25, example-triangle...
    num_samples = 2_500
    during_training = False  # True: computed at every evaluation of every run it applies to
    # The report's table column and curve: (result key, label, decimals, better: 0 = neither).
    columns = (ganzoo.Column("median_std_to_nearest_mode", "median dist. (std)", 2, 0),)
    curves = (ganzoo.Curve("median_std_to_nearest_mode", "median distance to the nearest mode, std"),)

    def compute(self, context):
        data = context.dataset
        samples = context.sample().detach().to("cpu", torch.float64)
        nearest = torch.cdist(samples, data.centers.to(torch.float64)).min(dim=1).values / data.std
        return {
            "results": {"median_std_to_nearest_mode": float(nearest.median())},
            "protocol": {
                "num_samples": len(samples),
                "distance": "Euclidean, to the nearest mode centre",
                "unit": "the data's std",
                **context.common_protocol(),
            },
        }


@ganzoo.hookimpl
def ganzoo_register_metrics(register):
    register(
        "example-mode-distance",
        ModeDistance,
        description="median distance to the nearest mode, in stds (example plugin)",
    )


# --- a tracker: what an experiment tracker (Weights & Biases, MLflow...) would do ----------
# It observes every run through the lifecycle hooks; here it appends what it sees to the JSON
# lines file named by GANZOO_EXAMPLE_TRACKER (unset: it does nothing). A real tracker would
# open its run in ganzoo_run_started (run.config.to_dict() is the configuration to log),
# send run.state's handle the metrics in the other hooks, and close it when the run finishes.
TRACKER_ENV = "GANZOO_EXAMPLE_TRACKER"


def _track(event: str, **fields) -> None:
    path = os.environ.get(TRACKER_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"event": event, **fields}) + "\n")


@ganzoo.hookimpl
def ganzoo_run_started(run):
    if run.main:
        _track("started", out_dir=str(run.out_dir), start_step=run.start_step, config=run.config.to_dict())


@ganzoo.hookimpl
def ganzoo_after_log(run, record):
    if run.main:
        _track("log", step=record["step"], d_loss=record["d_loss"], g_loss=record["g_loss"])


@ganzoo.hookimpl
def ganzoo_after_evaluation(run, step, records):
    _track("evaluation", step=step, metrics={r["metric"]: r["results"] for r in records})


@ganzoo.hookimpl
def ganzoo_after_checkpoint(run, step, path):
    _track("checkpoint", step=step, path=str(path))


@ganzoo.hookimpl
def ganzoo_run_finished(run, summary):
    if run.main:
        _track("finished", steps=summary["steps"], metrics=summary["metrics"])


def _tracked(args) -> int:
    """`ganzoo example-tracked [FILE]`: what the tracker saw, one line per event."""
    path = Path(args.file or os.environ.get(TRACKER_ENV, ""))
    if not path.is_file():
        print(f"nothing tracked yet: set {TRACKER_ENV}=FILE, train, then run this again")
        return 1
    for line in path.read_text().splitlines():
        event = json.loads(line)
        print(event["event"], {k: v for k, v in event.items() if k not in ("event", "config")})
    return 0


@ganzoo.hookimpl
def ganzoo_register_commands(register):
    register(
        "example-tracked",
        _tracked,
        help="show what the example tracker recorded (example plugin)",
        arguments=lambda parser: parser.add_argument("file", nargs="?", help=f"default ${TRACKER_ENV}"),
    )


@ganzoo.hookimpl
def ganzoo_register_suites(register):
    register(
        "example-triangle",
        Path(__file__).parent / "suites" / "example-triangle.toml",
        description="the example plugin's architecture and loss on its triangle",
    )
