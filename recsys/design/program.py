"""A recommender as a program: typed, frozen dataclasses and their JSON-compatible dict form.

A :class:`Program` is::

    Program(dim, max_len, init,
            inputs=Inputs(...),                # what an item and a position are embedded from
            blocks=(Attention(...), MLP(...)), # the sequence encoder, applied in order
            readout=Readout(...),              # hidden state -> item scores
            loss=Loss(...),                    # objective (next item / cloze) and loss function
            train=Train(...))                  # optimiser, schedule, epochs, augmentation

Every block is a residual unit ``x + dropout(op(norm(x)))`` (``norm="pre"``), ``norm(x +
dropout(op(x)))`` (``"post"``) or ``x + dropout(op(x))`` (``"none"``); ``residual=False`` drops
the ``x +``. Ops: causal or bidirectional multi-head self-attention, a GRU, a 1-d convolution,
an MLP, a gated MLP (GLU), a mixture of MLP experts and a learned global filter (FFT mixing,
causal or circular).

Field constraints (choices, ranges) are data: each field's ``metadata`` holds ``choices``,
``min`` and ``max``, which :mod:`.validate` checks and :mod:`.grammar` samples from. The dict
form (:func:`to_dict` / :func:`from_dict`) is plain JSON/YAML data; ``from_dict`` checks
structure and types (:class:`~.errors.UnknownFieldError`, :class:`~.errors.FieldTypeError`,
:class:`~.errors.UnknownBlockError`), ranges and combinations are :func:`.validate.validate`'s.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from agenticrs.recsys.design.errors import FieldTypeError, ParseError, UnknownBlockError, UnknownFieldError


def spec(default: Any, *, choices: tuple[Any, ...] | None = None, lo: float | None = None,
         hi: float | None = None) -> Any:
    """A dataclass field with its constraints in ``metadata`` (read by validation and sampling)."""
    meta: dict[str, Any] = {}
    if choices is not None:
        meta["choices"] = choices
    if lo is not None:
        meta["min"] = lo
    if hi is not None:
        meta["max"] = hi
    return field(default=default, metadata=meta)


NORMS = ("pre", "post", "none")
ACTIVATIONS = ("relu", "gelu", "silu")


# ---------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class Block:
    """Base of every block: the residual wrapper shared by all ops (see the module docstring)."""

    kind: ClassVar[str] = ""
    causal_op: ClassVar[bool] = True
    """Whether the op never lets position ``t`` see positions after ``t`` (see :meth:`is_causal`)."""

    norm: str = spec("pre", choices=NORMS)
    """LayerNorm placement: before the op (pre-LN), after the residual sum (post-LN), or none."""
    residual: bool = spec(True)
    """Add the block's input to its output."""
    dropout: float = spec(0.2, lo=0.0, hi=0.9)
    """Dropout on the op's output (and inside attention / MLPs)."""

    def is_causal(self) -> bool:
        """True when position ``t``'s output depends on positions ``<= t`` only."""
        return bool(getattr(self, "causal", self.causal_op))


@dataclass(frozen=True)
class Attention(Block):
    """Multi-head self-attention; ``causal=False`` is bidirectional (BERT4Rec)."""

    kind: ClassVar[str] = "attention"
    heads: int = spec(1, lo=1, hi=16)
    causal: bool = spec(True)


@dataclass(frozen=True)
class MLP(Block):
    """Position-wise ``Linear(dim, expansion * dim) -> activation -> dropout -> Linear``."""

    kind: ClassVar[str] = "mlp"
    expansion: int = spec(4, lo=1, hi=8)
    activation: str = spec("gelu", choices=ACTIVATIONS)


@dataclass(frozen=True)
class GatedMLP(Block):
    """Gated linear unit: ``Linear(activation(x W) * (x V))`` (SwiGLU with ``silu``, gMLP-style)."""

    kind: ClassVar[str] = "gated_mlp"
    expansion: int = spec(2, lo=1, hi=8)
    activation: str = spec("silu", choices=ACTIVATIONS)


@dataclass(frozen=True)
class GRU(Block):
    """A one-layer GRU of width ``dim`` over the sequence (always causal)."""

    kind: ClassVar[str] = "gru"


@dataclass(frozen=True)
class Conv(Block):
    """Depthwise-separable 1-d convolution over positions: ``kernel`` taps per channel, then a
    pointwise ``Linear``; ``causal`` pads on the left only (else both sides: sees the future)."""

    kind: ClassVar[str] = "conv"
    kernel: int = spec(3, lo=1, hi=15)
    causal: bool = spec(True)


@dataclass(frozen=True)
class MoE(Block):
    """Mixture of ``experts`` MLPs; a linear router picks ``top_k`` per position (softmax weights)."""

    kind: ClassVar[str] = "moe"
    experts: int = spec(4, lo=2, hi=16)
    top_k: int = spec(1, lo=1, hi=4)
    expansion: int = spec(2, lo=1, hi=8)
    activation: str = spec("gelu", choices=ACTIVATIONS)


