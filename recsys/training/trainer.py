"""The one trainer every recommender goes through.

``train(model, split, config)`` runs epochs under an epoch and/or wall-clock budget,
validates every ``eval_every`` epochs on NDCG@10 (configurable), stops early after
``patience`` validations without improvement, and restores the best checkpoint; with
``checkpoint`` set, an interrupted run resumes from its last finished epoch (``checkpoint.py``).
``run_experiment`` wraps data loading, seeding, training, test evaluation and cost.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import random
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from agenticrs.recsys.data.dataset import Dataset, EvalSplit, Split
from agenticrs.recsys.evaluation.cost import Cost, count_parameters, peak_memory_mb
from agenticrs.recsys.evaluation.evaluator import DEFAULT_KS, evaluate
from agenticrs.recsys.models.base import Recommender, build_config, coerce, get_model
from agenticrs.recsys.training import checkpoint as ckpt


class DivergenceError(RuntimeError):
    """The training loss became NaN or infinite."""


def _real(value: Any) -> bool:
    """A real number (Python or NumPy, not bool) that is not NaN."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def _integer(value: Any) -> bool:
    """An integer (Python or NumPy, not bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def validation_subset(valid: EvalSplit, config: TrainConfig) -> EvalSplit:
    """The users early stopping watches: all of ``valid``, or ``config.valid_max_users`` of them
    chosen by ``config.valid_subset`` (a random sample keeps user order and uses its own
    generator, so the training stream of ``config.seed`` is the same either way)."""
    n = len(valid.targets)
    if config.valid_max_users is None or config.valid_max_users >= n:
        return valid
    if config.valid_subset == "first":
        idx = np.arange(config.valid_max_users)
    else:
        idx = np.sort(np.random.default_rng([config.seed, 0x5EED]).choice(n, config.valid_max_users, replace=False))
    return EvalSplit(valid.users[idx], [valid.histories[i] for i in idx], valid.targets[idx])


@dataclass
class TrainConfig:
    """Training settings shared by every model (architecture lives in the model's Config)."""

    epochs: int = 50
    """Maximum number of epochs."""
    max_seconds: float | None = None
    """Wall-clock budget for training; checked after every batch. ``None`` = unlimited."""
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    precision: str = "fp32"
    """``fp32``, or ``bf16``: the loss's forward pass runs under ``torch.autocast`` in bfloat16
    (parameters, optimiser state and evaluation stay fp32). On a CPU with native bf16 it was 13%
    slower than fp32 for TIGER and 1.2x faster for LWGR (``generative_speed.json``); on one without
    (AVX2 only) it is emulated and 7-8x slower than fp32, and ``train`` warns; on CUDA it uses the
    tensor cores."""
    grad_clip: float = 5.0
    """Gradient-norm clip; 0 disables."""
    patience: int = 5
    """Validations without improvement before stopping; 0 disables early stopping."""
    eval_every: int = 1
    """Validate every this many epochs."""
    valid_metric: str = "ndcg@10"
    valid_max_users: int | None = None
    """Validate on N users only (cheaper); the final report uses all users."""
    valid_subset: str = "first"
    """Which ``valid_max_users`` users: ``first`` (the first N in user order, what the committed
    tables used) or ``random`` (a sample drawn with ``seed``). User order follows the source's
    ids, which need not be random: on Beauty the first 2,000 users score about half the NDCG of
    all users, so ``random`` is the unbiased choice for new runs."""
    eval_batch_size: int = 1024
    exclude_history: bool = True
    ks: tuple[int, ...] = DEFAULT_KS
    seed: int = 0
    device: str = "auto"
    """``auto`` picks CUDA when available, else CPU."""
    logdir: str | None = None
    """TensorBoard log directory; ``None`` disables logging."""
    progress: bool = True
    """Show progress on stderr: a tqdm bar over epochs on a terminal; otherwise (a log file, a
    pipe, CI) plain lines (``progress.ProgressLines``): epoch, loss, validation metric and time
    elapsed, at most every 10 s, plus a heartbeat every minute within a long epoch."""
    checkpoint: str | None = None
    """File to save the whole training state to after every epoch; when it exists, training
    resumes from it (same run only: see ``agenticrs.recsys.training.checkpoint``). ``max_seconds``
    then counts the seconds of every session. Kept when training ends; the caller deletes it."""

    def __post_init__(self) -> None:
        """Refuse values that would train on nonsense (``epochs=-1`` ran 0 epochs and reported NaN
        metrics): one ``ValueError`` naming the field, before any work."""

        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"TrainConfig: field {name!r} must be {rule}, got {getattr(self, name)!r}")

        for name in ("epochs", "batch_size", "eval_every", "eval_batch_size"):
            value = getattr(self, name)
            if not _integer(value) or value < 1:
                raise bad(name, "an integer >= 1")
        for name in ("patience", "seed"):
            value = getattr(self, name)
            if not _integer(value) or value < 0:
                raise bad(name, "an integer >= 0")
        if self.valid_max_users is not None and (not _integer(self.valid_max_users) or self.valid_max_users < 1):
            raise bad("valid_max_users", "None or an integer >= 1")
        if self.max_seconds is not None and not (_real(self.max_seconds) and 0 < self.max_seconds < math.inf):
            raise bad("max_seconds", "None or a finite number of seconds > 0")
        if not (_real(self.lr) and 0 < self.lr < math.inf):
            raise bad("lr", "a finite number > 0")
        for name in ("weight_decay", "grad_clip"):
            value = getattr(self, name)
            if not (_real(value) and 0 <= value < math.inf):
                raise bad(name, "a finite number >= 0")
        if self.precision not in ("fp32", "bf16"):
            raise bad("precision", "'fp32' or 'bf16'")
        if self.valid_subset not in ("first", "random"):
            raise bad("valid_subset", "'first' or 'random'")
        if not self.ks or any(not _integer(k) or k < 1 for k in self.ks):
            raise bad("ks", "a non-empty tuple of integer cut-offs >= 1")
        metrics = [f"{m}@{k}" for m in ("ndcg", "recall", "mrr") for k in self.ks]
        if self.valid_metric not in metrics:
            raise bad("valid_metric", f"one of the computed metrics ({', '.join(metrics)})")


