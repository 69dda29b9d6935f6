"""Samples made elsewhere, read and checked for evaluation under ganzoo's protocol.

A model trained in another codebase (StyleGAN's, StudioGAN's, a paper's release) is measured
as a ganzoo run is: its samples, named with the data set they claim to model, meet the same
real data, feature extractor and metrics. Formats:

- a folder of PNG or JPEG images (sorted by file name);
- an `.npz` array of N x H x W x C uint8 images, the layout clean-fid and the guided-diffusion
  reference batches use (the array named by `key`, else the file's only array or `arr_0`);
  for flat data (2D mixtures), an N x D array of floats;
- a `.pt` tensor: N x C x H x W images, uint8 or floats in [-1, 1] (what `ganzoo sample`
  writes), or N x D floats; a `.npy` array as an `.npz` one.

Everything is checked before any metric runs, and each problem is one paragraph: the count
(against each metric's standard count, unless fewer are allowed, and then recorded), the
shape and channels against the data set, the dtype and value range, unreadable or
mixed-size files. Images of another size are refused unless a resize is asked for; the
filter and library are then recorded, since resizing moves FID by several points (clean-fid).

`SampleBank` hands the samples to the metrics as a generator would: every metric, like every
evaluation of a ganzoo run, sees the same samples in the same order (the first N).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import torch

from ganzoo.core.data import to_float, to_uint8
from ganzoo.errors import GanzooError
from ganzoo.util.files import atomic_torch_save, atomic_write_bytes, file_sha256, safe_torch_load

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SAMPLE_FORMATS = (".pt", ".npz", ".npy")  # and a folder of PNG images
RESIZE_FILTERS = ("bicubic", "bilinear", "lanczos", "nearest")  # PIL's, as clean-fid resizes


@dataclass
class ExternalSamples:
    samples: torch.Tensor  # images as uint8 N x C x H x W (a quarter of floats' memory) or floats in [-1, 1]
    provenance: dict  # the file, its SHA-256, count, format, label, description, resize


def read_samples(
    path,
    dataset,
    *,
    label: str,
    description: str = "",
    resize: str | None = None,
    key: str | None = None,
    float_range: str = "-1,1",
) -> ExternalSamples:
    """The samples in `path`, checked against `dataset` (its `sample_shape`)."""
    path = Path(path)
    if not path.exists():
        raise GanzooError(
            f"--samples {path}: no such file or folder. Name a folder of images, or an .npz, .npy or .pt file."
        )
    shape = tuple(dataset.sample_shape)
    images = len(shape) == 3
    if path.is_dir():
        as_stored: list | None = None
        if not images:
            raise GanzooError(
                f"--samples {path} is a folder of images, but '{dataset.name}' holds samples of shape {shape}: "
                "pass its samples as an N x D array (.npz, .npy or .pt)."
            )
        values, fmt, digest, resized = _read_folder(path, shape, resize, dataset.name)
    elif path.suffix in (".npz", ".npy"):
        (values, array_name), fmt, digest = _read_numpy(path, key), path.suffix[1:], file_sha256(path)
        if array_name is not None:
            fmt = f"npz, array {array_name}"
        as_stored = list(values.shape)
        if images:  # clean-fid's layout: N x H x W x C
            values = _channels_first(values, path, shape)
    elif path.suffix == ".pt":
        values, fmt, digest = _read_torch(path), "pt", file_sha256(path)
        as_stored = list(values.shape)
        if images and values.dim() == 4 and values.shape[1] != shape[0] and values.shape[-1] == shape[0]:
            raise GanzooError(
                f"--samples {path} holds a tensor of shape {tuple(values.shape)}: N x H x W x C, it seems. A .pt "
                "holds images as PyTorch lays them out, N x C x H x W: save `images.permute(0, 3, 1, 2)`, or "
                "write an .npz, whose images are N x H x W x C (clean-fid's layout)."
            )
    else:
        raise GanzooError(
            f"--samples {path}: '{path.suffix}' is not a format ganzoo reads. Pass a folder of PNG or JPEG "
            "images, an .npz or .npy array, or a .pt tensor (docs/metrics.md, samples from another codebase)."
        )
    original = {"dtype": str(values.dtype).replace("torch.", ""), "shape": as_stored if not path.is_dir() else None}
    if not fmt.startswith("folder"):
        resized = None
        if images and tuple(values.shape[1:]) != shape:
            values, resized = _resize(values, shape, resize, path, dataset.name)
    if resize is not None and resized is None:
        resized = {"filter": resize, "applied": False, "why": "the samples already had the data set's size"}
    samples = _checked_values(values, path, images, float_range)
    if tuple(samples.shape[1:]) != shape:
        raise GanzooError(
            f"--samples {path} holds samples of shape {tuple(samples.shape[1:])}, and '{dataset.name}' holds "
            f"{shape}. Pass samples of the data set they claim to model (`--data`), in its shape."
        )
    if samples.is_floating_point() and not torch.isfinite(samples).all():
        raise GanzooError(f"--samples {path} holds NaN or infinite values: they cannot be measured. Fix the sampler.")
    if float_range != "-1,1" and not (images and values.is_floating_point()):
        raise GanzooError(
            f"--float-range {float_range} says what float images span; --samples {path} holds "
            f"{'uint8 images (0-255)' if values.dtype == torch.uint8 else 'flat samples'}. Drop --float-range."
        )
    provenance = {
        "label": label,
        "description": description,
        "path": str(path.resolve()),
        "format": fmt,
        "sha256": digest,
        "count": int(samples.shape[0]),
        "original": original,
        "float_range": float_range if images and values.is_floating_point() else None,
        "resize": resized,
    }
    return ExternalSamples(samples, provenance)


class SampleBank:
    """Stored samples, drawn as a generator is by the metrics: each random generator a metric
    brings (a fresh one per metric and evaluation) starts at the first sample and goes on in
    order, so every metric sees the same samples, as with a ganzoo run's fixed latent seed."""

    num_classes = 0
    latent_dim = 1  # torch-fidelity sizes its (unused) noise by it
    training = False

    def __init__(self, samples: torch.Tensor, device: torch.device):
        self.samples, self.device = samples, torch.device(device)
        self.output_shape = tuple(samples.shape[1:])
        self._cursors: list[list] = []  # [rng, position]: strong references, so no id is reused

    @property
    def available(self) -> int:
        return int(self.samples.shape[0])

    def sample(self, n: int, device=None, labels=None, generator=None, batch_size: int = 1024) -> torch.Tensor:
        cursor = next((c for c in self._cursors if c[0] is generator), None)
        if cursor is None:
            cursor = [generator, 0]
            self._cursors.append(cursor)
        start, stop = cursor[1], cursor[1] + n
        if stop > self.available:
            raise GanzooError(
                f"A metric asked for samples {start}-{stop - 1}, and only {self.available} were given. Pass more "
                "samples, or --eval-samples (the count each metric uses) no higher than that."
            )
        cursor[1] = stop
        drawn = self.samples[start:stop].to(device if device is not None else self.device)
        return to_float(drawn) if drawn.dtype == torch.uint8 else drawn  # as a generator's: [-1, 1]

    def sample_labels(self, n, device=None, generator=None):
        return None  # samples made elsewhere come without the classes they were asked for

    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def to(self, device):
        self.device = torch.device(device)
        return self


