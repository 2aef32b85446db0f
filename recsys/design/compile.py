"""Compile a program into an ordinary :class:`~agenticrs.recsys.models.base.Recommender`.

The model is registered as ``design`` with one config field, ``program`` (its text or JSON
form), so programs train, evaluate, checkpoint and report cost through the one trainer and
evaluator like any other model::

    run_experiment(dataset, "design", {"program": to_text(p)}, TrainConfig(**train_overrides(p)))

or, shorter, :func:`run_program`. The program's training scheme maps to the trainer's fields
(:func:`train_overrides`: ``lr``, ``epochs``, ``batch_size``, Adam's ``weight_decay``); what the
trainer's Adam cannot express is applied by the model between optimiser steps (see
:class:`StepSchedule`): the learning-rate schedule and warm-up scale each Adam step, and
``adamw`` applies decoupled weight decay.

Trained by name without :func:`run_program` (``agenticrs recsys train --model design --set
"program=block gru; loss kind=ce"``), the trainer's own ``lr`` / ``epochs`` / ``batch_size`` apply;
the schedule's horizon and AdamW's decay still read the program's ``epochs`` and ``lr``, so pass
``train_overrides(program)`` (``--set lr=...``) when the program's training scheme matters.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agenticrs.recsys.data.dataset import PAD, Dataset, Split
from agenticrs.recsys.design.blocks import Encoder
from agenticrs.recsys.design.canonical import canonical_json
from agenticrs.recsys.design.errors import DesignError
from agenticrs.recsys.design.program import Program
from agenticrs.recsys.design.size import count_parameters  # noqa: F401  (re-exported: part of this API)
from agenticrs.recsys.design.text import parse
from agenticrs.recsys.design.validate import NO_LIMITS, validate
from agenticrs.recsys.models.base import ModelConfig, Recommender, register_model
from agenticrs.recsys.models.gru4rec import linear_cross_entropy
from agenticrs.recsys.models.sasrec import sample_negatives
from agenticrs.recsys.models.sasrec_features import GAP_BUCKETS, SASRecFeatures
from agenticrs.recsys.models.transformer import encode_by_length, right_aligned_positions


@functools.lru_cache(maxsize=256)
def _parse_valid(source: str) -> Program:
    return validate(parse(source), NO_LIMITS)  # budgets (Limits) are for proposers and envs, not the model


def default_program_text() -> str:
    """The ``design`` model's default program: the library's SASRec (full-softmax loss)."""
    from agenticrs.recsys.design.library import LIBRARY

    return canonical_json(LIBRARY["sasrec_ce"])


@dataclass
class DesignConfig(ModelConfig):
    """The ``design`` model's config: a program. ``max_len`` is always the program's."""

    program: str = ""
    """The program's text or JSON form (``""``: the library's SASRec with full softmax)."""

    def __post_init__(self) -> None:
        if not self.program:
            self.program = default_program_text()
        try:
            parsed = _parse_valid(self.program)
        except DesignError as e:
            raise ValueError(f"design: field 'program' is not a valid program: {e}") from None
        self.max_len = parsed.max_len  # the evaluator pads histories to config.max_len

    @property
    def parsed(self) -> Program:
        """The typed, validated program."""
        return _parse_valid(self.program)


class DesignBatch(NamedTuple):
    """A training batch, left-padded and trimmed to the batch's longest row.

    Attributes:
        inputs: ``[B, W]`` item ids (``n_items + 1`` = [MASK]).
        targets: ``[B, W]`` the item to predict at each position, 0 where nothing is predicted.
        negatives: ``[B, W, n]`` sampled negatives (``bce`` / ``sampled_softmax``), else ``[B, W, 0]``.
        gaps: ``[B, W]`` time-gap buckets (zeros without the ``time_gap`` input).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    negatives: torch.Tensor
    gaps: torch.Tensor