@dataclass(frozen=True)
class Filter(Block):
    """Learned global filter over positions (FMLP-Rec style FFT mixing).

    ``causal=True``: a learned length-``max_len`` causal convolution computed by FFT with zero
    padding (no future leaks); ``causal=False``: FMLP-Rec's circular filter (sees the future).
    """

    kind: ClassVar[str] = "filter"
    causal: bool = spec(True)


BLOCKS: dict[str, type[Block]] = {cls.kind: cls for cls in (Attention, MLP, GatedMLP, GRU, Conv, MoE, Filter)}
"""Block kind -> class: the language's whole block vocabulary."""


# ---------------------------------------------------------------------- sections
@dataclass(frozen=True)
class Inputs:
    """How an item at a position is embedded: a fused item representation plus sequence features."""

    item_id: bool = spec(True)
    """A learned item-id embedding."""
    text: bool = spec(False)
    """The item text's TF-IDF + SVD vector (``text_dim``), projected to ``dim``."""
    attributes: bool = spec(False)
    """The mean of learned embeddings of the item's attribute ids (brand, category)."""
    position: bool = spec(True)
    """A learned right-aligned positional embedding."""
    time_gap: bool = spec(False)
    """A learned embedding of the log-bucketed time gap to the previous interaction."""
    fusion: str = spec("sum", choices=("sum", "concat", "gating"))
    """How several item features are fused (one item table, also used to score when tied)."""
    scale: bool = spec(False)
    """Multiply item vectors by ``sqrt(dim)`` (SASRec)."""
    norm: bool = spec(False)
    """LayerNorm on the summed input embedding (BERT4Rec)."""
    dropout: float = spec(0.2, lo=0.0, hi=0.9)
    """Dropout on the input embedding."""
    text_dim: int = spec(32, lo=4, hi=256)


@dataclass(frozen=True)
class Readout:
    """From the encoder's hidden states to item scores."""

    pool: str = spec("last", choices=("last", "mean"))
    """``last``: the state at the position; ``mean``: the mean of the states up to it."""
    final_norm: bool = spec(False)
    """LayerNorm after the last block (pre-LN stacks need it)."""
    head: str = spec("none", choices=("none", "linear", "mlp"))
    """``linear``: ``Linear(dim, dim)``; ``mlp``: ``Linear -> GELU -> LayerNorm`` (BERT4Rec)."""
    tied: bool = spec(True)
    """Score with the input item table (else a separate output embedding)."""
    bias: bool = spec(False)
    """A learned per-item output bias."""


@dataclass(frozen=True)
class Loss:
    """The training objective and the loss function."""

    kind: str = spec("ce", choices=("bce", "ce", "sampled_softmax"))
    """``bce``: binary cross-entropy on the positive and ``negatives`` sampled items; ``ce``: full
    softmax over all items; ``sampled_softmax``: softmax over the positive and ``negatives`` samples."""
    negatives: int = spec(1, lo=1, hi=1024)
    """Uniformly sampled negatives per position (``bce``, ``sampled_softmax``)."""
    objective: str = spec("next", choices=("next", "cloze"))
    """``next``: predict item ``t + 1`` at every position (needs a causal encoder); ``cloze``: mask
    items and predict them (BERT4Rec); scoring then appends a [MASK] after the history."""
    mask_prob: float = spec(0.2, lo=0.01, hi=1.0)
    """``cloze``: share of items masked per sequence (at least one)."""
    last_item_prob: float = spec(0.0, lo=0.0, hi=1.0)
    """``cloze``: share of sequences in which only the last item is masked."""


@dataclass(frozen=True)
class Train:
    """The training scheme (the trainer's budget, seeds and early stopping stay the trainer's)."""

    optimizer: str = spec("adam", choices=("adam", "adamw"))
    """``adam`` (L2 ``weight_decay`` in the gradient) or ``adamw`` (decoupled weight decay)."""
    lr: float = spec(1e-3, lo=1e-5, hi=1e-1)
    weight_decay: float = spec(0.0, lo=0.0, hi=0.5)
    schedule: str = spec("constant", choices=("constant", "cosine", "linear"))
    """Learning-rate decay over the program's ``epochs`` (a low-fidelity run sees its start)."""
    warmup_steps: int = spec(0, lo=0, hi=10000)
    """Linear warm-up steps before the schedule."""
    epochs: int = spec(8, lo=1, hi=500)
    batch_size: int = spec(64, lo=4, hi=4096)
    augment_mask: float = spec(0.0, lo=0.0, hi=0.9)
    """Augmentation: share of input items replaced by [MASK] (targets unchanged)."""
    augment_crop: float = spec(0.0, lo=0.0, hi=1.0)
    """Augmentation: share of training sequences replaced by a random contiguous crop (>= half)."""