def _read_folder(path: Path, shape: tuple, resize: str | None, data: str) -> tuple[torch.Tensor, str, str, dict | None]:
    """uint8 N x C x H x W from the folder's images, in file-name order (each resized with
    `resize` when its size is not the data set's); one digest over the names and the files'
    own digests."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise GanzooError(
            f"--samples {path} holds no PNG or JPEG images (subfolders are not read). Write the samples there "
            "as .png files, all in that one folder."
        )
    mode = {1: "L", 3: "RGB"}.get(shape[0])
    if mode is None:
        raise GanzooError(f"The data set's images have {shape[0]} channels; image files hold 1 (grey) or 3 (RGB).")
    arrays, sizes, digest = [], set(), hashlib.sha256()
    for file in files:
        try:
            with Image.open(file) as image:
                image.load()
                if image.mode not in (mode, "P" if mode == "RGB" else mode):
                    raise GanzooError(
                        f"--samples {file} is {_describe_mode(image.mode)}, and the data set's images are "
                        f"{_describe_mode(mode)}. Save the samples as the real ones are, e.g. "
                        f"`Image.open(f).convert('{mode}').save(f)` with PIL if that conversion is what you mean "
                        "(plt.imsave writes RGBA even for grey images): ganzoo does not convert colours silently."
                    )
                sizes.add(image.size)
                image = image.convert(mode)
                if image.size != (shape[2], shape[1]) and resize is not None:
                    image = image.resize((shape[2], shape[1]), _pil_filter(resize))
                arrays.append(np.asarray(image))
        except (UnidentifiedImageError, OSError) as exc:
            raise GanzooError(f"--samples {file} cannot be read as an image ({exc}). Remove or rewrite it.") from None
        digest.update(file.name.encode())
        digest.update(file_sha256(file).encode())
    if len(sizes) > 1:
        raise GanzooError(
            f"--samples {path} mixes image sizes ({', '.join(f'{w}x{h}' for w, h in sorted(sizes))}): one model's "
            "samples share one size. Remove the others."
        )
    (width, height) = sizes.pop()
    if (height, width) != tuple(shape[1:]) and resize is None:
        raise GanzooError(_size_refused((height, width), shape, path, data))
    values = _stacked_nchw(arrays)
    record = None
    if (height, width) != tuple(shape[1:]):
        record = {"library": f"PIL {_pil_version()}", "filter": resize, "from": [height, width], "to": list(shape[1:])}
    kinds = sorted({"jpeg" if f.suffix.lower() in (".jpg", ".jpeg") else "png" for f in files})
    fmt = "folder of " + " and ".join(kinds) + (" (lossy: JPEG moves FID)" if "jpeg" in kinds else "")
    return values, fmt, digest.hexdigest(), record


def _describe_mode(mode: str) -> str:
    return {
        "L": "grey (8-bit, 1 channel)",
        "RGB": "colour (RGB, 3 channels)",
        "RGBA": "colour with transparency (RGBA, 4 channels)",
        "LA": "grey with transparency (LA, 2 channels)",
        "1": "black and white (1-bit)",
        "I;16": "16-bit grey",
        "I": "32-bit grey",
        "F": "floating-point grey",
    }.get(mode, f"a PIL {mode} image")


def _pil_version() -> str:
    import PIL

    return PIL.__version__


def _pil_filter(name: str):
    from PIL import Image

    return {
        "bicubic": Image.Resampling.BICUBIC,
        "bilinear": Image.Resampling.BILINEAR,
        "lanczos": Image.Resampling.LANCZOS,
        "nearest": Image.Resampling.NEAREST,
    }[name]


def _read_numpy(path: Path, key: str | None) -> tuple[torch.Tensor, str | None]:
    """The samples' array, and its name in an .npz (None for an .npy)."""
    import numpy as np

    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise GanzooError(f"--samples {path} cannot be read as a NumPy file ({exc}).") from None
    chosen = None
    if isinstance(loaded, np.ndarray):
        array = loaded
    else:
        names = list(loaded.files)
        chosen = key or (names[0] if len(names) == 1 else "arr_0" if "arr_0" in names else None)
        if chosen not in names:
            raise GanzooError(
                f"--samples {path} holds the arrays {', '.join(names) or '(none)'}"
                + (f", not '{key}'" if key else "")
                + ": name the one with the samples with --samples-key."
            )
        array = loaded[chosen]
    if array.dtype.kind not in "uif":
        raise GanzooError(f"--samples {path} holds {array.dtype} values, not numbers.")
    return torch.from_numpy(np.ascontiguousarray(array)), chosen