def right_aligned(seqs: list[np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray]:
    """``[n, width]`` int64 rows holding each sequence's last ``width`` entries right-aligned, and ``[n]`` lengths."""
    tails = [np.asarray(s[-width:], dtype=np.int64) for s in seqs]
    lengths = np.fromiter((len(t) for t in tails), dtype=np.int64, count=len(tails))
    out = np.zeros((len(tails), width), dtype=np.int64)
    if lengths.sum():
        rows = np.repeat(np.arange(len(tails)), lengths)
        cols = width - np.repeat(lengths, lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
        out[rows, cols] = np.concatenate(tails)
    return out, lengths


class StepSchedule:
    """Learning-rate schedule and decoupled weight decay around the trainer's Adam steps.

    The trainer builds ``Adam(lr)`` itself; an Adam step moves a parameter by ``-lr * u`` with ``u``
    independent of the learning rate, so rescaling that move by ``f(step)`` after the step is
    exactly Adam at ``f(step) * lr``. :meth:`before` snapshots the parameters before a step,
    :meth:`after` rescales the move and, for ``adamw``, subtracts ``f * lr * weight_decay * p``.
    ``f`` warms up linearly over ``warmup_steps`` and then follows ``schedule`` over the program's
    ``epochs`` (a run with fewer epochs, e.g. low fidelity, sees the schedule's start).
    """

    def __init__(self, program: Program, steps_per_epoch: int):
        t = program.train
        self.t = t
        self.total = max(1, t.epochs * steps_per_epoch)
        self.active = t.schedule != "constant" or t.warmup_steps > 0 or (t.optimizer == "adamw" and t.weight_decay > 0)

    def factor(self, step: int) -> float:
        t = self.t
        if step < t.warmup_steps:
            return (step + 1) / t.warmup_steps
        progress = min(1.0, (step - t.warmup_steps) / max(1, self.total - t.warmup_steps))
        if t.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if t.schedule == "linear":
            return 1.0 - progress
        return 1.0

    def before(self, params: list[nn.Parameter]) -> list[torch.Tensor] | None:
        return [p.detach().clone() for p in params] if self.active else None

    @torch.no_grad()
    def after(self, params: list[nn.Parameter], snapshot: list[torch.Tensor] | None, step: int) -> bool:
        """Apply the step's correction; False when no optimiser step happened (no gradients)."""
        if snapshot is None or all(p.grad is None for p in params):
            return snapshot is None
        f = self.factor(step)
        decay = f * self.t.lr * self.t.weight_decay if self.t.optimizer == "adamw" else 0.0
        for p, old in zip(params, snapshot):
            if p.grad is None:
                continue
            if f != 1.0:
                p.sub_(old).mul_(f).add_(old)  # old + f * (p - old)
            if decay:
                p.sub_(old, alpha=decay)
        return True


@register_model("design")
class DesignRecommender(Recommender):
    """A program of the design language as a sequential recommender (see :mod:`.program`).

    Item table ``[n_items + 2, dim]`` (row 0 padding, row ``n_items + 1`` the [MASK] token) fused
    from the program's item features; sequence features added; the blocks; the read-out; scores
    against the (tied or separate) output table plus an optional per-item bias.
    """

    Config = DesignConfig
    config: DesignConfig

    def __init__(self, n_items: int, n_users: int, config: DesignConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        p = self.program = config.parsed
        ins, d = p.inputs, p.dim
        self.mask_id = n_items + 1
        parts = 0
        if ins.item_id:
            self.item_emb = nn.Embedding(n_items + 2, d, padding_idx=PAD)
            parts += 1
        else:
            self.mask_vec = nn.Parameter(torch.zeros(d))  # [MASK] needs a vector of its own
        if ins.text:
            text = SASRecFeatures._text_vectors(dataset, n_items, ins.text_dim)
            self.register_buffer("text_vectors", F.pad(text, (0, 0, 0, 1)))  # + [MASK] row
            self.text_proj = nn.Linear(ins.text_dim, d)
            parts += 1
        if ins.attributes:
            ids = SASRecFeatures._attribute_ids(dataset, n_items)
            self.register_buffer("attr_ids", F.pad(ids, (0, 0, 0, 1)))
            self.attr_emb = nn.Embedding(int(ids.max()) + 1, d, padding_idx=0)
            parts += 1
        self.n_parts = parts
        if parts > 1 and ins.fusion == "concat":
            self.fuse = nn.Linear(parts * d, d)
        elif parts > 1 and ins.fusion == "gating":
            self.gate = nn.Linear(parts * d, parts * d)
        if ins.position:
            self.pos_emb = nn.Embedding(p.max_len, d)
        if ins.time_gap:
            self.gap_emb = nn.Embedding(GAP_BUCKETS, d)
        self.emb_norm = nn.LayerNorm(d) if ins.norm else nn.Identity()
        self.emb_drop = nn.Dropout(ins.dropout)
        self.encoder = Encoder(p.blocks, d, p.max_len, p.readout.final_norm)
        head = p.readout.head
        self.head = (nn.Linear(d, d) if head == "linear" else nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
                     if head == "mlp" else nn.Identity())
        if not p.readout.tied:
            self.out_emb = nn.Embedding(n_items + 1, d, padding_idx=PAD)
        if p.readout.bias:
            self.out_bias = nn.Parameter(torch.zeros(n_items + 1))
        self._init_weights()
        self._gaps = SASRecFeatures._user_gaps(dataset) if ins.time_gap else None
        self._seqs = [dataset.sequence(u) for u in range(dataset.n_users)] if self._gaps is not None else []
        self._train: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._step = 0

    @classmethod
    def from_program(cls, program: Program, n_items: int, n_users: int = 0,
                     dataset: Dataset | None = None) -> "DesignRecommender":
        """Compile ``program`` (validated against the language's rules, not a budget)."""
        return cls(n_items, n_users, DesignConfig(program=canonical_json(validate(program, NO_LIMITS))), dataset)

    def _init_weights(self) -> None:
        init = self.program.init
        for name, p in self.named_parameters():
            if "filter_" in name or ".gru." in name or name == "mask_vec":
                continue  # own initialisation (blocks.py, below)
            if init == "xavier":  # SASRec's: Xavier-normal matrices, zero vectors, LayerNorms (1, 0)
                if p.dim() > 1:
                    nn.init.xavier_normal_(p)
                elif "norm" not in name and not name.startswith("head.2"):
                    nn.init.zeros_(p)
            elif init == "normal":  # BERT's: truncated N(0, 0.02) weights, zero biases
                if p.dim() > 1:
                    nn.init.trunc_normal_(p, std=0.02, a=-0.04, b=0.04)
                elif name.endswith("bias") and "norm" not in name and not name.startswith("head.2"):
                    nn.init.zeros_(p)
            elif p.dim() > 1 and "emb" in name:  # "default": PyTorch's, but small embeddings (GRU4Rec)
                nn.init.normal_(p, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.GRU):  # GRU4Rec's: Xavier input, orthogonal recurrent, zero bias
                for name, w in module.named_parameters():
                    if name.startswith("weight_ih"):
                        nn.init.xavier_uniform_(w)
                    elif name.startswith("weight_hh"):
                        nn.init.orthogonal_(w)
                    else:
                        nn.init.zeros_(w)
        with torch.no_grad():
            for emb in (getattr(self, "item_emb", None), getattr(self, "out_emb", None)):
                if emb is not None:
                    emb.weight[PAD].zero_()

    # ------------------------------------------------------------------ model
    def item_table(self) -> torch.Tensor:
        """``[n_items + 2, dim]`` fused item vectors (row 0 zeros, last row [MASK])."""
        ins = self.program.inputs
        parts = []
        if ins.item_id:
            parts.append(self.item_emb.weight)
        if ins.text:
            parts.append(self.text_proj(self.text_vectors))
        if ins.attributes:
            ids = self.attr_ids
            parts.append(self.attr_emb(ids).sum(1) / (ids != 0).sum(1, keepdim=True).clamp_min(1))
        if len(parts) == 1:
            table = parts[0]
        elif ins.fusion == "sum":
            table = torch.stack(parts).sum(0)
        elif ins.fusion == "concat":
            table = self.fuse(torch.cat(parts, dim=1))
        else:
            gates = torch.sigmoid(self.gate(torch.cat(parts, dim=1))).chunk(len(parts), dim=1)
            table = sum(g * x for g, x in zip(gates, parts))
        if ins.item_id and len(parts) == 1:
            return table
        rows = torch.ones(table.shape[0], 1, device=table.device, dtype=table.dtype)
        rows[PAD] = 0.0
        table = table * rows
        if not ins.item_id:
            table = torch.cat([table[:-1], self.mask_vec.unsqueeze(0)])
        return table

    def output_table(self, table: torch.Tensor) -> torch.Tensor:
        """``[n_items + 1, dim]`` vectors items are scored against (row 0 = padding)."""
        return table[: self.n_items + 1] if self.program.readout.tied else self.out_emb.weight

    def encode(self, seqs: torch.Tensor, gaps: torch.Tensor | None = None, table: torch.Tensor | None = None
               ) -> torch.Tensor:
        """``[B, W]`` left-padded ids (``W <= max_len``; may hold [MASK]) -> ``[B, W, D]`` read-out states."""
        p = self.program
        table = self.item_table() if table is None else table
        x = F.embedding(seqs, table)
        if p.inputs.scale:
            x = x * math.sqrt(p.dim)
        if p.inputs.position:
            x = x + self.pos_emb(right_aligned_positions(seqs.shape[1], p.max_len, seqs.device))
        if p.inputs.time_gap and gaps is not None:
            x = x + self.gap_emb(gaps)
        valid = seqs != PAD
        h = self.encoder(self.emb_drop(self.emb_norm(x)), valid)
        if p.readout.pool == "mean":  # mean of the real states up to each position
            keep = valid.unsqueeze(-1).to(h.dtype)
            h = (h * keep).cumsum(1) / keep.cumsum(1).clamp_min(1.0)
        return self.head(h)

    def _encode(self, seqs: torch.Tensor, gaps: torch.Tensor | None, table: torch.Tensor) -> torch.Tensor:
        if self.program.inputs.time_gap:  # gaps travel with the rows: no length-sorted chunks
            return self.encode(seqs, gaps, table)
        return encode_by_length(lambda s: self.encode(s, None, table), seqs)

    # ------------------------------------------------------------------ training hooks
    def fit(self, split: Split) -> None:
        self._prepare(split.train)

    def _prepare(self, train: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Right-aligned windows of every training sequence with 2+ items (and their gap buckets).

        ``next``: the last ``max_len + 1`` items (inputs are all but the last, targets all but the
        first); ``cloze``: the last ``max_len`` items.
        """
        p = self.program
        width = p.max_len + (1 if p.loss.objective == "next" else 0)
        users = [u for u, s in enumerate(train) if len(s) >= 2]
        if not users:
            raise ValueError("design: no training sequence has 2 or more items")
        items, lengths = right_aligned([train[u] for u in users], width)
        if self._gaps is not None:  # train[u] is a prefix of user u's sequence
            gaps, _ = right_aligned([self._gaps[u][: len(train[u])] for u in users], width)
        else:
            gaps = np.zeros_like(items)
        self._train = (items, gaps, lengths)
        return self._train

    def _crop(self, items: np.ndarray, gaps: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> None:
        """Augmentation, in place: ``augment_crop`` of the rows become a random contiguous crop (>= half)."""
        width = items.shape[1]
        for r in np.flatnonzero(rng.random(len(items)) < self.program.train.augment_crop):
            n = int(lengths[r])
            k = int(rng.integers((n + 1) // 2, n + 1)) if n > 2 else n
            start = width - n + int(rng.integers(0, n - k + 1))
            for m in (items, gaps):
                crop = m[r, start : start + k].copy()
                m[r] = 0
                m[r, width - k :] = crop
            lengths[r] = k

    def _cloze(self, seqs: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """BERT4Rec's masking: ``(inputs with [MASK], labels)``; at least one masked item per row."""
        loss, width = self.program.loss, seqs.shape[1]
        masked = (rng.random(seqs.shape) < loss.mask_prob) & (seqs != PAD)
        last_only = rng.random(len(seqs)) < loss.last_item_prob
        masked[last_only] = False
        masked[last_only, -1] = True
        empty = np.flatnonzero(~masked.any(axis=1))
        if len(empty):
            masked[empty, width - 1 - (rng.random(len(empty)) * lengths[empty]).astype(np.int64)] = True
        return np.where(masked, self.mask_id, seqs), np.where(masked, seqs, PAD)

    def _batches(self, train: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[DesignBatch]:
        p = self.program
        items, gaps, lengths = self._train if self._train is not None else self._prepare(train)
        order = rng.permutation(len(lengths))
        n_neg = p.loss.negatives if p.loss.kind != "ce" else 0
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            rows, row_gaps, row_len = items[idx].copy(), gaps[idx].copy(), lengths[idx].copy()
            if p.train.augment_crop > 0:
                self._crop(rows, row_gaps, row_len, rng)
            if p.loss.objective == "next":
                inputs, targets, row_gaps = rows[:, :-1], rows[:, 1:].copy(), row_gaps[:, :-1]
                targets[inputs == PAD] = PAD
                width = int(row_len.max()) - 1
            else:
                inputs, targets = self._cloze(rows, row_len, rng)
                width = int(row_len.max())
            if p.train.augment_mask > 0:
                noise = (rng.random(inputs.shape) < p.train.augment_mask) & (inputs != PAD)
                inputs = np.where(noise, self.mask_id, inputs)
            inputs, targets, row_gaps = inputs[:, -width:], targets[:, -width:], row_gaps[:, -width:]
            neg = (sample_negatives(targets, self.n_items, n_neg, rng) if n_neg
                   else np.zeros((*targets.shape, 0), dtype=np.int64))
            yield DesignBatch(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (inputs, targets, neg, row_gaps)))

    def batches(self, train: list[np.ndarray], batch_size: int, rng: np.random.Generator) -> Iterator[DesignBatch]:
        """One epoch's batches; between them, :class:`StepSchedule` corrects the trainer's Adam step."""
        n_rows = len(self._train[2]) if self._train is not None else len(self._prepare(train)[2])
        schedule = StepSchedule(self.program, -(-n_rows // batch_size))
        params = [q for q in self.parameters() if q.requires_grad]
        for batch in self._batches(train, batch_size, rng):
            snapshot = schedule.before(params)
            yield batch
            if schedule.after(params, snapshot, self._step):  # runs once the trainer has stepped
                self._step += 1

    def get_extra_state(self) -> dict[str, int]:
        return {"step": self._step}  # checkpoints resume the schedule where it was

    def set_extra_state(self, state: dict[str, int]) -> None:
        self._step = int(state.get("step", 0))

    def loss(self, batch: DesignBatch) -> torch.Tensor:
        p = self.program
        table = self.item_table()
        where = batch.targets != PAD
        hidden = self._encode(batch.inputs, batch.gaps, table)[where]  # [N, D]
        pos = batch.targets[where]  # [N]
        out = self.output_table(table)
        bias = self.out_bias if p.readout.bias else None
        if p.loss.kind == "ce":
            weight, states = out[1:], hidden
            if bias is not None:  # fold the bias in as a feature fixed at 1
                weight = torch.cat([weight, bias[1:].unsqueeze(1)], 1)
                states = torch.cat([hidden, hidden.new_ones(len(hidden), 1)], 1)
            return linear_cross_entropy(states, weight, pos - 1)
        neg = batch.negatives[where]  # [N, n]
        pos_logits = (hidden * out[pos]).sum(-1)  # [N]
        neg_logits = (hidden.unsqueeze(1) * out[neg]).sum(-1)  # [N, n]
        if bias is not None:
            pos_logits, neg_logits = pos_logits + bias[pos], neg_logits + bias[neg]
        if p.loss.kind == "bce":
            return (F.binary_cross_entropy_with_logits(pos_logits, torch.ones_like(pos_logits))
                    + F.binary_cross_entropy_with_logits(neg_logits, torch.zeros_like(neg_logits)))
        logits = torch.cat([pos_logits.unsqueeze(1), neg_logits], 1)  # sampled softmax: the positive is class 0
        return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))

    # ------------------------------------------------------------------ inference
    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """``histories [B, L]`` (left-padded, most recent last) -> ``[B, n_items + 1]``.

        Under ``cloze`` a [MASK] is appended after the last ``max_len - 1`` items and its state is read.
        """
        p = self.program
        cloze = p.loss.objective == "cloze"
        keep = histories[:, max(histories.shape[1] - (p.max_len - (1 if cloze else 0)), 0):]
        gaps = None
        if self._gaps is not None:
            gaps = SASRecFeatures._history_gaps(self, users.cpu(), keep.cpu()).to(keep.device)  # type: ignore[arg-type]
        if cloze:
            keep = torch.cat([keep, torch.full((len(keep), 1), self.mask_id, dtype=keep.dtype, device=keep.device)], 1)
            gaps = F.pad(gaps, (0, 1)) if gaps is not None else None
        table = self.item_table()
        last = self._encode(keep, gaps, table)[:, -1]  # [B, D]
        scores = last @ self.output_table(table).T
        return scores + self.out_bias if p.readout.bias else scores


# ---------------------------------------------------------------------- helpers
def compile_program(program: Program, n_items: int, n_users: int = 0, dataset: Dataset | None = None
                    ) -> DesignRecommender:
    """``program`` -> an untrained :class:`DesignRecommender` (validated first)."""
    return DesignRecommender.from_program(program, n_items, n_users, dataset)


def train_overrides(program: Program) -> dict[str, Any]:
    """The trainer fields the program's training scheme sets (``TrainConfig(**train_overrides(p))``)."""
    t = program.train
    return {"lr": t.lr, "epochs": t.epochs, "batch_size": t.batch_size,
            "weight_decay": t.weight_decay if t.optimizer == "adam" else 0.0}


def run_program(dataset: Dataset, program: Program, train_config: Any = None, split: Split | None = None,
                **train_fields: Any) -> Any:
    """Train and test ``program`` on ``dataset`` with the one trainer: an ``ExperimentResult``.

    ``train_config`` (a ``TrainConfig``) or ``train_fields`` set the trainer's other fields (seed,
    patience, device...); the program's own training scheme overrides ``lr``, ``epochs``,
    ``batch_size`` and ``weight_decay`` unless ``train_fields`` names them.
    """
    from agenticrs.recsys.training import TrainConfig, run_experiment

    base = dataclasses.asdict(train_config) if train_config is not None else {"progress": False}
    config = TrainConfig(**{**base, **train_overrides(program), **train_fields})
    return run_experiment(dataset, DesignRecommender, {"program": canonical_json(validate(program, NO_LIMITS))}, config,
                          split=split)


__all__ = ["DesignBatch", "DesignConfig", "DesignRecommender", "StepSchedule", "compile_program", "count_parameters",
           "run_program", "train_overrides"]
