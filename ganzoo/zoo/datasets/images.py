"""Image data sets: MNIST, Fashion-MNIST, CIFAR-10, Stacked MNIST, image folders.

Images are decoded once and kept as uint8 tensors (N, C, H, W); a batch is
converted to floats in [-1, 1] on the training device. Batches follow a seeded
permutation per epoch whose position is checkpointed, so a resumed run sees
the same batches as one that never stopped.

Where the files come from, in order: a local copy under the data root
(`--data-root`, else $GANZOO_DATA_ROOT, else ~/.cache/ganzoo/data), in either
ganzoo's layout (ROOT/mnist/train-images-idx3-ubyte[.gz]) or torchvision's
(ROOT/MNIST/raw/...); then torchvision's download into the root; else an error
that says which files to put where.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganzoo.core.data import Dataset, to_float
from ganzoo.errors import GanzooError
from ganzoo.plugin.hookspecs import hookimpl

ROOT_ENV = "GANZOO_DATA_ROOT"
SPLITS = ("train", "test")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise GanzooError(f"split must be one of {', '.join(SPLITS)}, got '{split}'.")


def data_root(root: str = "") -> Path:
    return Path(root or os.environ.get(ROOT_ENV) or Path.home() / ".cache" / "ganzoo" / "data").expanduser()


class ImageDataset(Dataset):
    """A finite set of uint8 images (and optional integer labels)."""

    def __init__(
        self,
        name: str,
        images: torch.Tensor,
        labels: torch.Tensor | None,
        num_classes: int,
        split: str,
        source: str,
        digit_classifier: str | None = None,
    ):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError("images must be a uint8 tensor of shape (N, C, H, W)")
        self.name, self.images, self.labels = name, images, labels
        self.num_classes, self.split, self.source = num_classes, split, source
        self.digit_classifier = digit_classifier
        self.offers = frozenset({"images", "digit-classes"} if digit_classifier else {"images"})

    @property
    def sample_shape(self):
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return self.images.shape[0]

    def get(self, index: torch.Tensor):
        """uint8 images and labels (or None) at `index`."""
        return self.images[index], None if self.labels is None else self.labels[index]

    def to(self, device) -> ImageDataset:
        """Keep the stored images on `device` (e.g. the GPU, when they fit)."""
        self.images = self.images.to(device)
        self.labels = None if self.labels is None else self.labels.to(device)
        return self

    def batches(self, batch_size, device, seed):
        if batch_size > len(self):
            raise GanzooError(f"Batch size {batch_size} is larger than data set '{self.name}' ({len(self)} images).")
        return _ImageBatches(self, batch_size, torch.device(device), seed)

    def describe(self):
        return {**super().describe(), "split": self.split, "num_images": len(self), "source": self.source}


class _ImageBatches:
    def __init__(self, dataset: ImageDataset, batch_size: int, device: torch.device, seed: int):
        self.dataset, self.batch_size, self.device = dataset, batch_size, device
        self.rng = torch.Generator().manual_seed(seed)
        self.order = torch.randperm(len(dataset), generator=self.rng)
        self.position = 0

    def next(self):
        if self.position + self.batch_size > len(self.order):  # new epoch; the ragged end is dropped
            self.order = torch.randperm(len(self.dataset), generator=self.rng)
            self.position = 0
        index = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        images, labels = self.dataset.get(index.to(self.dataset.images.device))
        images = to_float(images.to(self.device, non_blocking=True))
        return images, None if labels is None else labels.to(self.device, non_blocking=True)

    def state_dict(self):
        return {"rng": self.rng.get_state(), "order": self.order.clone(), "position": self.position}

    def load_state_dict(self, state):
        self.rng.set_state(state["rng"])
        self.order, self.position = state["order"], int(state["position"])


def resize(images: torch.Tensor, resolution: int, channels: int) -> torch.Tensor:
    """uint8 images to `resolution` x `resolution` with `channels` (1 -> 3 by repetition)."""
    if channels not in (1, 3):
        raise GanzooError(f"channels must be 1 or 3, got {channels}.")
    if images.shape[1] != channels:
        if images.shape[1] != 1:
            raise GanzooError(f"Cannot turn {images.shape[1]}-channel images into {channels}-channel ones.")
        images = images.repeat(1, channels, 1, 1)
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    if not 4 <= resolution <= 1024:
        raise GanzooError(f"resolution must be between 4 and 1024 pixels, got {resolution}.")
    out = torch.empty(images.shape[0], channels, resolution, resolution, dtype=torch.uint8)
    for start in range(0, images.shape[0], 4096):  # chunks keep the float copy small
        chunk = images[start : start + 4096].float()
        chunk = F.interpolate(
            chunk, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
        )
        out[start : start + 4096] = chunk.round_().clamp_(0, 255).to(torch.uint8)
    return out


# --- MNIST-style IDX files -------------------------------------------------------------

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# MD5 of the *decompressed* files: mirrors re-compress the .gz archives, so the
# archives' checksums differ while the content is the same.
IDX_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
TORCHVISION_CLASS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def _idx_candidates(name: str, root: Path) -> list[Path]:
    return [root / name, root / TORCHVISION_CLASS[name] / "raw", root]


def _find_idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_idx(path: Path, expected_md5: str) -> np.ndarray:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise GanzooError(f"{path} is not a valid gzip file ({exc}). Download it again.") from None
    digest = hashlib.md5(raw).hexdigest()
    if digest != expected_md5:
        raise GanzooError(
            f"{path} does not hold the expected data (MD5 of its content is {digest}, expected "
            f"{expected_md5}). It is damaged or a different file: download it again."
        )
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_idx(name: str, root: str, split: str, download: bool) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(images (N,1,28,28) uint8, labels (N,) int64, folder) for MNIST or Fashion-MNIST."""
    _check_split(split)
    base = data_root(root)
    stems = IDX_FILES[split]

    def locate():
        for folder in _idx_candidates(name, base):
            files = [_find_idx_file(folder, stem) for stem in stems]
            if all(files):
                return files
        return None

    files = locate()
    download_error = None
    if files is None and download:
        try:
            import torchvision.datasets as tvd

            getattr(tvd, TORCHVISION_CLASS[name])(str(base), train=split == "train", download=True)
        except Exception as exc:  # noqa: BLE001 - any download failure gets the same advice
            download_error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        files = locate()
    if files is None:
        tried = ", ".join(str(p) for p in _idx_candidates(name, base))
        why = (
            f"the download failed ({download_error})"
            if download_error
            else "downloading is off"
            if not download
            else "the download left no files"
        )
        raise GanzooError(
            f"Data set '{name}' ({split} split) was not found, and {why}. Put the files "
            f"{stems[0]}.gz and {stems[1]}.gz (or their uncompressed forms) in {base / name}, "
            f"or point --data-root (or ${ROOT_ENV}) at the folder that holds '{name}/'. "
            f"Looked in: {tried}."
        )
    images = _read_idx(files[0], IDX_MD5[name][stems[0]])
    labels = _read_idx(files[1], IDX_MD5[name][stems[1]])
    return (
        torch.from_numpy(images.copy()).unsqueeze(1),
        torch.from_numpy(labels.astype(np.int64)),
        str(files[0].parent.resolve()),
    )


