"""Search moves over programs: seeded random sampling, a finite list of mutation operators, crossover.

* :func:`sample_program` draws a random valid program from the grammar (layers of a token mixer
  -- attention, GRU, convolution, filter -- and an optional channel mixer -- MLP, gated MLP,
  mixture of experts -- plus random inputs, read-out, loss and training scheme).
* :data:`OPERATORS` is a fixed, ordered list of deterministic edits (``dim_up``, ``add_gru``,
  ``loss_bce``...): operator ``i`` is action ``i`` of a ``Discrete(len(OPERATORS))`` space, and
  :func:`applicable` says which give a new valid program (an action mask).
* :func:`mutate` applies random operators (balanced over the program's sections) until the result
  is valid and new; :func:`crossover` splices two parents' block lists at random cut points and
  takes each section from either.

Every function takes a ``numpy.random.Generator``: same seed, same programs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Collection

import numpy as np

from agenticrs.recsys.design.errors import DesignError
from agenticrs.recsys.design.program import (
    BLOCKS,
    GRU,
    MLP,
    NORMS,
    Attention,
    Block,
    Conv,
    Filter,
    GatedMLP,
    Inputs,
    Loss,
    MoE,
    Program,
    Readout,
    Train,
)
from agenticrs.recsys.design.validate import DEFAULT_LIMITS, Limits, find_errors

MIXERS = ("attention", "gru", "conv", "filter")
"""Token mixers (blocks that move information between positions)."""
CHANNEL = ("mlp", "gated_mlp", "moe")
"""Channel mixers (position-wise blocks)."""


# ---------------------------------------------------------------------- sampling
def _pick(rng: np.random.Generator, options: tuple, p: tuple | None = None):
    return options[int(rng.choice(len(options), p=p))]


def _block(kind: str, rng: np.random.Generator, causal: bool, dim: int, norm: str, dropout: float) -> Block:
    common = {"norm": norm, "dropout": dropout}
    if kind == "attention":
        heads = _pick(rng, tuple(h for h in (1, 2, 4) if dim % h == 0))
        return Attention(heads=heads, causal=causal, **common)
    if kind == "gru":
        return GRU(**common)
    if kind == "conv":
        return Conv(kernel=_pick(rng, (2, 3, 5)), causal=causal, **common)
    if kind == "filter":
        return Filter(causal=causal, **common)
    if kind == "mlp":
        return MLP(expansion=_pick(rng, (1, 2, 4)), activation=_pick(rng, ("relu", "gelu")), **common)
    if kind == "gated_mlp":
        return GatedMLP(expansion=_pick(rng, (1, 2)), activation=_pick(rng, ("silu", "gelu")), **common)
    experts = _pick(rng, (2, 4, 8))
    return MoE(experts=experts, top_k=_pick(rng, (1, 2)), expansion=_pick(rng, (1, 2)), **common)


def sample_raw(rng: np.random.Generator, train: Train | None = None) -> Program:
    """One random program from the grammar (usually valid; :func:`sample_program` guarantees it).

    Args:
        rng: the random stream.
        train: a fixed training scheme (``None``: sample optimiser, lr, schedule, augmentation,
            with the default epochs and batch size).
    """
    cloze = rng.random() < 0.25
    dim = _pick(rng, (32, 64, 128), (0.3, 0.5, 0.2))
    norm = _pick(rng, ("pre", "post"), (0.7, 0.3))
    dropout = _pick(rng, (0.1, 0.2, 0.3, 0.5))
    blocks: list[Block] = []
    for _ in range(int(rng.integers(1, 4))):
        causal = not cloze or rng.random() < 0.3
        blocks.append(_block(_pick(rng, MIXERS, (0.45, 0.2, 0.2, 0.15)), rng, causal, dim, norm, dropout))
        if rng.random() < 0.8:
            blocks.append(_block(_pick(rng, CHANNEL, (0.5, 0.3, 0.2)), rng, True, dim, norm, dropout))
    item_id = rng.random() < 0.9
    inputs = Inputs(item_id=item_id, text=bool(rng.random() < 0.2) or not item_id, attributes=bool(rng.random() < 0.2),
                    position=bool(rng.random() < 0.7), time_gap=bool(rng.random() < 0.1),
                    fusion=_pick(rng, ("sum", "concat", "gating")), scale=bool(rng.random() < 0.5),
                    norm=bool(rng.random() < 0.3), dropout=dropout)
    readout = Readout(pool=_pick(rng, ("last", "mean"), (0.85, 0.15)), final_norm=norm == "pre",
                      head=_pick(rng, ("none", "linear", "mlp"), (0.6, 0.2, 0.2)), tied=bool(rng.random() < 0.85),
                      bias=bool(rng.random() < 0.3))
    loss = Loss(kind=_pick(rng, ("bce", "ce", "sampled_softmax"), (0.25, 0.5, 0.25)),
                negatives=_pick(rng, (1, 4, 16, 64)), objective="cloze" if cloze else "next",
                mask_prob=_pick(rng, (0.1, 0.2, 0.3, 0.4)))
    if train is None:
        train = Train(optimizer=_pick(rng, ("adam", "adamw")), lr=_pick(rng, (3e-4, 1e-3, 3e-3)),
                      weight_decay=_pick(rng, (0.0, 0.0, 1e-4, 1e-2)),
                      schedule=_pick(rng, ("constant", "cosine", "linear")), warmup_steps=_pick(rng, (0, 0, 50)),
                      augment_mask=_pick(rng, (0.0, 0.0, 0.1)), augment_crop=_pick(rng, (0.0, 0.0, 0.2)))
    return Program(dim=dim, max_len=_pick(rng, (20, 50)), init=_pick(rng, ("xavier", "normal", "default")),
                   inputs=inputs, blocks=tuple(blocks), readout=readout, loss=loss, train=train)


def sample_program(rng: np.random.Generator, limits: Limits = DEFAULT_LIMITS, n_items: int | None = None,
                   train: Train | None = None, max_tries: int = 100) -> Program:
    """A random *valid* program (resampling the rare invalid draws).

    Raises:
        RuntimeError: no valid program in ``max_tries`` draws (limits too tight for the grammar).
    """
    for _ in range(max_tries):
        program = sample_raw(rng, train)
        if not find_errors(program, limits, n_items):
            return program
    raise RuntimeError(f"no valid program in {max_tries} draws under {limits}")


# ---------------------------------------------------------------------- mutation operators
SECTIONS = ("shape", "blocks", "inputs", "readout", "loss", "train")
"""The parts of a program operators edit: ``shape`` (width, history length, init), the block stack,
the input embeddings, the read-out, the loss and the training scheme."""


@dataclass(frozen=True)
class Operator:
    """A named, deterministic edit of a program (the result may be invalid or unchanged)."""

    name: str
    apply: Callable[[Program], Program]
    doc: str = ""
    section: str = ""
    """The part of a program it edits: one of :data:`SECTIONS` (how :func:`mutate` balances its draws)."""

    def __call__(self, program: Program) -> Program:
        return self.apply(program)


def _clip(value: float, cls: type, field: str) -> float:
    meta = {f.name: f.metadata for f in dataclasses.fields(cls)}[field]
    return min(max(value, meta.get("min", value)), meta.get("max", value))


def _section(name: str, **changes) -> Callable[[Program], Program]:
    """Replace fields of one section with constants."""
    return lambda p: dataclasses.replace(p, **{name: dataclasses.replace(getattr(p, name), **changes)})


def _scale(name: str, field: str, factor: float, cast: type = float) -> Callable[[Program], Program]:
    """Multiply a section field (or a top-level field when ``name == ""``) by ``factor``, clipped to its range."""

    def edit(p: Program) -> Program:
        owner = getattr(p, name) if name else p
        value = cast(_clip(getattr(owner, field) * factor, type(owner), field))
        return dataclasses.replace(p, **{field: value}) if not name else dataclasses.replace(
            p, **{name: dataclasses.replace(owner, **{field: value})})

    return edit


def _toggle(name: str, field: str) -> Callable[[Program], Program]:
    return lambda p: dataclasses.replace(p, **{name: dataclasses.replace(
        getattr(p, name), **{field: not getattr(getattr(p, name), field)})})


def _cycle(name: str, field: str) -> Callable[[Program], Program]:
    """The next of the field's choices."""

    def edit(p: Program) -> Program:
        owner = getattr(p, name)
        choices = {f.name: f.metadata for f in dataclasses.fields(owner)}[field]["choices"]
        nxt = choices[(choices.index(getattr(owner, field)) + 1) % len(choices)]
        return dataclasses.replace(p, **{name: dataclasses.replace(owner, **{field: nxt})})

    return edit


