"""Optional TensorBoard logging of a run (`--tensorboard`): losses, metrics and sample pictures."""

from __future__ import annotations

from pathlib import Path

from ganzoo.errors import GanzooError


class TensorBoard:
    """Optional TensorBoard logging: losses, metrics and sample pictures (`--tensorboard`)."""

    def __init__(self, log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GanzooError("--tensorboard needs the tensorboard package: pip install 'pyganzoo[tensorboard]' "
                              "(or pip install tensorboard).") from None
        self.writer = SummaryWriter(str(log_dir))

    def scalars(self, step: int, values: dict) -> None:
        for name, v in values.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(name, v, step)

    def evaluation(self, step: int, records: list[dict], picture: Path) -> None:
        for record in records:
            self.scalars(step, {f"{record['metric']}/{k}": v for k, v in record["results"].items()})
        if picture.is_file():
            import numpy as np
            from PIL import Image

            self.writer.add_image("samples", np.asarray(Image.open(picture).convert("RGB")), step,
                                  dataformats="HWC")

    def close(self) -> None:
        self.writer.close()