def mnist_like(name: str):
    def factory(
        root: str = "", split: str = "train", resolution: int = 28, channels: int = 1, download: bool = True
    ) -> ImageDataset:
        images, labels, folder = load_idx(name, root, split, download)
        return ImageDataset(
            name, resize(images, resolution, channels), labels, 10, split, folder, digit_classifier=name
        )

    factory.__name__ = name.replace("-", "_")
    return factory


class StackedMNIST(ImageDataset):
    """Three independent MNIST digits as the R, G and B channels: 1,000 modes
    (VEEGAN, PacGAN). The label of a sample is its digit triple, 100*r + 10*g + b."""

    def __init__(self, mnist: ImageDataset, size: int, seed: int):
        super().__init__("stacked-mnist", mnist.images, mnist.labels, 1000, mnist.split, mnist.source)
        self.digit_classifier = "mnist"  # classifies each channel; the triple is the mode
        self.offers = frozenset({"images", "stacked-digits"})
        self.seed = seed
        generator = torch.Generator().manual_seed(seed)
        self.triples = torch.randint(len(mnist), (size, 3), generator=generator)

    @property
    def sample_shape(self):
        return (3, *self.images.shape[2:])

    def __len__(self):
        return self.triples.shape[0]

    def get(self, index):
        triples = self.triples[index.cpu()].to(self.images.device)
        images = self.images[triples.flatten()].view(len(index), 3, *self.images.shape[2:])
        digits = self.labels[triples]
        return images, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]

    def describe(self):
        return {**super().describe(), "num_modes": 1000, "triples_seed": self.seed}