@dataclass(frozen=True)
class Program:
    """A sequential recommender as data (see the module docstring)."""

    name: str = ""
    """A label (not part of the program's identity: the canonical form drops it)."""
    dim: int = spec(64, lo=8, hi=1024)
    """Width of every embedding and hidden state."""
    max_len: int = spec(50, lo=2, hi=512)
    """Most recent items read (including the [MASK] slot under ``cloze``)."""
    init: str = spec("xavier", choices=("xavier", "normal", "default"))
    """Weight init: Xavier-normal (SASRec), N(0, 0.02) truncated (BERT), or PyTorch's defaults with
    N(0, 0.02) embeddings (GRU4Rec). GRU weights are always Xavier / orthogonal."""
    inputs: Inputs = field(default_factory=Inputs)
    blocks: tuple[Block, ...] = ()
    readout: Readout = field(default_factory=Readout)
    loss: Loss = field(default_factory=Loss)
    train: Train = field(default_factory=Train)


SECTIONS: dict[str, type] = {"inputs": Inputs, "readout": Readout, "loss": Loss, "train": Train}
"""Section name -> dataclass (the ``Program`` fields that are single objects)."""
TOP_FIELDS = ("name", "dim", "max_len", "init")


# ---------------------------------------------------------------------- typing
_HINTS: dict[type, dict[str, Any]] = {}


def field_types(cls: type) -> dict[str, type]:
    """``{field: python type}`` of a section or block dataclass (resolved once)."""
    if cls not in _HINTS:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return _HINTS[cls]


def check_type(value: Any, expected: type, path: str) -> Any:
    """``value`` as ``expected`` (an int is accepted for a float), else :class:`FieldTypeError`."""
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise FieldTypeError(f"expects {expected.__name__}, got {type(value).__name__} {value!r}", path)
    return value


def build(cls: type, values: Mapping[str, Any], path: str) -> Any:
    """An instance of ``cls`` from a mapping of its fields (unknown fields and wrong types raise)."""
    if not isinstance(values, Mapping):
        raise FieldTypeError(f"expects a mapping of fields, got {type(values).__name__}", path)
    types = field_types(cls)
    # A block's "kind" names its class; Loss has a real field called kind.
    tag = {"kind"} if issubclass(cls, Block) else set()
    unknown = sorted(set(values) - set(types) - tag)
    if unknown:
        raise UnknownFieldError(f"unknown field {unknown[0]!r}; fields: {', '.join(types)}",
                                f"{path}.{unknown[0]}" if path else unknown[0])
    typed = {k: check_type(v, types[k], f"{path}.{k}" if path else k) for k, v in values.items() if k not in tag}
    return cls(**typed)


def block_from_dict(values: Mapping[str, Any], path: str) -> Block:
    """A block from ``{"kind": ..., field: value}``."""
    if not isinstance(values, Mapping):
        raise FieldTypeError(f"expects a block mapping with a 'kind', got {type(values).__name__}", path)
    kind = values.get("kind")
    if kind not in BLOCKS:
        raise UnknownBlockError(f"unknown block kind {kind!r}; kinds: {', '.join(BLOCKS)}", f"{path}.kind")
    return build(BLOCKS[kind], values, path)


# ---------------------------------------------------------------------- dict form
def from_dict(data: Mapping[str, Any]) -> Program:
    """A :class:`Program` from its dict form (missing fields take their defaults).

    Raises:
        UnknownFieldError, FieldTypeError, UnknownBlockError, ParseError: structure or types.
    """
    if not isinstance(data, Mapping):
        raise ParseError(f"a program is a mapping of sections, got {type(data).__name__}")
    allowed = set(TOP_FIELDS) | set(SECTIONS) | {"blocks"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise UnknownFieldError(f"unknown field {unknown[0]!r}; fields: {', '.join(sorted(allowed))}", unknown[0])
    top = build(Program, {k: data[k] for k in TOP_FIELDS if k in data}, "")
    sections = {name: build(cls, data.get(name, {}), name) for name, cls in SECTIONS.items()}
    blocks = data.get("blocks", [])
    if not isinstance(blocks, (list, tuple)):
        raise FieldTypeError(f"expects a list of blocks, got {type(blocks).__name__}", "blocks")
    built = tuple(block_from_dict(b, f"blocks[{i}]") for i, b in enumerate(blocks))
    return dataclasses.replace(top, blocks=built, **sections)


def section_dict(obj: Any) -> dict[str, Any]:
    """A section's or block's fields as a dict (blocks start with their ``kind``)."""
    out: dict[str, Any] = {"kind": obj.kind} if isinstance(obj, Block) else {}
    out.update({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    return out


def to_dict(program: Program) -> dict[str, Any]:
    """The plain-data form (JSON / YAML): every field, defaults included."""
    out: dict[str, Any] = {k: getattr(program, k) for k in TOP_FIELDS}
    for name in SECTIONS:
        out[name] = section_dict(getattr(program, name))
    out["blocks"] = [section_dict(b) for b in program.blocks]
    return out


def defaults(cls: type) -> dict[str, Any]:
    """``{field: default}`` of a section or block class."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


__all__ = ["ACTIVATIONS", "Attention", "BLOCKS", "Block", "Conv", "Filter", "GRU", "GatedMLP", "Inputs", "Loss",
           "MLP", "MoE", "NORMS", "Program", "Readout", "SECTIONS", "Train", "block_from_dict", "defaults",
           "field_types", "from_dict", "section_dict", "to_dict"]
