"""LWGR: generative recommendation with personalised world knowledge under a fusion constraint.

On top of the TIGER backbone (semantic-id encoder-decoder, :mod:`.tiger`):

1. **Knowledge extraction** (:mod:`agenticrs.recsys.knowledge.extractors`): personalised soft
   instructions conditioned on the user's behaviour (the encoder's summary of the history)
   read knowledge out of the text of the user's history items (``instructions="soft"``), or
   a fixed KAR-style template is encoded (``instructions="fixed"``, model ``lwgr_fixed``).
2. **Gated fusion**: the ``n_instructions`` knowledge vectors become extra decoder memory
   tokens whose attention logits are shifted by ``log g_u``; the per-user gate
   ``g_u = sigmoid(MLP(behaviour, knowledge))`` is supervised towards 1 exactly for the users
   whose fused loss beats their knowledge-free loss. ``g_u -> 0`` recovers TIGER exactly.
3. **Constrained training** (:class:`~agenticrs.recsys.knowledge.lagrangian.PrimalDual`):
   both paths are trained; ``L_fused <= (1 + epsilon) * L_free`` is enforced by dual
   ascent on a multiplier ``lambda >= 0``; an InfoNCE term aligning the knowledge with the
   next item's text is the world-knowledge objective the constraint arbitrates.

Strategies: ``strategy="end_to_end"`` trains a small word-level text encoder with the
recommender; ``strategy="frozen"`` uses precomputed vectors of a (large) frozen encoder and
trains only the instructions and adapters on the text side.

Ablations are config fields: ``instructions`` (soft|fixed), ``template_knowledge`` (soft
instructions beside the fixed template), ``instruction_residual``, ``detach_behaviour``,
``constraint``, ``gates``, ``knowledge_weight``, ``strategy``, ``read`` (the soft
instructions' attention read-out, ``pool``: per-user pooling weights over the history
items' text vectors, or ``both``: the two read-outs side by side). Per-epoch
``lwgr/lambda``, ``lwgr/constraint``, ``lwgr/open_gate_share`` (and the two losses) are
logged to TensorBoard by the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agenticrs.recsys.data.dataset import PAD, Dataset, EvalSplit
from agenticrs.recsys.knowledge.extractors import (
    SmallTextEncoder,
    SoftInstructionExtractor,
    SoftInstructionPooling,
    fixed_templates,
    hashed_word_ids,
)
from agenticrs.recsys.knowledge.lagrangian import PrimalDual
from agenticrs.recsys.models.base import pad_histories, register_model
from agenticrs.recsys.models.tiger import TIGER, TIGERConfig, TigerBatch
from agenticrs.recsys.text import encode_items, item_texts, make_encoder


@dataclass
class LWGRConfig(TIGERConfig):
    """LWGR = TIGER backbone + knowledge extraction, gated fusion and the fusion constraint."""

    instructions: str = "soft"
    """``soft`` (personalised, learnable) or ``fixed`` (KAR-style template)."""
    strategy: str = "frozen"
    """``frozen``: precomputed text vectors, only instructions/adapters train on the text side;
    ``end_to_end``: a small word-level text encoder trains with the recommender."""
    n_instructions: int = 4
    """Soft instruction vectors = knowledge tokens per user (per read-out with ``read="both"``)."""
    constraint: bool = True
    """Enforce ``L_fused <= (1 + epsilon) L_free`` with the primal-dual method."""
    epsilon: float = 0.02
    dual_lr: float = 0.05
    gates: bool = True
    """Per-user gates on the knowledge tokens."""
    gate_weight: float = 0.1
    knowledge_weight: float = 0.1
    """Weight of the InfoNCE knowledge/next-item-text alignment."""
    text_vocab: int = 16384
    """Hashed word buckets of the ``end_to_end`` text encoder."""
    text_words: int = 16
    """Words per item text read by the ``end_to_end`` encoder."""
    template_items: int = 10
    """Titles in the fixed template."""
    read: str = "attention"
    """How soft instructions extract knowledge: ``attention`` reads the adapted item texts with
    multi-head attention (knowledge = ``norm(instruction + read-out)``); ``pool`` weighs the
    history items per instruction and pools their text vectors in the text encoder's own
    space before one adapter (uniform at initialisation: the fixed template's content), see
    :class:`~agenticrs.recsys.knowledge.extractors.SoftInstructionPooling`; ``both``: each
    read-out with its own ``n_instructions`` instructions, ``2 * n_instructions`` knowledge
    tokens (attention reads each item's text, pooling keeps the history's mean text within
    reach; the gates and the constraint arbitrate between them)."""
    instruction_residual: bool = True
    """Knowledge token = ``norm(instruction + read-out)``; False: ``norm(read-out)``, only what
    the instruction read from the item texts, without the behaviour it was conditioned on."""
    detach_behaviour: bool = False
    """Read the behaviour summary that conditions the instructions and the gates without a
    gradient into the shared encoder, so the knowledge path cannot reshape the behaviour
    representation the knowledge-free path relies on (as with the fixed template, whose
    knowledge does not read the encoder at all)."""
    template_knowledge: bool = False
    """With ``instructions="soft"``: add the fixed template's knowledge to what the soft
    instructions extract, as the paper's prompt puts the soft instructions beside the
    hand-written history template rather than in its place."""
    knowledge_encoder: str = ""
    """Text encoder of the knowledge side: the frozen item vectors the instructions read, the
    fixed template and the alignment target. Empty = ``text_encoder`` (which also makes the
    semantic ids); a language-model encoder here (``hf:minilm``) brings knowledge that the
    TF-IDF ids do not already carry."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        if self.instructions not in ("soft", "fixed"):
            raise ValueError(f"{name}: field 'instructions' must be 'soft' or 'fixed', got {self.instructions!r}")
        if self.strategy not in ("frozen", "end_to_end"):
            raise ValueError(f"{name}: field 'strategy' must be 'frozen' or 'end_to_end', got {self.strategy!r}")
        if self.read not in ("attention", "pool", "both"):
            raise ValueError(f"{name}: field 'read' must be 'attention', 'pool' or 'both', got {self.read!r}")
        if self.read == "both" and self.strategy != "frozen":
            raise ValueError(f"{name}: read='both' needs strategy='frozen' (pooling reads the frozen text vectors)")
        if self.read == "both" and self.template_knowledge:
            raise ValueError(f"{name}: field 'template_knowledge' applies to read='attention' or 'pool', not 'both'")
        if self.read == "pool" and not self.instruction_residual:
            raise ValueError(f"{name}: field 'instruction_residual' applies to read='attention' only")
        for f in ("n_instructions", "text_words", "template_items"):
            if getattr(self, f) < 1:
                raise ValueError(f"{name}: field {f!r} must be >= 1, got {getattr(self, f)}")
        # Switches of the soft instructions: setting one away from its default without them is a mistake.
        for f, default in (("template_knowledge", False), ("instruction_residual", True), ("read", "attention")):
            if getattr(self, f) != default and self.instructions != "soft":
                raise ValueError(f"{name}: field {f!r} applies to soft instructions only, "
                                 f"got instructions={self.instructions!r}")
        if self.text_vocab < 2:
            raise ValueError(f"{name}: field 'text_vocab' must be >= 2, got {self.text_vocab}")
        for f in ("epsilon", "gate_weight", "knowledge_weight"):
            if getattr(self, f) < 0:
                raise ValueError(f"{name}: field {f!r} must be >= 0, got {getattr(self, f)}")
        if self.dual_lr <= 0:
            raise ValueError(f"{name}: field 'dual_lr' must be > 0, got {self.dual_lr}")


@dataclass
class LWGRFixedConfig(LWGRConfig):
    """The fixed-instruction (KAR-style) baseline: template knowledge, plain fusion."""

    instructions: str = "fixed"
    constraint: bool = False
    gates: bool = False


@register_model("lwgr")
class LWGR(TIGER):
    """TIGER + personalised world knowledge with Lagrangian-constrained, gated fusion."""

    Config = LWGRConfig
    config: LWGRConfig

    def __init__(self, n_items: int, n_users: int, config: LWGRConfig, dataset: Dataset | None = None):
        super().__init__(n_items, n_users, config, dataset)
        assert dataset is not None  # TIGER raised otherwise
        d, m = config.embedding_dim, config.n_instructions
        self.item_text = item_texts(dataset)
        vectors = (encode_items(dataset, config.knowledge_encoder, cache=config.cache) if config.knowledge_encoder
                   else self.item_vectors)
        text = torch.from_numpy(vectors)
        self.register_buffer("text_vectors", text, persistent=False)  # [n_items + 1, text_dim], frozen
        if config.strategy == "end_to_end":
            words = hashed_word_ids(self.item_text, config.text_vocab, config.text_words)
            words[PAD] = 0
            self.register_buffer("word_ids", torch.from_numpy(words), persistent=False)  # [n_items + 1, T]
            self.small_encoder = SmallTextEncoder(config.text_vocab, d)
        elif config.instructions == "soft" and config.read != "pool":
            # adapter from the frozen item vectors to the model space (pooling reads them as they are)
            self.text_adapter = nn.Sequential(nn.Linear(text.shape[1], d), nn.GELU(), nn.Linear(d, d))
        in_dim = d if config.strategy == "end_to_end" else text.shape[1]  # what the text side reads
        self.extractor: SoftInstructionPooling | SoftInstructionExtractor
        if config.instructions == "soft" and config.read == "pool":
            self.extractor = SoftInstructionPooling(in_dim, d, m, config.max_len)
        elif config.instructions == "soft":
            self.extractor = SoftInstructionExtractor(d, m, config.heads, config.max_len,
                                                      residual=config.instruction_residual)
        if config.read == "both":  # the config allows it with soft instructions only
            self.pooling = SoftInstructionPooling(in_dim, d, m, config.max_len)
        if config.instructions == "fixed" or config.template_knowledge:
            self.fixed_adapter = nn.Sequential(nn.Linear(in_dim, d), nn.GELU(), nn.Linear(d, m * d))
            self._template_encoder = None  # fitted lazily (frozen strategy only)
        self.k_proj = nn.Linear(d, d)
        self.k_norm = nn.LayerNorm(d)
        self.k_type = nn.Parameter(torch.zeros(self.n_knowledge_tokens, d))
        if config.gates:
            self.gate = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, 1))
            nn.init.constant_(self.gate[-1].bias, 2.0)  # gates start open: knowledge must earn being closed
        self.align = nn.Linear(d, text.shape[1])
        self.dual = PrimalDual(config.epsilon, config.dual_lr)
        self._stats: dict[str, list[float]] = {}

    # ------------------------------------------------------------------ knowledge
    @property
    def n_knowledge_tokens(self) -> int:
        """Knowledge tokens per user: ``n_instructions``, twice that with ``read="both"``."""
        return self.config.n_instructions * (2 if self.config.read == "both" else 1)

    def _template_vectors(self, histories: torch.Tensor) -> torch.Tensor:
        """Fixed template of each history encoded by the frozen text encoder -> ``[B, text_dim]``."""
        if self._template_encoder is None:
            spec = self.config.knowledge_encoder or self.config.text_encoder
            self._template_encoder = make_encoder(spec).fit(self.item_text[1:])
        texts = fixed_templates(histories.cpu().numpy(), self.item_text, self.config.template_items)
        return torch.from_numpy(self._template_encoder.encode(texts)).to(histories.device)

    def behaviour(self, memory: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """Masked mean of the encoder memory: ``[B, S, d]`` -> ``[B, d]`` (detached if configured)."""
        keep = (~pad).unsqueeze(-1).float()
        mean = (memory * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        return mean.detach() if self.config.detach_behaviour else mean

    def extract_knowledge(self, histories: torch.Tensor, memory: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """Per-user knowledge ``[B, n_instructions, d]`` from ``histories [B, L]`` and the encoder output."""
        hist = histories[:, -self.config.max_len :]
        valid = hist != PAD
        if self.config.instructions == "fixed":
            return self.fixed_knowledge(hist, valid)
        behaviour = self.behaviour(memory, pad)
        queries = self.extractor.queries(behaviour)  # [B, m, d]
        if self.config.strategy == "frozen":
            text = self.text_vectors[hist]  # [B, L, text_dim]
            items = text if self.config.read == "pool" else self.text_adapter(text)  # [B, L, d]
        else:
            items = self.small_encoder(self.word_ids[hist], queries.mean(1))  # instruction-steered pooling
        knowledge = self.extractor(queries, items, valid)
        if self.config.read == "both":  # frozen only (config): the pooled tokens beside the attention's, [B, 2m, d]
            knowledge = torch.cat([knowledge, self.pooling(self.pooling.queries(behaviour), text, valid)], 1)
        if self.config.template_knowledge:
            knowledge = knowledge + self.fixed_knowledge(hist, valid)
        return knowledge

    def fixed_knowledge(self, hist: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Knowledge of the fixed template of ``hist [B, L]`` (``valid`` its non-pad mask) -> ``[B, m, d]``."""
        if self.config.strategy == "frozen":
            z = self._template_vectors(hist)
        else:  # the small encoder reads the template's words: the bag of the history titles
            items = self.small_encoder(self.word_ids[hist], None)
            z = (items * valid.unsqueeze(-1)).sum(1) / valid.sum(1, keepdim=True).clamp(min=1)
        return self.fixed_adapter(z).view(hist.shape[0], self.config.n_instructions, -1)

    def fuse(self, memory: torch.Tensor, pad: torch.Tensor, knowledge: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Append gated knowledge tokens to the memory.

        Returns:
            ``memory [B, S + m, d]``, additive key bias ``[B, S + m]`` (``log g_u`` on the
            knowledge keys) and the gate logits ``[B]`` (None without gates).
        """
        tokens = self.k_norm(self.k_proj(knowledge)) + self.k_type
        bias = torch.zeros(pad.shape, device=memory.device).masked_fill(pad, float("-inf"))
        logit = None
        k_bias = torch.zeros(tokens.shape[:2], device=memory.device)
        if self.config.gates:
            logit = self.gate(torch.cat([self.behaviour(memory, pad), knowledge.mean(1)], -1)).squeeze(-1)
            k_bias = k_bias + F.logsigmoid(logit).unsqueeze(1)
        return torch.cat([memory, tokens], 1), torch.cat([bias, k_bias], 1), logit

    def context(self, users: torch.Tensor, histories: torch.Tensor, batch: object | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.context_with(users, histories, None)

    def context_with(self, users: torch.Tensor, histories: torch.Tensor, knowledge: torch.Tensor | None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused decoder context; ``knowledge`` precomputed (nearline store) or extracted now."""
        memory, pad = self.encode(users, histories)
        if knowledge is None:
            knowledge = self.extract_knowledge(histories, memory, pad)
        mem, bias, _ = self.fuse(memory, pad, knowledge)
        return mem, bias

    @torch.no_grad()
    def knowledge_for(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        """``[B, m, d]`` knowledge of users with these histories (what the nearline job stores)."""
        memory, pad = self.encode(users, histories)
        return self.extract_knowledge(histories, memory, pad)

    @torch.no_grad()
    def score_with_knowledge(self, users: torch.Tensor, histories: torch.Tensor, knowledge: torch.Tensor
                             ) -> torch.Tensor:
        """The online path: scores ``[B, n_items + 1]`` with precomputed ``knowledge [B, m, d]``."""
        return self.scores_from_beams(*self.generate(*self.context_with(users, histories, knowledge), histories))

    # ------------------------------------------------------------------ training
    def losses(self, users: torch.Tensor, histories: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-example knowledge-free and fused behaviour losses ``[B]``, plus the alignment
        (scalar) and the gate logits ``[B]`` (or None)."""
        memory, pad = self.encode(users, histories)
        free_bias = torch.zeros(pad.shape, device=memory.device).masked_fill(pad, float("-inf"))
        free = self.id_loss(memory, free_bias, targets)
        knowledge = self.extract_knowledge(histories, memory, pad)
        mem, bias, logit = self.fuse(memory, pad, knowledge)
        fused = self.id_loss(mem, bias, targets)
        # World-knowledge objective: the knowledge predicts the next item's text (in-batch InfoNCE).
        q = F.normalize(self.align(knowledge.mean(1)), dim=-1)
        t = F.normalize(self.text_vectors[targets], dim=-1)
        align = F.cross_entropy(q @ t.T / 0.1, torch.arange(len(targets), device=q.device))
        return {"free": free, "fused": fused, "align": align, "gate_logit": logit}

    def loss(self, batch: TigerBatch) -> torch.Tensor:
        c = self.config
        out = self.losses(batch.users, batch.histories, batch.targets)
        l_free, l_fused = out["free"].mean(), out["fused"].mean()
        total = l_free + l_fused + c.knowledge_weight * out["align"]
        logit = out["gate_logit"]
        if logit is not None:
            # A gate should be open exactly where this user's knowledge lowered the loss.
            helped = (out["fused"] < out["free"]).float().detach()
            total = total + c.gate_weight * F.binary_cross_entropy_with_logits(logit, helped)
        violation = self.dual.violation(l_fused, l_free)
        if c.constraint:
            total = total + self.dual.penalty(violation)
            if self.training:
                self.dual.update(violation.detach())
        self._record(lam=float(self.dual.lam), constraint=float(violation.detach()),
                     open_gate_share=float((logit > 0).float().mean()) if logit is not None else 1.0,
                     loss_free=float(l_free.detach()), loss_fused=float(l_fused.detach()),
                     align=float(out["align"].detach()))
        return total

    def _record(self, **values: float) -> None:
        for k, v in values.items():
            self._stats.setdefault(k, []).append(v)

    def train_metrics(self) -> dict[str, float]:
        """Epoch means of the fusion statistics since the last call (the trainer logs them)."""
        names = {"lam": "lwgr/lambda", "constraint": "lwgr/constraint", "open_gate_share": "lwgr/open_gate_share",
                 "loss_free": "lwgr/loss_free", "loss_fused": "lwgr/loss_fused", "align": "lwgr/align"}
        out = {names[k]: float(np.mean(v)) for k, v in self._stats.items() if v}
        if "lwgr/lambda" in out:
            out["lwgr/lambda"] = self._stats["lam"][-1]  # the multiplier's current value, not its mean
        self._stats = {}
        return out

    @torch.no_grad()
    def constraint_report(self, split: EvalSplit, batch_size: int = 512) -> dict[str, Any]:
        """Mean behaviour losses on ``split`` with and without knowledge, and whether
        ``fused <= (1 + epsilon) * free`` holds there."""
        was = self.training
        self.eval()
        free = fused = 0.0
        opened = 0
        n = len(split.targets)
        for lo in range(0, n, batch_size):
            hist = pad_histories(split.histories[lo : lo + batch_size], self.config.max_len).to(self.device)
            users = torch.from_numpy(split.users[lo : lo + batch_size]).to(self.device)
            out = self.losses(users, hist, torch.from_numpy(split.targets[lo : lo + batch_size]).to(self.device))
            free += float(out["free"].sum())
            fused += float(out["fused"].sum())
            opened += int((out["gate_logit"] > 0).sum()) if out["gate_logit"] is not None else len(users)
        self.train(was)
        free, fused = free / max(n, 1), fused / max(n, 1)
        return {"loss_free": free, "loss_fused": fused, "bound": (1 + self.config.epsilon) * free,
                "holds": fused <= (1 + self.config.epsilon) * free, "open_gate_share": opened / max(n, 1)}


@register_model("lwgr_fixed")
class LWGRFixed(LWGR):
    """Fixed-instruction (KAR-style template) knowledge baseline; same switches as ``lwgr``."""

    Config = LWGRFixedConfig