def stacked_mnist(
    root: str = "",
    split: str = "train",
    size: int = 128_000,
    resolution: int = 28,
    seed: int = 0,
    download: bool = True,
) -> StackedMNIST:
    mnist = mnist_like("mnist")(root, split, resolution, 1, download)
    return StackedMNIST(mnist, size, seed)


def cifar10(root: str = "", split: str = "train", resolution: int = 32, download: bool = True) -> ImageDataset:
    import torchvision.datasets as tvd

    _check_split(split)
    base = data_root(root)
    for folder in (base / "cifar10", base):
        if (folder / "cifar-10-batches-py").is_dir():
            data = tvd.CIFAR10(str(folder), train=split == "train", download=False)
            break
    else:
        if not download:
            data = None
            error = "downloading is off"
        else:
            try:
                data = tvd.CIFAR10(str(base), train=split == "train", download=True)
            except Exception as exc:  # noqa: BLE001
                data, error = None, f"the download failed ({type(exc).__name__}: {exc})"
        if data is None:
            raise GanzooError(
                f"CIFAR-10 was not found, and {error}. Download cifar-10-python.tar.gz from "
                f"https://www.cs.toronto.edu/~kriz/cifar.html and unpack it so that "
                f"{base / 'cifar10' / 'cifar-10-batches-py'} exists, or point --data-root at its parent."
            )
    images = torch.from_numpy(data.data).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor(data.targets, dtype=torch.int64)
    return ImageDataset("cifar10", resize(images, resolution, 3), labels, 10, split, str(data.root))


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


def image_folder(path: str = "", resolution: int = 64, channels: int = 3) -> ImageDataset:
    """Every image under `path` (recursively), centre-cropped square and resized."""
    from PIL import Image, UnidentifiedImageError

    if not path:
        raise GanzooError("image-folder needs a folder: --data-opt path=/path/to/images.")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise GanzooError(f"image-folder: {folder} is not a folder.")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise GanzooError(f"image-folder: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {folder}.")
    images = torch.empty(len(files), channels, resolution, resolution, dtype=torch.uint8)
    for i, file in enumerate(files):
        try:
            with Image.open(file) as img:
                img = img.convert("L" if channels == 1 else "RGB")
                side = min(img.size)
                left, top = (img.width - side) // 2, (img.height - side) // 2
                img = img.crop((left, top, left + side, top + side)).resize(
                    (resolution, resolution), Image.Resampling.BICUBIC
                )
                array = np.asarray(img, dtype=np.uint8).reshape(resolution, resolution, channels)
        except (UnidentifiedImageError, OSError) as exc:
            raise GanzooError(f"image-folder: cannot read {file} ({exc}). Remove or fix it.") from None
        images[i] = torch.from_numpy(array.copy()).permute(2, 0, 1)
    return ImageDataset("image-folder", images, None, 0, "all", str(folder))


@hookimpl
def ganzoo_register_datasets(register):
    register("mnist", mnist_like("mnist"), description="MNIST digits, 28x28 grey, 10 classes")
    register("fashion-mnist", mnist_like("fashion-mnist"), description="Fashion-MNIST, 28x28 grey, 10 classes")
    register("cifar10", cifar10, description="CIFAR-10, 32x32 colour, 10 classes")
    register("stacked-mnist", stacked_mnist, description="3 MNIST digits as RGB channels, 1,000 modes")
    register("image-folder", image_folder, description="any folder of images, resized")