def _blocks(fn: Callable[[Block], Block]) -> Callable[[Program], Program]:
    """Apply ``fn`` to every block (it returns the block unchanged where it does not apply)."""
    return lambda p: dataclasses.replace(p, blocks=tuple(fn(b) for b in p.blocks))


def _if(kinds: tuple[type, ...], **changes) -> Callable[[Block], Block]:
    return lambda b: dataclasses.replace(b, **changes) if isinstance(b, kinds) else b


def _scale_block(kinds: tuple[type, ...], field: str, factor: float, cast: type = int) -> Callable[[Block], Block]:
    def edit(b: Block) -> Block:
        if not isinstance(b, kinds):
            return b
        return dataclasses.replace(b, **{field: cast(_clip(getattr(b, field) * factor, type(b), field))})

    return edit


def _new_block(kind: str, p: Program, like: Block | None = None) -> Block:
    """A default block of ``kind`` fitting ``p`` (causal under next-item; wrapper copied from ``like``)."""
    ref = like or (p.blocks[-1] if p.blocks else Block())
    common = {"norm": ref.norm, "residual": ref.residual, "dropout": ref.dropout}
    cls = BLOCKS[kind]
    if cls is MLP:
        return MLP(expansion=2, **common)
    if "causal" in {f.name for f in dataclasses.fields(cls)}:
        common["causal"] = p.loss.objective == "next"
    return cls(**common)


