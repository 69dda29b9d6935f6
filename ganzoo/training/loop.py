"""The training loop: one orchestrator for a run, a torchrun rank and a seed-batched ensemble.

It reads top to bottom: open the run directories (resuming from their checkpoints), build
the players from names, write each run's config, then step, with the bookkeeping at
intervals (the training log, evaluations, checkpoints, the NaN check, Ctrl-C and SIGTERM).
The step itself is `training.step.train_step`, written once, following Goodfellow et al.
2014 and the theory notes; what it trains is a `Training` (one run, or one rank of one:
players.py) or an `Ensemble` of seeds (ensemble.py). The loop drives both alike: their
`members` are the runs, each with its own directory, and each a run to the lifecycle
hooks; schedules, ADA and TensorBoard are users of those hooks, not cases here.

Everything that decides the future of a run is in its checkpoint (state.py), so a resumed
run ends in the same state, bit for bit on CPU, as one that never stopped.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager

import torch
from tqdm import tqdm

from ganzoo.core.config import TrainConfig
from ganzoo.core.lifecycle import RunContext
from ganzoo.core.settings import jsonable
from ganzoo.errors import GanzooError, NonFiniteLossError
from ganzoo.evaluation.extractors import check_given_weights
from ganzoo.evaluation.plan import evaluate, plan_evaluation
from ganzoo.plugin.manager import blame, has_implementations, lifecycle, run_provenance
from ganzoo.runs.rundir import RunDir
from ganzoo.training.clock import TrainingClock
from ganzoo.training.compiling import mark_step_begin
from ganzoo.training.distributed import Ranks, check_in_step, ranks_from_environment, start, stop
from ganzoo.training.ensemble import Ensemble, build_ensemble
from ganzoo.training.flops import StepFlops
from ganzoo.training.opening import open_dataset, open_reference
from ganzoo.training.players import Training, build_training
from ganzoo.training.resolve import Resolved, eval_settings, pick_device, resolve
from ganzoo.training.resuming import open_run
from ganzoo.training.state import own_random_state, restore_training_state, training_state
from ganzoo.training.step import UpdateRule, set_learning_rates, train_step
from ganzoo.util.environment import environment


def train(config: TrainConfig | None, out_dir, *, resume: bool = False, progress: bool = True) -> dict:
    """Train one run into `out_dir`; returns a summary (final metrics, timings).

    With `resume=True`, continue the run saved in `out_dir` from its latest
    checkpoint. `config` may be None (the saved one is used); if given, it must
    describe the same experiment and may change only `steps`, the intervals
    and the device. One process at a time trains a run directory (a lock on it).
    Under torchrun, the N processes train one run together (see distributed.py).
    """
    ranks = ranks_from_environment()
    return _guarded([config], [RunDir(out_dir)], resume, progress, ranks, ensemble=False)[0]


def train_ensemble(configs: list[TrainConfig], out_dirs: list, *, progress: bool = False) -> list[dict]:
    """Train configurations that differ only in their seed as one seed-batched model
    (ensemble.py), into one run directory each; returns their summaries, as `train` returns
    each. Directories that hold the ensemble's checkpoints are resumed."""
    cfgs = [resolve(c) for c in configs]
    base = cfgs[0].identity() | {"seed": None}
    if any(c.identity() | {"seed": None} != base for c in cfgs) or len({c.seed for c in cfgs}) != len(cfgs):
        raise GanzooError(
            "A seed-batched ensemble trains one configuration with several seeds; these "
            "configurations differ in more than their seed, or repeat a seed."
        )
    runs = [RunDir(d) for d in out_dirs]
    saved = [run.has_checkpoint() for run in runs]
    if any(saved) and not all(saved):
        raise GanzooError(
            f"Of the ensemble's run directories only some hold a checkpoint ("
            f"{', '.join(str(r) for r, s in zip(runs, saved) if s)}): they were not written by one "
            "ensemble. Train these seeds into new folders."
        )
    ranks = ranks_from_environment()
    if ranks.active:
        raise GanzooError(
            "A seed-batched ensemble runs in one process: torchrun would split every seed's batch "
            "over processes that each hold all the seeds. Run the seeds as separate runs under "
            "torchrun, or the ensemble without it."
        )
    return _guarded(cfgs, runs, all(saved), progress, ranks, ensemble=True)  # one seed too: an ensemble of one


