"""The registered sequential models written as programs (and a few published variants).

Each entry mirrors the registered model's defaults, so ``run_program(data, LIBRARY["sasrec"])``
trains what ``run_experiment(data, "sasrec", {})`` trains (same architecture, loss, init and
sizes; the parameter streams differ, so results agree within seed noise, which the tests check):

* ``sasrec``: SASRec's official pre-LN blocks (ReLU FFN of width ``dim``), final LayerNorm,
  ``sqrt(dim)``-scaled item embeddings, Xavier init, BCE with one negative.
* ``sasrec_ce``: the same with full-softmax cross-entropy (``sasrec`` with ``loss=ce``).
* ``bert4rec``: post-LN bidirectional blocks (GELU FFN of 4x width), LayerNorm on the embeddings,
  the ``Linear -> GELU -> LayerNorm`` head with a per-item bias, cloze with 20% masking.
* ``gru4rec``: embedding dropout 0.25, one GRU, ``Linear(dim, dim)`` tied to the item embeddings,
  full softmax.
* ``fmlp``: FMLP-Rec's idea with a causal learned filter in place of attention.
* ``gmlp``: SASRec with gated-MLP (SwiGLU) blocks in place of its FFNs.
"""

from __future__ import annotations

import dataclasses

from agenticrs.recsys.design.program import (
    GRU,
    MLP,
    Attention,
    Filter,
    GatedMLP,
    Inputs,
    Loss,
    Program,
    Readout,
    Train,
)


def _sasrec_blocks(layers: int = 2, heads: int = 1, dropout: float = 0.2) -> tuple:
    unit = (Attention(heads=heads, causal=True, norm="pre", dropout=dropout),
            MLP(expansion=1, activation="relu", norm="pre", dropout=dropout))
    return unit * layers


SASREC = Program(
    name="sasrec", dim=64, max_len=50, init="xavier",
    inputs=Inputs(item_id=True, position=True, scale=True, norm=False, dropout=0.2),
    blocks=_sasrec_blocks(),
    readout=Readout(final_norm=True, head="none", tied=True, bias=False),
    loss=Loss(kind="bce", negatives=1, objective="next"),
    train=Train(optimizer="adam", lr=1e-3, epochs=8, batch_size=64),
)

SASREC_CE = dataclasses.replace(SASREC, name="sasrec_ce", loss=Loss(kind="ce", objective="next"))

BERT4REC = Program(
    name="bert4rec", dim=64, max_len=50, init="normal",
    inputs=Inputs(item_id=True, position=True, scale=False, norm=True, dropout=0.2),
    blocks=(Attention(heads=2, causal=False, norm="post", dropout=0.2),
            MLP(expansion=4, activation="gelu", norm="post", dropout=0.2)) * 2,
    readout=Readout(final_norm=False, head="mlp", tied=True, bias=True),
    loss=Loss(kind="ce", objective="cloze", mask_prob=0.2, last_item_prob=0.0),
    train=Train(optimizer="adam", lr=1e-3, epochs=8, batch_size=64),
)

GRU4REC = Program(
    name="gru4rec", dim=64, max_len=50, init="default",
    inputs=Inputs(item_id=True, position=False, scale=False, norm=False, dropout=0.25),
    blocks=(GRU(norm="none", residual=False, dropout=0.0),),
    readout=Readout(final_norm=False, head="linear", tied=True, bias=False),
    loss=Loss(kind="ce", objective="next"),
    train=Train(optimizer="adam", lr=1e-3, epochs=8, batch_size=64),
)

FMLP = dataclasses.replace(
    SASREC_CE, name="fmlp",
    blocks=(Filter(causal=True, norm="pre", dropout=0.2), MLP(expansion=1, activation="relu", norm="pre", dropout=0.2)) * 2)

GMLP = dataclasses.replace(
    SASREC_CE, name="gmlp",
    blocks=(Attention(heads=1, causal=True, norm="pre", dropout=0.2),
            GatedMLP(expansion=2, activation="silu", norm="pre", dropout=0.2)) * 2)

LIBRARY: dict[str, Program] = {p.name: p for p in (SASREC, SASREC_CE, BERT4REC, GRU4REC, FMLP, GMLP)}
"""Name -> program."""

REGISTERED_EQUIVALENTS: dict[str, tuple[str, dict]] = {
    "sasrec": ("sasrec", {"loss": "bce"}),
    "sasrec_ce": ("sasrec", {"loss": "ce"}),
    "bert4rec": ("bert4rec", {}),
    "gru4rec": ("gru4rec", {}),
}
"""Library program -> ``(registered model, its config overrides)`` that it re-expresses."""


def get_program(name: str) -> Program:
    """A library program by name."""
    if name not in LIBRARY:
        raise KeyError(f"unknown library program {name!r}; library: {', '.join(LIBRARY)}")
    return LIBRARY[name]


__all__ = ["BERT4REC", "FMLP", "GMLP", "GRU4REC", "LIBRARY", "REGISTERED_EQUIVALENTS", "SASREC", "SASREC_CE",
           "get_program"]
