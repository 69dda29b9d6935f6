"""Differentiable augmentations of what D sees: DiffAugment (Zhao et al. 2020).

With little data, D memorises the training images and G's signal collapses.
DiffAugment transforms every image D judges, real and fake alike, in D's step
and in G's, with operations that gradients pass through, so G is trained by a D
that never sees an un-augmented image and cannot tell augmentation from data.

An augmentation is a callable ``augment(images, rng) -> images`` that draws all
its randomness from ``rng`` (a torch.Generator the loop checkpoints, so a resumed
run draws what the uninterrupted one would have). ganzoo's own registers through
the `ganzoo_register_augmentations` hook, like a plugin's; `--augment NAME` (or
``train = { augment = "NAME" }`` in a suite) picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from ganzoo.errors import GanzooError
from ganzoo.plugin.hookspecs import hookimpl

#: DiffAugment's policy words and the operations each stands for, in the paper's order.
POLICY_WORDS = {
    "color": ("brightness", "saturation", "contrast"),
    "translation": ("translation",),
    "cutout": ("cutout",),
}


def _per_image(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """One uniform [0, 1) number per image, shaped to broadcast over its pixels."""
    return torch.rand(x.shape[0], 1, 1, 1, generator=rng, device=x.device, dtype=x.dtype)


def brightness(x, rng):
    """Add one number in [-0.5, 0.5) to every pixel of an image."""
    return x + (_per_image(x, rng) - 0.5)


def saturation(x, rng):
    """Scale each pixel's distance from its grey (mean over channels) by a factor in [0, 2)."""
    grey = x.mean(dim=1, keepdim=True)
    return (x - grey) * (2 * _per_image(x, rng)) + grey