def _guarded(
    configs: list, runs: list[RunDir], resume: bool, progress: bool, ranks: Ranks, ensemble: bool
) -> list[dict]:
    """`_orchestrate`, with a plugin's own bug named (its traceback kept as the cause), and
    the run directories' locks and the process group released however it ends."""
    try:
        return _orchestrate(configs, runs, resume, progress, ranks, ensemble)
    except (GanzooError, KeyboardInterrupt):
        raise
    except Exception as exc:
        failure = blame(exc, "while training")
        if failure is None:
            raise
        raise failure from exc
    finally:
        if ranks.main:
            for run in runs:
                run.unlock()
        stop(ranks)


def _orchestrate(
    configs: list, dirs: list[RunDir], resume: bool, progress: bool, ranks: Ranks, ensemble: bool
) -> list[dict]:
    opened = [open_run(config, run, resume, ranks) for config, run in zip(configs, dirs)]
    if resume and all(o.finished is not None for o in opened):
        return [o.finished for o in opened]  # type: ignore[misc]  # nothing to do, nothing rewritten
    cfgs = [o.cfg for o in opened]
    cfg = cfgs[0]  # the runs differ in their seed alone
    # Every rank has passed the checks above before the group forms, and so before rank 0 writes.
    device = start(ranks, pick_device(cfg.device), cfg.batch_size)

    # --- build everything from names; each seed fixes its run's initial weights -----------
    dataset = open_dataset(cfg)
    players: Training | Ensemble = (
        build_ensemble(cfgs, dataset, device) if ensemble else build_training(cfg, dataset, device, ranks)
    )
    # Locate what the metrics need (extractor weights, classifier) before anything is written.
    check_given_weights(cfg.inception_weights)
    plan = plan_evaluation(dataset, eval_settings(cfg), lambda split: open_reference(cfg, dataset, split))
    start_step = 0
    if resume:
        steps = {restore_training_state(t, o.checkpoint) for t, o in zip(players.members, opened)}  # type: ignore[arg-type]
        if len(steps) != 1:
            raise GanzooError(
                f"The seeds' checkpoints are at different steps ({sorted(steps)}): they were not "
                "written by one ensemble. Train them as separate runs, or into new folders."
            )
        start_step = steps.pop()
        players.load_members()
        opened.clear()  # the checkpoints, restored: not kept in memory for the run
    runs = Runs(players, cfgs, dirs, ranks, start_step)
    used = run_provenance(cfg, plan.metrics)
    runs.write_configs(dataset, device, used, resumed=resume)
    runs.hook("ganzoo_run_started")  # the lifecycle hooks' plugins: schedules, ADA, TensorBoard...
    observe_steps = has_implementations("ganzoo_after_step")
    observe_reals = _reals_observer(players, runs.contexts)

    def evaluation(step: int) -> list[list[dict]]:
        return runs.evaluate(
            step,
            lambda t, c, picture: evaluate(
                t.ema if t.ema is not None else t.G,
                dataset,
                step,
                picture,
                seed=c.seed,
                generator_kind="ema" if t.ema is not None else "raw",
                plan=plan,
            ),
        )

    if start_step == 0:
        players.sync_members()
        runs.checkpoint(0)  # so even a run that diverges at once has a good checkpoint
        last_eval = evaluation(0)
    else:
        last_eval = [[] for _ in players.members]
    last_checkpoint_step = last_good_step = start_step

    # --- the loop -------------------------------------------------------------------
    for t in players.members:
        t.G.train()
        t.D.train()
    rule = UpdateRule.of(cfg)
    nonfinite = torch.zeros((), dtype=torch.bool, device=device)  # checked without a sync per step
    d_loss_sum = g_loss_sum = torch.zeros((), device=device)
    previous_log = dirs[0].read_train_log()  # a resumed run keeps counting its time
    clock = TrainingClock(previous_log[-1]["train_seconds"] if previous_log else 0.0)
    flops = StepFlops(cfg.reg_every)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    bar = tqdm(
        total=cfg.steps,
        initial=start_step,
        disable=not progress or not ranks.main,
        unit="step",
        dynamic_ncols=True,
        mininterval=0.5,
        desc=f"{cfg.arch}/{cfg.loss}/{cfg.data}",
    )
    with _stop_on_interrupt() as interrupted:
        for step in range(start_step, cfg.steps):
            set_learning_rates(players, step)
            runs.hook("ganzoo_before_step", step=step)
            players.step = step
            # Counted in the warm-up window; not a first step that compiles (--compile) or traces (an ensemble).
            counting = not clock.warmed_up and not (players.traces_first_step and step == start_step)
            if cfg.compile:
                mark_step_begin(device)  # CUDA graphs may now reuse the last step's output memory
            with flops.around_step(warming_up=counting), clock.first_step(step == start_step, device):
                d_loss, g_loss = train_step(players, rule, observe_reals)

            # Bookkeeping at intervals; `done` generator steps are complete.
            done = step + 1
            nonfinite = nonfinite | ~(torch.isfinite(d_loss) & torch.isfinite(g_loss))
            d_loss_sum, g_loss_sum = d_loss_sum + d_loss, g_loss_sum + g_loss
            clock.count_step()
            bar.update(1)
            if observe_steps:
                runs.hook("ganzoo_after_step", step=done)
            at_end = done == cfg.steps
            log_now = done % cfg.log_every == 0 or at_end
            eval_now = done % cfg.eval_every == 0 or at_end
            checkpoint_now = done % cfg.checkpoint_every == 0 or at_end
            stopping = ranks.any(interrupted.is_set())  # every rank stops at the same step
            if not (log_now or eval_now or checkpoint_now or stopping):
                continue
            if ranks.any(bool(nonfinite.any().item())):  # waits for the device: the window's time below is complete
                bar.close()
                raise NonFiniteLossError(
                    _diverged(players, dirs, nonfinite, d_loss, g_loss, last_good_step, done, last_checkpoint_step)
                )
            clock.close_window()  # training time only: evaluation and checkpoints run outside the windows
            players.sync_members()
            if log_now or checkpoint_now or stopping:
                steps_logged, speed = clock.take_log_interval()
                means = ranks.mean(torch.stack([d_loss_sum, g_loss_sum], dim=-1)) / steps_logged  # (..., 2)
                mean_d, mean_g = runs.log(done, means, speed, clock.train_seconds)
                bar.set_postfix(d_loss=f"{mean_d:.3f}", g_loss=f"{mean_g:.3f}", refresh=False)
                d_loss_sum = g_loss_sum = torch.zeros((), device=device)
            if eval_now:
                last_eval = evaluation(done)
            stopping = ranks.any(interrupted.is_set())  # Ctrl-C may arrive during the evaluation
            if checkpoint_now or stopping:
                runs.checkpoint(done)
                last_checkpoint_step = done
            last_good_step = done
            clock.open_window()
            if stopping:
                bar.close()
                again = (
                    f"ganzoo train --out {dirs[0]} --resume"
                    if not ensemble
                    else "the same command (the ensemble resumes from its seeds' checkpoints)"
                )
                raise KeyboardInterrupt(f"interrupted at step {done}; checkpoint saved. Continue with: {again}")
    bar.close()
    throughput = players.describe_throughput(flops.add_to(clock.throughput(cfg, device), device, cfg.precision))
    return runs.finish(last_eval, clock.train_seconds, throughput, used)