def _read_torch(path: Path) -> torch.Tensor:
    try:
        value = safe_torch_load(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise GanzooError(
            f"--samples {path} cannot be read as a tensor file ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
            "Save the samples with torch.save(tensor, path)."
        ) from None
    if not isinstance(value, torch.Tensor):
        raise GanzooError(
            f"--samples {path} holds a {type(value).__name__}, not a tensor: save the samples tensor alone."
        )
    return value


def _channels_first(values: torch.Tensor, path: Path, shape: tuple) -> torch.Tensor:
    if values.dim() == 3 and shape[0] == 1:  # N x H x W: grey images, unambiguous
        return values.unsqueeze(1).contiguous()
    if values.dim() != 4 or values.shape[-1] != shape[0]:
        hint = (
            " It looks like N x C x H x W: save `images.transpose(0, 2, 3, 1)`."
            if values.dim() == 4 and values.shape[1] == shape[0]
            else ""
        )
        raise GanzooError(
            f"--samples {path} holds an array of shape {tuple(values.shape)}; images in an .npz or .npy are N x H "
            f"x W x C (clean-fid's layout), here C = {shape[0]} for the data set's images {shape}.{hint}"
        )
    return values.permute(0, 3, 1, 2).contiguous()


def _resize(values: torch.Tensor, shape: tuple, resize: str | None, path: Path, data: str):
    if values.dim() != 4 or values.shape[1] != shape[0]:
        raise GanzooError(
            f"--samples {path} holds images of shape {tuple(values.shape[1:])}, and '{data}' holds {shape}: "
            f"{values.shape[1] if values.dim() == 4 else '?'} channels against {shape[0]}. Pass images with the "
            "data set's channels; ganzoo does not convert colours silently."
        )
    size = tuple(values.shape[2:])
    if resize is None:
        raise GanzooError(_size_refused(size, shape, path, data))
    if values.dtype != torch.uint8:
        raise GanzooError(
            f"--resize works on uint8 images (PIL's filters); --samples {path} holds {values.dtype}. Save uint8 "
            "images, or resize them where they are made."
        )
    import numpy as np
    from PIL import Image

    mode = "L" if shape[0] == 1 else "RGB"
    out = []
    for image in values.permute(0, 2, 3, 1).numpy():
        pil = Image.fromarray(image[..., 0] if shape[0] == 1 else image, mode)
        out.append(np.asarray(pil.resize((shape[2], shape[1]), _pil_filter(resize))))
    record = {"library": f"PIL {_pil_version()}", "filter": resize, "from": list(size), "to": list(shape[1:])}
    return _stacked_nchw(out), record


def _size_refused(size: tuple, shape: tuple, path: Path, data: str) -> str:
    return (
        f"--samples {path} holds {size[0]}x{size[1]} images, and '{data}' holds {shape[1]}x{shape[2]}. ganzoo "
        "does not resize silently: resizing moves FID by several points, and by how much depends on the "
        f"filter and library. Pass samples at {shape[1]}x{shape[2]}, or --resize bicubic (PIL's filter, as "
        "clean-fid) to resize them, which is then recorded."
    )


def _stacked_nchw(arrays: list) -> torch.Tensor:
    """PIL's images as NumPy arrays (H x W grey, H x W x C colour), stacked into uint8 N x C x H x W."""
    import numpy as np

    stacked = torch.from_numpy(np.stack(arrays))
    return (stacked.unsqueeze(1) if stacked.dim() == 3 else stacked.permute(0, 3, 1, 2)).contiguous()


def _checked_values(values: torch.Tensor, path: Path, images: bool, float_range: str) -> torch.Tensor:
    """uint8 images as they are (the bank turns them into [-1, 1] as it hands them out); float
    images checked and mapped to [-1, 1]; flat samples as floats."""
    if values.dtype == torch.uint8:
        if not images:
            raise GanzooError(f"--samples {path} holds uint8 values; flat samples (a 2D mixture's) are floats.")
        return values
    if not values.is_floating_point():
        raise GanzooError(
            f"--samples {path} holds {values.dtype} values: images are uint8 (0-255) or floats in [-1, 1], flat "
            "samples floats."
        )
    values = values.float()
    if not images:
        return values
    low, high = float(values.min()), float(values.max())
    if float_range == "0,1":
        if low < 0 or high > 1:
            raise GanzooError(f"--samples {path}: --float-range 0,1, yet the values span [{low:.3g}, {high:.3g}].")
        return values * 2 - 1
    if low < -1 - 1e-6 or high > 1 + 1e-6:
        raise GanzooError(
            f"--samples {path} holds float images spanning [{low:.3g}, {high:.3g}]; ganzoo reads float images in "
            "[-1, 1] (a tanh generator's range), or [0, 1] with --float-range 0,1. Rescale them, or save uint8."
        )
    if low >= 0:
        raise GanzooError(
            f"--samples {path} holds float images with no negative value (range [{low:.3g}, {high:.3g}]): they look "
            "like images in [0, 1], which read as [-1, 1] would be measured wrongly. Pass --float-range 0,1 if "
            "they are, or save them as uint8."
        )
    return values


def write_samples(samples: torch.Tensor, out: Path, images: bool) -> Path:
    """`ganzoo sample`'s samples in a format `read_samples` reads back: .pt (the float tensor
    as it is), .npz / .npy (images as N x H x W x C uint8, clean-fid's layout; flat samples as
    float32) or a folder of PNG images, numbered in order. Written whole or not at all."""
    import numpy as np

    samples = samples.detach().cpu()
    if out.suffix == ".pt":
        atomic_torch_save(samples, out)
        return out
    array = to_uint8(samples).permute(0, 2, 3, 1).numpy() if images else samples.float().numpy()
    if out.suffix in (".npz", ".npy"):
        buffer = io.BytesIO()
        if out.suffix == ".npz":
            np.savez(buffer, arr_0=array)
        else:
            np.save(buffer, array)
        atomic_write_bytes(out, buffer.getvalue())
        return out
    if not images:
        raise GanzooError(
            "A folder of images holds images; these samples are flat: write them to an .npz, .npy or .pt."
        )
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(array):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="png")
        atomic_write_bytes(out / f"{i:06d}.png", buffer.getvalue())
    return out