def _add(kind: str) -> Callable[[Program], Program]:
    return lambda p: dataclasses.replace(p, blocks=(*p.blocks, _new_block(kind, p)))


def _replace_last(kind: str) -> Callable[[Program], Program]:
    def edit(p: Program) -> Program:
        if not p.blocks:
            return p
        return dataclasses.replace(p, blocks=(*p.blocks[:-1], _new_block(kind, p, p.blocks[-1])))

    return edit


def _objective_next(p: Program) -> Program:
    """Switch to next-item training, making every block causal (else the program would be invalid)."""
    blocks = tuple(dataclasses.replace(b, causal=True) if hasattr(b, "causal") else b for b in p.blocks)
    return dataclasses.replace(p, blocks=blocks, loss=dataclasses.replace(p.loss, objective="next"))


def _objective_cloze(p: Program) -> Program:
    """Switch to cloze training with bidirectional token mixers (BERT4Rec-style)."""
    blocks = tuple(dataclasses.replace(b, causal=False) if hasattr(b, "causal") else b for b in p.blocks)
    return dataclasses.replace(p, blocks=blocks, loss=dataclasses.replace(p.loss, objective="cloze"))


def _dropout(delta: float) -> Callable[[Program], Program]:
    def edit(p: Program) -> Program:
        blocks = tuple(dataclasses.replace(b, dropout=round(_clip(b.dropout + delta, Block, "dropout"), 6))
                       for b in p.blocks)
        ins = dataclasses.replace(p.inputs, dropout=round(_clip(p.inputs.dropout + delta, Inputs, "dropout"), 6))
        return dataclasses.replace(p, blocks=blocks, inputs=ins)

    return edit


def _step(name: str, field: str, options: tuple[float, ...], up: bool) -> Callable[[Program], Program]:
    """Move a section field to the next larger / smaller value of a ladder."""

    def edit(p: Program) -> Program:
        owner = getattr(p, name)
        value = getattr(owner, field)
        ladder = [v for v in options if (v > value if up else v < value)]
        if not ladder:
            return p
        nxt = min(ladder) if up else max(ladder)
        return dataclasses.replace(p, **{name: dataclasses.replace(owner, **{field: type(value)(nxt)})})

    return edit