def contrast(x, rng):
    """Scale each image's distance from its mean by a factor in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_image(x, rng) + 0.5) + mean


def _grid(x):
    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    return n, h, w, rows, cols


def translate(x, rng, ratio: float = 0.125):
    """Shift each image by whole pixels, up to `ratio` of its side each way, filling with 0."""
    n, h, w, rows, cols = _grid(x)
    reach_h, reach_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    shift_h = torch.randint(-reach_h, reach_h + 1, (n, 1, 1), generator=rng, device=x.device)
    shift_w = torch.randint(-reach_w, reach_w + 1, (n, 1, 1), generator=rng, device=x.device)
    source_rows, source_cols = rows + shift_h, cols + shift_w  # (n, h, 1) and (n, 1, w)
    inside = (source_rows >= 0) & (source_rows < h) & (source_cols >= 0) & (source_cols < w)
    index = source_rows.clamp(0, h - 1) * w + source_cols.clamp(0, w - 1)  # (n, h, w)
    c = x.shape[1]
    moved = x.reshape(n, c, h * w).gather(2, index.view(n, 1, h * w).expand(n, c, h * w))
    return moved.view(n, c, h, w) * inside.unsqueeze(1).to(x.dtype)


def cut_out(x, rng, ratio: float = 0.5):
    """Zero one square of `ratio` of the side per image, centred anywhere in it (so part of
    the square may fall outside)."""
    n, h, w, rows, cols = _grid(x)
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    centre_h = torch.randint(0, h + (1 - size_h % 2), (n, 1, 1), generator=rng, device=x.device)
    centre_w = torch.randint(0, w + (1 - size_w % 2), (n, 1, 1), generator=rng, device=x.device)
    top, left = centre_h - size_h // 2, centre_w - size_w // 2
    hole = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)
    return x * (~hole).unsqueeze(1).to(x.dtype)


class DiffAugment:
    """DiffAugment's policy, e.g. 'color,translation,cutout' (the paper's choice for
    CIFAR-10 with little data; 'translation,cutout' for full data sets). With p < 1 each
    image is augmented with probability p, as in ADA, so a schedule can ramp it
    (`--schedule augment.p=cosine:0:0.55:2e7`), or ADA's controller can set it
    (`--augment-opt ada_target=0.6`: p starts at 0 and follows D's overfitting)."""

    name = "diffaugment"
    needs_images = True

    def __init__(
        self,
        policy: str = "color,translation,cutout",
        translation: float = 0.125,
        cutout: float = 0.5,
        p: float = 1.0,
        ada_target: float = 0.0,
        ada_images: int = 500_000,
    ):
        words = [word.strip() for word in policy.split(",") if word.strip()]
        unknown = [word for word in words if word not in POLICY_WORDS]
        if unknown or not words:
            raise GanzooError(
                f"DiffAugment's policy '{policy}' has unknown words {unknown or '(none given)'}; "
                f"join some of {', '.join(POLICY_WORDS)} with commas, e.g. translation,cutout."
            )
        if not (0 <= translation <= 1 and 0 <= cutout <= 1 and 0 <= p <= 1):
            raise GanzooError(
                f"DiffAugment's translation ({translation}) and cutout ({cutout}) are fractions "
                f"of the image side, and p ({p}) a probability: each in [0, 1]."
            )
        if ada_target and p != 1.0:
            raise GanzooError(
                f"DiffAugment's p ({p}) and ada_target ({ada_target}) both decide p; ADA starts "
                "it at 0 and adapts it. Give one of the two."
            )
        if not 0 <= ada_target < 1 or ada_images <= 0:
            raise GanzooError(
                f"DiffAugment's ada_target ({ada_target}) is ADA's target for E[sign D(real)], in "
                f"[0, 1) (0: off; ADA uses 0.6), and ada_images ({ada_images}) the images over which "
                "p may move from 0 to 1 (ADA: 500,000)."
            )
        # Each image is augmented with probability p (ADA's p; R3GAN ramps it by a schedule).
        self.p = 0.0 if ada_target else float(p)
        self.adaptive = bool(ada_target)
        self.ada_target, self.ada_images = float(ada_target), int(ada_images)
        # D's summed signs: a tensor between two reads (summed on D's device, read once an interval)
        self._signs: torch.Tensor | float = 0.0
        self._seen, self._observed = 0, 0
        self.policy = ",".join(words)
        operations: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
            "brightness": brightness,
            "saturation": saturation,
            "contrast": contrast,
            "translation": partial(translate, ratio=translation),
            "cutout": partial(cut_out, ratio=cutout),
        }
        self.operations = [operations[op] for word in words for op in POLICY_WORDS[word]]

    def __call__(self, images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        if images.dim() != 4:
            raise GanzooError(
                f"DiffAugment transforms images (N, C, H, W); got a batch of shape "
                f"{tuple(images.shape)}. Drop --augment for non-image data."
            )
        augmented = images
        for operation in self.operations:
            augmented = operation(augmented, rng)
        if self.p >= 1:
            return augmented
        chosen = torch.rand(images.shape[0], 1, 1, 1, generator=rng, device=images.device) < self.p
        return torch.where(chosen, augmented, images)

    #: D steps between two adjustments of p (ADA's N = 4).
    ADA_INTERVAL = 4

    def observe(self, real_logits: torch.Tensor) -> None:
        """ADA's controller (Karras et al. 2020), called after each D step (the lifecycle hook below) with
        D's logits on the (augmented) reals: every ADA_INTERVAL steps, r = E[sign D(real)]
        over them; above the target D is overfitting and p rises, below it falls, by the
        images seen over ada_images, clamped to [0, 1]."""
        if not self.adaptive:
            return
        self._signs = self._signs + torch.sign(real_logits.detach()).sum()  # read only every interval
        self._seen += real_logits.numel()
        self._observed += 1
        if self._observed % self.ADA_INTERVAL:
            return
        r = float(self._signs) / self._seen
        direction = (r > self.ada_target) - (r < self.ada_target)
        self.p = min(max(self.p + direction * self._seen / self.ada_images, 0.0), 1.0)
        self._signs, self._seen = 0.0, 0

    def state_dict(self) -> dict:
        """What a checkpoint keeps: p and ADA's running sums, so a resumed run adapts as before."""
        return {"p": self.p, "signs": float(self._signs), "seen": self._seen, "observed": self._observed}

    def load_state_dict(self, state: dict) -> None:
        self.p, self._signs, self._seen, self._observed = (state["p"], state["signs"], state["seen"], state["observed"])

    def __repr__(self) -> str:
        return f"DiffAugment(policy={self.policy!r})"


# The augmentation contract's feedback (docs/plugins.md): an augmentation with `observe` is handed
# D's logits on the reals after each D update, and one that is `adaptive` has its `p` logged.
# DiffAugment's ADA controller is one; a plugin's augmentation gets the same.
@hookimpl
def ganzoo_after_discriminator_step(run, real_logits: torch.Tensor) -> None:
    observe = getattr(getattr(run.training, "augment", None), "observe", None)
    if observe is not None:
        observe(real_logits)


@hookimpl
def ganzoo_log_values(run, step: int) -> dict | None:
    augment = getattr(run.training, "augment", None)
    return {"augment_p": augment.p} if augment is not None and getattr(augment, "adaptive", False) else None


@hookimpl
def ganzoo_register_augmentations(register):
    register(
        "diffaugment",
        DiffAugment,
        description="DiffAugment: colour, translation and cutout, differentiable, on every image D sees",
        paper="Zhao et al. 2020",
    )
