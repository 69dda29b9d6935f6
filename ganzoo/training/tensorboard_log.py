"""TensorBoard logging of a run (`--tensorboard`): losses, metrics and sample pictures.

A built-in plugin of the run's lifecycle hooks (`ganzoo.plugin.hookspecs`), as an
experiment tracker (Weights & Biases, MLflow) would be written: it opens its writer when the
run starts, writes at each log line and evaluation, and closes when the run finishes.
"""

from __future__ import annotations

from pathlib import Path

from ganzoo.core.lifecycle import RunContext
from ganzoo.errors import GanzooError
from ganzoo.plugin.hookspecs import hookimpl
from ganzoo.runs.rundir import RunDir

KEY = "tensorboard"  # this plugin's writer, in RunContext.state


class TensorBoard:
    """Losses, metrics and sample pictures written to one TensorBoard log folder."""

    def __init__(self, log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter  # optional: pyganzoo[tensorboard]
        except ImportError:
            raise GanzooError(
                "--tensorboard needs the tensorboard package: pip install 'pyganzoo[tensorboard]' "
                "(or pip install tensorboard)."
            ) from None
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
            from PIL import Image  # torchvision's dependency, read only when there is a picture

            self.writer.add_image("samples", np.asarray(Image.open(picture).convert("RGB")), step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()


@hookimpl
def ganzoo_run_started(run: RunContext) -> None:
    if run.config.tensorboard and run.main:
        run.state[KEY] = TensorBoard(RunDir(run.out_dir).tensorboard_dir)


@hookimpl
def ganzoo_after_log(run: RunContext, record: dict) -> None:
    if KEY in run.state:
        run.state[KEY].scalars(
            record["step"],
            {"loss/d": record["d_loss"], "loss/g": record["g_loss"], "speed/steps_per_s": record["steps_per_second"]},
        )


@hookimpl
def ganzoo_after_evaluation(run: RunContext, step: int, records: list[dict], picture: Path) -> None:
    if KEY in run.state:
        run.state[KEY].evaluation(step, records, picture)


@hookimpl
def ganzoo_run_finished(run: RunContext) -> None:
    if KEY in run.state:
        run.state.pop(KEY).close()