def _swap_last_two(p: Program) -> Program:
    if len(p.blocks) < 2:
        return p
    return dataclasses.replace(p, blocks=(*p.blocks[:-2], p.blocks[-1], p.blocks[-2]))


def _tag(section: str, ops: list[Operator]) -> list[Operator]:
    return [dataclasses.replace(op, section=section) for op in ops]


def _operators() -> list[Operator]:
    ops = _tag("shape", [
        Operator("dim_up", _scale("", "dim", 2, int), "double the width"),
        Operator("dim_down", _scale("", "dim", 0.5, int), "halve the width"),
        Operator("max_len_up", _scale("", "max_len", 2, int), "double the history length"),
        Operator("max_len_down", _scale("", "max_len", 0.5, int), "halve the history length"),
        Operator("init_next", lambda p: dataclasses.replace(
            p, init={"xavier": "normal", "normal": "default", "default": "xavier"}[p.init]), "next weight init"),
    ])
    ops += _tag("blocks", [Operator(f"add_{k}", _add(k), f"append a {k} block") for k in BLOCKS])
    ops += _tag("blocks", [Operator(f"last_to_{k}", _replace_last(k), f"replace the last block by a {k} block")
                           for k in BLOCKS])
    ops += _tag("blocks", [
        Operator("remove_last", lambda p: dataclasses.replace(p, blocks=p.blocks[:-1]), "drop the last block"),
        Operator("remove_first", lambda p: dataclasses.replace(p, blocks=p.blocks[1:]), "drop the first block"),
        Operator("repeat_last_two", lambda p: dataclasses.replace(p, blocks=(*p.blocks, *p.blocks[-2:])),
                 "repeat the last two blocks (one more transformer layer)"),
        Operator("swap_last_two", _swap_last_two, "swap the last two blocks"),
        Operator("heads_up", _blocks(_scale_block((Attention,), "heads", 2)), "double attention heads"),
        Operator("heads_down", _blocks(_scale_block((Attention,), "heads", 0.5)), "halve attention heads"),
        Operator("expansion_up", _blocks(_scale_block((MLP, GatedMLP, MoE), "expansion", 2)), "wider MLPs"),
        Operator("expansion_down", _blocks(_scale_block((MLP, GatedMLP, MoE), "expansion", 0.5)), "narrower MLPs"),
        Operator("experts_up", _blocks(_scale_block((MoE,), "experts", 2)), "double MoE experts"),
        Operator("kernel_up", _blocks(_scale_block((Conv,), "kernel", 2)), "wider convolutions"),
        Operator("toggle_causal", _blocks(lambda b: dataclasses.replace(b, causal=not b.causal)
                                          if hasattr(b, "causal") else b), "flip causal / bidirectional"),
    ])
    ops += _tag("blocks", [Operator(f"norm_{n}", _blocks(_if((Block,), norm=n)), f"every block {n}-norm")
                           for n in NORMS])
    ops += _tag("blocks", [
        Operator("dropout_up", _dropout(0.1), "+0.1 dropout everywhere"),
        Operator("dropout_down", _dropout(-0.1), "-0.1 dropout everywhere"),
    ])
    ops += _tag("inputs", [Operator(f"toggle_{f}", _toggle("inputs", f), f"input feature {f} on/off")
                           for f in ("position", "text", "attributes", "time_gap", "scale", "norm")])
    ops += _tag("inputs", [Operator("fusion_next", _cycle("inputs", "fusion"), "next item-feature fusion")])
    ops += _tag("readout", [Operator(f"toggle_{f}", _toggle("readout", f), f"read-out {f} on/off")
                            for f in ("final_norm", "tied", "bias")])
    ops += _tag("readout", [Operator("head_next", _cycle("readout", "head"), "next read-out head"),
                            Operator("pool_next", _cycle("readout", "pool"), "next read-out pooling")])
    ops += _tag("loss", [Operator(f"loss_{k}", _section("loss", kind=k), f"{k} loss")
                         for k in ("bce", "ce", "sampled_softmax")])
    ops += _tag("loss", [
        Operator("negatives_up", _scale("loss", "negatives", 4, int), "4x negatives"),
        Operator("negatives_down", _scale("loss", "negatives", 0.25, int), "negatives / 4"),
        Operator("objective_next", _objective_next, "next-item objective, causal blocks"),
        Operator("objective_cloze", _objective_cloze, "cloze objective, bidirectional blocks"),
        Operator("mask_prob_up", _step("loss", "mask_prob", (0.1, 0.2, 0.3, 0.4, 0.6), True), "mask more (cloze)"),
        Operator("mask_prob_down", _step("loss", "mask_prob", (0.1, 0.2, 0.3, 0.4, 0.6), False), "mask less (cloze)"),
    ])
    ops += _tag("train", [
        Operator("lr_up", _scale("train", "lr", 2), "double the learning rate"),
        Operator("lr_down", _scale("train", "lr", 0.5), "halve the learning rate"),
        Operator("epochs_up", _scale("train", "epochs", 2, int), "double the epochs"),
        Operator("epochs_down", _scale("train", "epochs", 0.5, int), "halve the epochs"),
        Operator("batch_up", _scale("train", "batch_size", 2, int), "double the batch size"),
        Operator("batch_down", _scale("train", "batch_size", 0.5, int), "halve the batch size"),
        Operator("optimizer_next", _cycle("train", "optimizer"), "next optimiser"),
        Operator("schedule_next", _cycle("train", "schedule"), "next lr schedule"),
        Operator("warmup_up", _step("train", "warmup_steps", (0, 50, 200, 1000), True), "longer warm-up"),
        Operator("warmup_down", _step("train", "warmup_steps", (0, 50, 200, 1000), False), "shorter warm-up"),
        Operator("weight_decay_up", _step("train", "weight_decay", (0.0, 1e-4, 1e-3, 1e-2, 1e-1), True), "more decay"),
        Operator("weight_decay_down", _step("train", "weight_decay", (0.0, 1e-4, 1e-3, 1e-2, 1e-1), False), "less decay"),
        Operator("augment_mask_up", _step("train", "augment_mask", (0.0, 0.1, 0.2, 0.3), True), "more input masking"),
        Operator("augment_mask_down", _step("train", "augment_mask", (0.0, 0.1, 0.2, 0.3), False), "less input masking"),
        Operator("augment_crop_up", _step("train", "augment_crop", (0.0, 0.2, 0.5), True), "more cropping"),
        Operator("augment_crop_down", _step("train", "augment_crop", (0.0, 0.2, 0.5), False), "less cropping"),
    ])
    names = [o.name for o in ops]
    assert len(names) == len(set(names)), "operator names must be unique"
    assert {o.section for o in ops} == set(SECTIONS), "every operator edits one of SECTIONS"
    return ops