class Runs:
    """The runs one loop trains (one, or an ensemble's seeds): each one's directory, what it
    writes there, and its lifecycle hooks. Rank 0 alone writes under torchrun."""

    def __init__(
        self, players: Training | Ensemble, cfgs: list[Resolved], dirs: list[RunDir], ranks: Ranks, start_step: int
    ):
        self.players, self.cfgs, self.dirs, self.ranks = players, cfgs, dirs, ranks
        # What plugins observing each run see (core.lifecycle).
        self.contexts = [
            RunContext(config=c, out_dir=run.path, start_step=start_step, training=t, main=ranks.main)
            for c, t, run in zip(cfgs, players.members, dirs)
        ]
        self.start_step = start_step

    def hook(self, name: str, **arguments) -> None:
        for context in self.contexts:
            lifecycle(name, run=context, **arguments)

    def write_configs(self, dataset, device: torch.device, used: dict, resumed: bool) -> None:
        if not self.ranks.main:
            return
        # What every run shares (the same data, machine and plugins), gathered once.
        shared = {
            "data": dataset.describe(),
            "environment": environment(device),
            "provenance": used,
            **self.players.describe(),
        }
        for c, t, run in zip(self.cfgs, self.players.members, self.dirs):
            if resumed:
                run.drop_records_after(self.start_step)
            run.path.mkdir(parents=True, exist_ok=True)
            run.lock()
            run.write_config({"train": c.to_dict(), "architecture": jsonable(t.arch_config), **shared})

    def log(self, step: int, means: torch.Tensor, speed: float | None, train_seconds: float) -> tuple[float, float]:
        """Each run's training-log line from its mean losses since the last (`means[..., 0]` D's,
        `[..., 1]` G's), with what `ganzoo_log_values` adds; returns the last run's means."""
        for run, context, own in zip(self.dirs, self.contexts, self.players.per_member(means)):
            mean_d, mean_g = own.tolist()
            record = {
                "step": step,
                "d_loss": mean_d,
                "g_loss": mean_g,
                "steps_per_second": speed,
                "train_seconds": round(train_seconds, 3),
                **self.players.log_fields(),
            }
            for values in lifecycle("ganzoo_log_values", run=context, step=step, returns=dict):
                record = {**values, **record}  # a plugin adds values; it cannot overwrite the loop's
            if self.ranks.main:
                run.append_train_log(record)
            lifecycle("ganzoo_after_log", run=context, record=record)
        return mean_d, mean_g

    def evaluate(self, step: int, measure: Callable) -> list[list[dict]]:
        """Each run's evaluation (`measure(training, cfg, picture)`, on rank 0), recorded."""
        if not self.ranks.main:
            self.ranks.barrier()  # wait for rank 0's evaluation
            return [[] for _ in self.dirs]
        done = []
        for c, t, run, context in zip(self.cfgs, self.players.members, self.dirs, self.contexts):
            picture = run.sample_picture(step)
            records = measure(t, c, picture)
            for record in records:
                run.append_metrics(record)
            lifecycle("ganzoo_after_evaluation", run=context, step=step, records=records, picture=picture)
            done.append(records)
        self.ranks.barrier()
        return done

    def checkpoint(self, step: int) -> None:
        for t, run, context in zip(self.players.members, self.dirs, self.contexts):
            check_in_step(self.ranks, {"G": t.G, "D": t.D}, step)
            state = training_state(t, step)
            if self.ranks.active:  # what each rank draws alone
                state["ranks"] = self.ranks.gather(own_random_state(t))
            if self.ranks.main:
                run.save_checkpoint(state)
                lifecycle("ganzoo_after_checkpoint", run=context, step=step, path=run.checkpoint_path)

    def finish(self, last_eval: list[list[dict]], train_seconds: float, throughput: dict, used: dict) -> list[dict]:
        summaries = []
        for c, run, context, records in zip(self.cfgs, self.dirs, self.contexts, last_eval):
            summary = {
                "out_dir": str(run),
                "steps": c.steps,
                "train_seconds": round(train_seconds, 3),
                "throughput": throughput,
                "metrics": {r["metric"]: r["results"] for r in records},
                "provenance": used,
            }
            if self.ranks.main:
                run.write_summary(summary)
            lifecycle("ganzoo_run_finished", run=context, summary=summary)
            summaries.append(summary)
        return summaries