@dataclass
class TrainResult:
    """What ``train`` returns: the best validation metrics and the training history."""

    best_valid: dict[str, float]
    best_epoch: int
    epochs_run: int
    train_seconds: float
    stopped_because: str
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_after: list[int] = field(default_factory=list)
    """The epochs after which an interrupted run was resumed from its checkpoint (empty: one go)."""


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def cpu_bf16_native() -> bool:
    """Whether this CPU computes bfloat16 natively, as oneDNN reports it (AVX-512 or AMX).

    Without it (AVX2-only CPUs such as AMD Zen 3), ``torch.autocast`` bf16 on CPU is emulated:
    ``benchmarks/results/generative_speed_avx2.json`` measured it 7-8x slower than fp32 there.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _summary_writer(logdir: str | None) -> Any:
    if not logdir:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(logdir)


def _write_scalars(writer: Any, record: dict[str, float], step: int) -> None:
    """Every entry of ``record`` but its ``epoch`` as a TensorBoard scalar at ``step``."""
    for k, v in record.items():
        if k != "epoch":
            writer.add_scalar(k, v, step)


@dataclass
class _Progress:
    """Where a run stands after its last finished epoch: what a checkpoint keeps and a resume restores.

    ``best_state`` is a copy of the model's state_dict at ``best_epoch``; ``bad_evals`` counts the
    validations since then without improvement; ``stopped`` stays "epochs" until a budget ends the run.
    """

    best_score: float = -math.inf
    best_epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    bad_evals: int = 0
    stopped: str = "epochs"
    epoch: int = 0
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_after: list[int] = field(default_factory=list)

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any]) -> _Progress:
        """The progress saved in a checkpoint; a run interrupted mid-way records where it resumed."""
        progress = cls(**{f.name: saved[f.name] for f in dataclasses.fields(cls)})
        if not saved["finished"]:
            progress.resumed_after = [*progress.resumed_after, progress.epoch]
        return progress

    def state(self) -> dict[str, Any]:
        """The fields as a checkpoint stores them (no copies: ``ckpt.save`` serialises them at once)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def observe(self, score: float, metrics: dict[str, float], model: Recommender) -> None:
        """Early-stopping bookkeeping for one validation at ``self.epoch``."""
        if score > self.best_score:
            self.best_score, self.best_epoch, self.best_metrics, self.bad_evals = score, self.epoch, metrics, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad_evals += 1