OPERATORS: tuple[Operator, ...] = tuple(_operators())
"""Every mutation operator, in a fixed order (never reorder: a trained edit policy's actions are indices)."""
OPERATOR_INDEX: dict[str, int] = {o.name: i for i, o in enumerate(OPERATORS)}


def apply_operator(program: Program, op: int | str, limits: Limits = DEFAULT_LIMITS,
                   n_items: int | None = None) -> Program:
    """Operator ``op`` (index or name) applied to ``program``, validated.

    Raises:
        DesignError: the edit gives an invalid program (the error names the field).
        KeyError / IndexError: no such operator.
    """
    operator = OPERATORS[OPERATOR_INDEX[op]] if isinstance(op, str) else OPERATORS[op]
    child = operator(program)
    errors = find_errors(child, limits, n_items)
    if errors:
        raise type(errors[0])(f"{operator.name}: {errors[0].message}", errors[0].path)
    return child


def applicable(program: Program, limits: Limits = DEFAULT_LIMITS, n_items: int | None = None) -> np.ndarray:
    """``[len(OPERATORS)]`` bool: which operators turn ``program`` into a *different*, valid program."""
    from agenticrs.recsys.design.canonical import canonical_json

    base = canonical_json(program)
    out = np.zeros(len(OPERATORS), dtype=bool)
    for i, op in enumerate(OPERATORS):
        child = op(program)
        out[i] = not find_errors(child, limits, n_items) and canonical_json(child) != base
    return out