def _reals_observer(players: Training | Ensemble, contexts: list[RunContext]) -> Callable | None:
    """What the step calls after each D update with D's logits on the reals: the runs'
    `ganzoo_after_discriminator_step` hooks (ADA's controller), each with its own run's."""
    if not has_implementations("ganzoo_after_discriminator_step"):
        return None

    def observe(real_logits: torch.Tensor) -> None:
        for context, own in zip(contexts, players.per_member(real_logits)):
            lifecycle("ganzoo_after_discriminator_step", run=context, real_logits=own)

    return observe


def _diverged(
    players,
    runs: list[RunDir],
    nonfinite: torch.Tensor,
    d_loss,
    g_loss,
    last_good_step: int,
    done: int,
    last_checkpoint_step: int,
) -> str:
    if isinstance(players, Training):
        return (
            f"Training diverged: a loss became NaN or infinite between step {last_good_step} and "
            f"step {done} (d_loss={d_loss.item():.4g}, g_loss={g_loss.item():.4g}). The run "
            f"stopped; the last good checkpoint is {runs[0].checkpoint_path} (step {last_checkpoint_step}). "
            "Lower the learning rates (--g-lr/--d-lr), try another --loss, or add --reg r1."
        )
    bad = [t.cfg.seed for t, flag in zip(players.members, players.per_member(nonfinite)) if flag]
    return (
        f"Training diverged: a loss of seed(s) {bad} became NaN or infinite between step {last_good_step} "
        f"and step {done}. The ensemble stopped; its seeds' last good checkpoints are at step "
        f"{last_checkpoint_step}. Lower the learning rates, or train the seeds as separate runs."
    )


#: Ctrl-C, and what Slurm, Kubernetes and Ray send before they kill a job.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _stop_on_interrupt():
    """First Ctrl-C or SIGTERM: finish the current step, checkpoint, stop. Second: stop at once."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum, frame):
        if event.is_set():
            raise KeyboardInterrupt
        event.set()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