def _train_epoch(model: Recommender, split: Split, config: TrainConfig, opt: torch.optim.Optimizer,
                 rng: np.random.Generator, device: torch.device, progress: _Progress,
                 out_of_time: Callable[[], bool],
                 on_batch: Callable[[int, float], None] | None = None) -> tuple[dict[str, float], bool]:
    """One pass over ``split.train`` (cut short when ``out_of_time()``): the epoch's record, and
    whether the time budget ran out during it. Counts optimiser steps in ``progress.step`` and
    calls ``on_batch(batches so far, mean loss so far)`` after each batch (progress lines).

    Raises:
        DivergenceError: the loss became NaN/inf.
    """
    model.train()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    epoch_start, loss_sum, n_batches, timed_out = time.perf_counter(), 0.0, 0, False
    for batch in model.batches(split.train, config.batch_size, rng):
        batch = _to_device(batch, device)
        with autocast:
            loss = model.loss(batch)
        if not torch.isfinite(loss):
            raise DivergenceError(
                f"{model.name}: training loss is {loss.item()} at epoch {progress.epoch}, batch {n_batches + 1} "
                f"(lr={config.lr}); lower the learning rate or check the data"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        loss_sum += float(loss.detach())
        n_batches += 1
        progress.step += 1
        if on_batch is not None:
            on_batch(n_batches, loss_sum / n_batches)
        if out_of_time():
            timed_out = True
            break
    seconds = time.perf_counter() - epoch_start
    record = {"epoch": float(progress.epoch), "train/loss": loss_sum / max(n_batches, 1),
              "time/epoch_seconds": seconds, "time/sequences_per_second": len(split.train) / max(seconds, 1e-9)}
    if hasattr(model, "train_metrics"):  # model-specific epoch statistics (e.g. LWGR's multiplier)
        record.update(model.train_metrics())
    return record, timed_out


def _evaluation_cost(model: Recommender, valid: EvalSplit, config: TrainConfig, seconds: float) -> float:
    """Seconds per user that evaluating ``model`` costs, measured before training for a deadline.

    A first call pays one-off costs (allocations, kernels) and small batches waste vectorisation
    (SASRec on Beauty: 2.0 ms/user over 64 users, 0.6 over all), so after an 8-user warm-up it
    times growing prefixes of ``valid`` (64, 128, ... users) until one evaluation batch or about
    ``seconds`` of measuring, and returns the fastest: on a shared machine one measurement can
    catch a burst of other work (TIGER on Scientific: 43 ms/user once, 15-25 otherwise), and the
    deadline keeps a margin on top.
    """
    def timed(n: int) -> float:
        r = evaluate(model, valid, config.ks, exclude_history=config.exclude_history,
                     batch_size=config.eval_batch_size, max_users=n)
        return r.seconds / max(r.n_users, 1)

    largest = min(len(valid.targets), config.eval_batch_size)
    timed(min(8, largest))
    n, spent, costs = min(64, largest), 0.0, []
    while True:
        costs.append(timed(n))
        spent += costs[-1] * n
        if n >= largest or spent >= seconds:
            return min(costs)
        n = min(2 * n, largest)


def train(model: Recommender, split: Split, config: TrainConfig, *, deadline: float | None = None,
          reserve_users: int = 0) -> TrainResult:
    """Train ``model`` in place on ``split.train`` and leave it at its best validation checkpoint.

    Args:
        model: the recommender, trained in place.
        split: its data.
        config: the training settings.
        deadline: a ``time.perf_counter()`` value by which the caller's whole run must end (the
            CLI's ``--max-seconds``). Training stops (``stopped_because="max_seconds"``) once the
            time left would not cover the validation that follows and the evaluation of
            ``reserve_users`` more users (the caller's test evaluation). Evaluation cost per user
            is measured before training (``_evaluation_cost``), then at every validation.
            Unlike ``config.max_seconds`` it bounds this session only. ``None``: no deadline.
        reserve_users: users the caller evaluates after ``train`` returns (see ``deadline``).

    Raises:
        DivergenceError: the loss became NaN/inf (named with epoch and batch), instead of
            training on garbage or hanging.
    """
    from tqdm.auto import tqdm

    from agenticrs.recsys.training.progress import ProgressLines, format_seconds

    device = resolve_device(config.device)
    if config.precision == "bf16" and device.type == "cpu" and not cpu_bf16_native():
        # Not an error: the numbers are right, only slow; but a run capped by max_seconds would
        # silently train far fewer epochs than on a bf16 CPU, so say it up front.
        warnings.warn(
            "TrainConfig.precision='bf16' on a CPU without native bfloat16 (oneDNN reports none, "
            f"capability {torch.backends.cpu.get_cpu_capability()}): autocast is emulated and several "
            "times slower than fp32 here; use precision='fp32'", RuntimeWarning, stacklevel=2)
    model.to(device)
    rng = np.random.default_rng(config.seed)
    writer = _summary_writer(config.logdir)
    start = time.perf_counter()
    model.fit(split)
    valid_split = validation_subset(split.valid, config)

    eval_seconds_per_user = [0.0]  # the latest measurement, for the deadline

    def validate() -> dict[str, float]:
        result = evaluate(
            model,
            valid_split,
            config.ks,
            exclude_history=config.exclude_history,
            batch_size=config.eval_batch_size,
        )
        eval_seconds_per_user[0] = result.seconds / max(result.n_users, 1)
        return result.metrics

    if not model.trainable or not any(p.requires_grad for p in model.parameters()):
        metrics = validate()
        if writer:
            _write_scalars(writer, {f"valid/{k}": v for k, v in metrics.items()}, 0)
            writer.close()
        return TrainResult(metrics, 0, 0, time.perf_counter() - start, "closed-form", [metrics])

    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    fp = ckpt.fingerprint(model, config) if config.checkpoint else {}
    saved = ckpt.load(config.checkpoint, fp) if config.checkpoint else None
    progress = _Progress()
    if saved is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        ckpt.restore_random_state(rng, saved["random"])
        progress = _Progress.from_checkpoint(saved)
        start = time.perf_counter() - saved["seconds"]  # the budget spans every session

    def evaluation_left() -> float:
        """Seconds the next validation and the caller's evaluation will take, with a 50% margin: on a
        shared 2-core machine (load 8) TIGER's test evaluation ran 1.5x slower than measured before
        training, and a 600 s run then ended at 655 s."""
        return 1.5 * eval_seconds_per_user[0] * (len(valid_split.targets) + reserve_users)

    def out_of_time() -> bool:
        now = time.perf_counter()
        if config.max_seconds is not None and now - start > config.max_seconds:
            return True
        return deadline is not None and now + evaluation_left() > deadline

    first = progress.epoch + 1 if saved is None or not saved["finished"] else config.epochs + 1
    on_terminal = config.progress and sys.stderr.isatty()
    lines = ProgressLines(model.name, config.epochs, start=start) if config.progress and not on_terminal else None
    if deadline is not None and first <= config.epochs:
        # Measuring costs at most ~5% of the time left (2 s at most): enough for two TIGER prefixes.
        eval_seconds_per_user[0] = _evaluation_cost(model, valid_split, config,
                                                    seconds=min(2.0, 0.05 * (deadline - time.perf_counter())))
        left, needed = deadline - time.perf_counter(), evaluation_left()
        if left < needed and config.progress:
            print(f"train {model.name}: the time budget leaves {format_seconds(max(left, 0))} but evaluation "
                  f"alone needs about {format_seconds(needed)}; training one batch only", file=sys.stderr, flush=True)
    bar = tqdm(range(first, config.epochs + 1), desc=f"train {model.name}", disable=not on_terminal,
               leave=False, initial=first - 1, total=config.epochs)
    try:
        for epoch in bar:
            progress.epoch = epoch
            on_batch = None if lines is None else lambda n, loss, e=epoch: lines.batch(e, n, loss)
            record, timed_out = _train_epoch(model, split, config, opt, rng, device, progress, out_of_time,
                                             on_batch)
            if epoch % config.eval_every == 0 or timed_out or epoch == config.epochs:
                metrics = validate()
                record.update({f"valid/{k}": v for k, v in metrics.items()})
                if config.valid_metric not in metrics:
                    raise ValueError(f"valid_metric {config.valid_metric!r} not among {sorted(metrics)}")
                progress.observe(metrics[config.valid_metric], metrics, model)
                bar.set_postfix(loss=f"{record['train/loss']:.4f}",
                                **{config.valid_metric: f"{metrics[config.valid_metric]:.4f}"})
            progress.history.append(record)
            if writer:
                _write_scalars(writer, record, epoch)
            if timed_out:
                progress.stopped = "max_seconds"
            elif config.patience and progress.bad_evals >= config.patience:
                progress.stopped = "early_stopping"
            if lines is not None:
                value = record.get(f"valid/{config.valid_metric}")
                lines.epoch(epoch, record["train/loss"], config.valid_metric, value, progress.best_score,
                            progress.best_epoch, last=progress.stopped != "epochs" or epoch == config.epochs)
            if config.checkpoint:  # the epoch is done: an interruption from here on loses nothing
                ckpt.save(config.checkpoint, {
                    "model": model.state_dict(), "optimizer": opt.state_dict(), "random": ckpt.random_state(rng),
                    **progress.state(), "finished": progress.stopped != "epochs" or epoch == config.epochs,
                    "seconds": time.perf_counter() - start}, fp)
            if progress.stopped != "epochs":
                break
    finally:
        bar.close()
        if writer:
            writer.close()
    if progress.best_state is not None:
        model.load_state_dict(progress.best_state)
    return TrainResult(progress.best_metrics, progress.best_epoch, progress.epoch, time.perf_counter() - start,
                       progress.stopped, progress.history, progress.resumed_after)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # NamedTuple
        return type(batch)(*(_to_device(b, device) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


@dataclass
class ExperimentResult:
    """One trained and evaluated model: the ``--json`` schema of ``agenticrs recsys train``."""

    model: str
    data: str
    config: dict[str, Any]
    valid: dict[str, float]
    test: dict[str, float]
    cost: dict[str, float]
    train: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def split_overrides(model_cls: type[Recommender], overrides: dict[str, Any]) -> tuple[dict, dict]:
    """Route ``key=value`` overrides to the model Config or the TrainConfig by field name."""
    model_fields = {f.name for f in dataclasses.fields(model_cls.Config)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - model_fields - train_fields)
    if unknown:
        raise ValueError(
            f"unknown setting(s) {unknown} for model {model_cls.name!r}; "
            f"model fields: {sorted(model_fields)}; training fields: {sorted(train_fields)}"
        )
    return (
        {k: v for k, v in overrides.items() if k in model_fields},
        {k: v for k, v in overrides.items() if k in train_fields and k not in model_fields},
    )


def build_train_config(overrides: dict[str, Any] | None = None, **base: Any) -> TrainConfig:
    """A TrainConfig from keyword defaults plus string-or-typed overrides (CLI ``--set``)."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    values = dict(base)
    for k, v in (overrides or {}).items():
        f = fields[k]
        if k == "ks" and isinstance(v, str):
            values[k] = tuple(int(x) for x in v.split(","))
        elif f.default is None and isinstance(v, str):  # an optional field: its annotation names the type
            kind = {"int | None": int, "float | None": float}.get(str(f.type), str)
            try:
                values[k] = None if v.lower() == "none" else kind(v)
            except ValueError:
                raise ValueError(f"train: field {k!r} expects {kind.__name__} or none, got {v!r}") from None
        else:
            values[k] = coerce(f, v, "train")
    return TrainConfig(**values)


def run_experiment(
    dataset: Dataset,
    model: str | type[Recommender],
    model_config: dict[str, Any] | None = None,
    train_config: TrainConfig | None = None,
    split: Split | None = None,
    after: Callable[[Recommender, Split], None] | None = None,
    deadline: float | None = None,
) -> ExperimentResult:
    """Seed, build, train and test one model; the building block of the CLI and the live backend.

    ``after(model, split)``, when given, sees the trained model before it is dropped (e.g. a
    benchmark's extra measurements). ``deadline`` (a ``time.perf_counter()`` value) bounds the
    whole call: building the model (semantic ids included) uses part of it, and training stops
    early enough for the final evaluations to end by it (see ``train``); only a model whose
    construction alone overruns it, or a single batch, can overshoot.
    """
    train_config = train_config or TrainConfig()
    cls = get_model(model)
    cfg = build_config(cls, model_config)
    seed_everything(train_config.seed)
    split = split or dataset.split()
    device = resolve_device(train_config.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    net = cls(dataset.n_items, dataset.n_users, cfg, dataset)
    final_users = len(split.test.targets) + (len(split.valid.targets) if train_config.valid_max_users is not None else 0)
    result = train(net, split, train_config, deadline=deadline, reserve_users=final_users)
    test = evaluate(
        net, split.test, train_config.ks, exclude_history=train_config.exclude_history,
        batch_size=train_config.eval_batch_size,
    )
    valid = result.best_valid
    if train_config.valid_max_users is not None:  # report full validation, not the subsample
        valid = evaluate(net, split.valid, train_config.ks, exclude_history=train_config.exclude_history,
                         batch_size=train_config.eval_batch_size).metrics
    cost = Cost(
        params=count_parameters(net),
        train_seconds=result.train_seconds,
        inference_ms_per_user=test.latency_ms_per_user,
        peak_memory_mb=peak_memory_mb(device),
        epochs=result.epochs_run,
    )
    if after is not None:  # after the cost, so extra measurements do not count in it
        after(net, split)
    tc = dataclasses.asdict(train_config)
    for where_not_what in ("progress", "checkpoint"):  # display and file location, not the run's settings
        tc.pop(where_not_what, None)
    return ExperimentResult(
        model=cls.name,
        data=dataset.name,
        config={"model": dataclasses.asdict(cfg), "train": tc},
        valid=valid,
        test=test.metrics,
        cost=cost.to_dict(),
        train={"best_epoch": result.best_epoch, "stopped_because": result.stopped_because,
               "history": result.history, "resumed_after": result.resumed_after},
    )