def mutate(program: Program, rng: np.random.Generator, limits: Limits = DEFAULT_LIMITS, n_items: int | None = None,
           n_ops: int = 1, *, exclude: Collection[str] = (), balance: str = "section") -> Program:
    """``program`` after ``n_ops`` random applicable operators (each result valid and unlike every earlier one).

    Args:
        exclude: operator names never drawn (e.g. edits of training fields a search holds fixed,
            which would only give back the parent).
        balance: ``"section"`` (default): one of the :data:`SECTIONS` that has an applicable
            operator, uniformly, then one of its applicable operators -- the 72 operators are
            about half block edits and only two touch the learning rate, so a uniform draw over
            operators edits the architecture ~40% of the time and the training scheme's most
            important knob once in ~30 mutations; ``"operator"``: uniform over applicable operators.

    Raises:
        RuntimeError: no operator applies (should not happen for a valid program).
        ValueError: an unknown ``balance``.
    """
    from agenticrs.recsys.design.canonical import canonical_json

    if balance not in ("section", "operator"):
        raise ValueError(f"mutate: balance must be 'section' or 'operator', got {balance!r}")
    skip = set(exclude)
    groups: dict[str, list[Operator]] = {}
    for op in OPERATORS:
        if op.name not in skip:
            groups.setdefault(op.section if balance == "section" else "", []).append(op)
    current, seen = program, {canonical_json(program)}
    for step in range(n_ops):
        # Groups in random order, each group's operators in random order, the first new valid child:
        # a group drawn uniformly among those with an applicable operator, then one of those uniformly
        # (the exact draw, usually after one or two validations instead of all 72).
        child = None
        for g in rng.permutation(len(groups)):
            ops = list(groups.values())[int(g)]
            for i in rng.permutation(len(ops)):
                candidate = ops[int(i)](current)
                if canonical_json(candidate) not in seen and not find_errors(candidate, limits, n_items):
                    child = candidate
                    break
            if child is not None:
                break
        if child is None:
            raise RuntimeError(f"no valid mutation of the program found (step {step + 1} of {n_ops})")
        current = child
        seen.add(canonical_json(current))
    return current


def crossover(a: Program, b: Program, rng: np.random.Generator, limits: Limits = DEFAULT_LIMITS,
              n_items: int | None = None, max_tries: int = 20) -> Program | None:
    """A child of ``a`` and ``b``: ``a.blocks[:i] + b.blocks[j:]`` at random cuts, each section
    (inputs, read-out, loss, training, width, length, init) from either parent.

    Blocks are retargeted to the child's objective (made causal under next-item) so the splice
    of a BERT-style and a SASRec-style parent stays valid. Returns ``None`` when no valid child
    turns up in ``max_tries`` draws.
    """
    for _ in range(max_tries):
        i = int(rng.integers(0, len(a.blocks) + 1))
        j = int(rng.integers(0, len(b.blocks) + 1))
        blocks = (*a.blocks[:i], *b.blocks[j:])
        if not blocks:
            continue
        pick = {name: getattr(a if rng.random() < 0.5 else b, name)
                for name in ("dim", "max_len", "init", "inputs", "readout", "loss", "train")}
        if pick["loss"].objective == "next":
            blocks = tuple(dataclasses.replace(x, causal=True) if hasattr(x, "causal") else x for x in blocks)
        child = Program(name="", blocks=tuple(blocks), **pick)
        if not find_errors(child, limits, n_items):
            return child
    return None


__all__ = ["CHANNEL", "MIXERS", "OPERATORS", "OPERATOR_INDEX", "SECTIONS", "Operator", "applicable", "apply_operator",
           "crossover", "mutate", "sample_program", "sample_raw"]
