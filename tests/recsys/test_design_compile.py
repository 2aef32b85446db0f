"""Compiled programs: every block trains through the one trainer, stays causal and padding-free,
the training scheme is exactly Adam/AdamW with a schedule, and the library matches the registered models."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.design import (
    BLOCKS,
    LIBRARY,
    Attention,
    Conv,
    Filter,
    GatedMLP,
    GRU,
    Inputs,
    Loss,
    MLP,
    MoE,
    Program,
    Readout,
    Train,
    compile_program,
    count_parameters,
    run_program,
    to_text,
)
from agenticrs.recsys.design.compile import StepSchedule
from agenticrs.recsys.design.library import REGISTERED_EQUIVALENTS
from agenticrs.recsys.evaluation.cost import count_parameters as trainer_count
from agenticrs.recsys.models import get_model
from agenticrs.recsys.training import TrainConfig, run_experiment, seed_everything, train
from chain_data import chain_dataset

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return chain_dataset(n_users=120, n_items=40, length=10)


def tiny(*blocks, objective: str = "next", **sections) -> Program:
    """A small program; ``loss`` / ``train`` dicts override fields of those sections."""
    train = {"epochs": 1, "batch_size": 32, **sections.pop("train", {})}
    return Program(dim=16, max_len=12, blocks=tuple(blocks), loss=Loss(objective=objective, **sections.pop("loss", {})),
                   train=Train(**train), **sections)


CAUSAL_BLOCKS = [Attention(heads=2), GRU(), Conv(kernel=3), Filter(), MLP(expansion=2), GatedMLP(), MoE(experts=3, top_k=2)]


@pytest.mark.parametrize("block", [*CAUSAL_BLOCKS, Attention(causal=False), Conv(causal=False), Filter(causal=False)],
                         ids=lambda b: f"{b.kind}{'' if b.is_causal() else '-bidirectional'}")
def test_every_block_trains_one_epoch_through_the_trainer(data, block):
    objective = "next" if block.is_causal() else "cloze"
    result = run_program(data, tiny(block, MLP(), objective=objective), seed=0)
    assert result.model == "design" and result.cost["epochs"] == 1
    assert all(np.isfinite(v) for v in [*result.valid.values(), *result.test.values()])
    assert np.isfinite(result.train["history"][0]["train/loss"])
    # The cost's parameter count is the validator's estimate, exactly.
    assert result.cost["params"] == count_parameters(tiny(block, MLP(), objective=objective), data.n_items)


@pytest.mark.parametrize("loss", [{"kind": "bce", "negatives": 3}, {"kind": "ce"}, {"kind": "sampled_softmax", "negatives": 5}])
@pytest.mark.parametrize("objective", ["next", "cloze"])
def test_losses_and_objectives(data, loss, objective):
    program = tiny(Attention(causal=objective == "next"), objective=objective, loss=loss,
                   readout=Readout(bias=True, head="mlp", tied=False))
    result = run_program(data, program, seed=1)
    assert 0.0 <= result.valid["ndcg@10"] <= 1.0


def test_side_features_augmentation_and_pooling_train():
    from agenticrs.recsys.data.synthetic import generate_synthetic

    ds = generate_synthetic(users=120, items=80, seed=3)
    for fusion in ("sum", "concat", "gating"):
        program = tiny(Attention(), MLP(), inputs=Inputs(text=True, attributes=True, time_gap=True, fusion=fusion, text_dim=8),
                       readout=Readout(pool="mean", final_norm=True),
                       train={"augment_mask": 0.2, "augment_crop": 0.5, "optimizer": "adamw", "weight_decay": 0.01,
                              "schedule": "cosine", "warmup_steps": 2})
        assert np.isfinite(run_program(ds, program, seed=0).valid["ndcg@10"])
    text_only = tiny(GRU(), inputs=Inputs(item_id=False, text=True, text_dim=8), objective="cloze")
    assert np.isfinite(run_program(ds, text_only, seed=0).valid["ndcg@10"])


def test_closed_form_size_equals_the_built_model():
    """The validator's parameter count (no torch) equals the trainer's count of the compiled model."""
    from agenticrs.recsys.design import sample_program
    from agenticrs.recsys.design import size
    from agenticrs.recsys.models.sasrec_features import GAP_BUCKETS

    assert size.GAP_BUCKETS == GAP_BUCKETS
    rng = np.random.default_rng(7)
    programs = [*LIBRARY.values(), *(sample_program(rng) for _ in range(40)),
                tiny(MoE(experts=5, top_k=2), Filter(causal=False), Conv(kernel=4), objective="cloze",
                     inputs=Inputs(text=True, attributes=True, time_gap=True, fusion="gating", norm=True),
                     readout=Readout(head="mlp", tied=False, bias=True, final_norm=True))]
    for p in programs:
        assert count_parameters(p, 57) == trainer_count(compile_program(p, 57)), to_text(p)


def test_the_model_accepts_programs_beyond_the_default_budget():
    """Limits are a proposer's or env's budget; compiling needs only the language's rules."""
    from agenticrs.recsys.design import DEFAULT_LIMITS, LimitError, validate

    wide = dataclasses.replace(tiny(MLP()), dim=DEFAULT_LIMITS.max_dim * 2)
    with pytest.raises(LimitError):
        validate(wide)
    assert compile_program(wide, n_items=10).program.dim == 2 * DEFAULT_LIMITS.max_dim


def test_registered_design_model_by_name(data):
    """The text form goes through run_experiment like any model's config; "" is the library's SASRec-CE."""
    program = tiny(GRU(), MLP())
    result = run_experiment(data, "design", {"program": to_text(program)},
                            TrainConfig(epochs=1, batch_size=32, progress=False))
    assert result.config["model"]["max_len"] == 12
    default = get_model("design").Config()
    assert default.parsed.blocks == LIBRARY["sasrec_ce"].blocks
    with pytest.raises(ValueError, match="design: field 'program' is not a valid program: blocks\\[0\\].kind"):
        get_model("design").Config(program="block transformer")


def _encode(model, seqs: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model.encode(seqs)


@pytest.mark.parametrize("block", CAUSAL_BLOCKS, ids=lambda b: b.kind)
def test_causal_and_independent_of_padding(block):
    torch.manual_seed(0)
    model = compile_program(tiny(block, MLP(), readout=Readout(pool="mean")), n_items=30)
    seqs = torch.tensor([[0, 0, 0, 5, 6, 7, 8], [0, 1, 2, 3, 4, 5, 6]])
    out = _encode(model, seqs)
    wider = _encode(model, torch.cat([torch.zeros(2, 4, dtype=torch.long), seqs], 1))[:, 4:]
    real = seqs != 0
    assert torch.allclose(out[real], wider[real], atol=1e-5)  # extra padding changes nothing
    changed = seqs.clone()
    changed[:, -1] = 20  # a different most recent item
    after = _encode(model, changed)
    assert torch.allclose(out[:, :-1][real[:, :-1]], after[:, :-1][real[:, :-1]], atol=1e-5)  # the past never sees it
    assert not torch.allclose(out[:, -1], after[:, -1])


def test_bidirectional_blocks_see_the_future():
    torch.manual_seed(0)
    for block in (Attention(causal=False), Filter(causal=False), Conv(causal=False)):
        model = compile_program(tiny(block, objective="cloze"), n_items=30)
        seqs = torch.tensor([[0, 1, 2, 3, 4]])
        changed = seqs.clone()
        changed[0, -1] = 9
        assert not torch.allclose(_encode(model, seqs)[0, -2], _encode(model, changed)[0, -2])


def test_cloze_scores_a_mask_after_the_history():
    torch.manual_seed(0)
    model = compile_program(LIBRARY["bert4rec"], n_items=30)
    model.eval()
    hist = torch.tensor([[0, 3, 4, 5]])
    with torch.no_grad():
        scores = model.score(torch.zeros(1, dtype=torch.long), hist)
        with_mask = torch.tensor([[3, 4, 5, model.mask_id]])
        expected = model.encode(with_mask)[:, -1] @ model.item_table()[:31].T + model.out_bias
    assert scores.shape == (1, 31) and torch.allclose(scores, expected, atol=1e-5)


def test_step_schedule_factors():
    program = tiny(MLP(), train={"schedule": "cosine", "warmup_steps": 4, "epochs": 2})
    s = StepSchedule(program, steps_per_epoch=7)  # 14 steps
    f = [s.factor(i) for i in range(14)]
    assert f[:4] == [0.25, 0.5, 0.75, 1.0] and f[4] == 1.0
    assert f[-1] == pytest.approx(0.5 * (1 + np.cos(np.pi * 9 / 10)))
    assert all(a >= b for a, b in zip(f[3:], f[4:]))
    assert not StepSchedule(tiny(MLP()), 7).active  # plain Adam: no snapshots, the trainer's Adam alone


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_schedule_and_adamw_equal_torch_optimisers(data, optimizer):
    """One epoch through the trainer equals torch's Adam/AdamW with LambdaLR on the same batches."""
    # No attention: the key bias's gradient is rounding noise, which Adam's normalisation blows up
    # to lr-sized moves, so two float paths that differ at 1e-7 would disagree there.
    program = tiny(Conv(), MLP(), train={"optimizer": optimizer, "weight_decay": 0.05, "schedule": "linear",
                                                "warmup_steps": 2, "epochs": 2, "lr": 0.01})
    split = data.split()
    seed_everything(0)
    model = compile_program(program, data.n_items)
    train(model, split, TrainConfig(epochs=1, lr=0.01, batch_size=32, progress=False, patience=0, seed=0,
                                    weight_decay=0.05 if optimizer == "adam" else 0.0, grad_clip=0.0))
    seed_everything(0)
    ref = compile_program(program, data.n_items)
    cls = torch.optim.Adam if optimizer == "adam" else torch.optim.AdamW
    opt = cls(ref.parameters(), lr=0.01, weight_decay=0.05)
    rng = np.random.default_rng(0)
    ref.fit(split)
    schedule = StepSchedule(program, -(-len(ref._train[2]) // 32))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule.factor)
    ref.train()
    for batch in ref._batches(split.train, 32, rng):
        loss = ref.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    for (name, a), b in zip(model.named_parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-5), (name, (a - b).abs().max())
    assert model._step == len(ref._train[2]) // 32 + 1


def test_training_is_seeded(data):
    program = tiny(Attention(), MoE(), train={"augment_crop": 0.3, "augment_mask": 0.1})
    a, b = (run_program(data, program, seed=4).valid for _ in range(2))
    assert a == b


# ---------------------------------------------------------------------- library vs registered models
def _ndcg_pairs(name: str, seeds: int, epochs: int, data: Dataset) -> tuple[list[float], list[float]]:
    model, cfg = REGISTERED_EQUIVALENTS[name]
    split = data.split()
    designed, registered = [], []
    for seed in range(seeds):
        designed.append(run_program(data, LIBRARY[name], split=split, seed=seed, epochs=epochs, lr=5e-3,
                                    patience=0).valid["ndcg@10"])
        registered.append(run_experiment(data, model, cfg, TrainConfig(seed=seed, epochs=epochs, lr=5e-3, batch_size=64,
                                                                        patience=0, progress=False),
                                         split=split).valid["ndcg@10"])
    return designed, registered


def assert_within_seed_noise(a: list[float], b: list[float], floor: float) -> None:
    """Means differ by less than 3 standard errors of the difference (plus ``floor`` for tiny spreads)."""
    se = np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / len(a))
    assert abs(np.mean(a) - np.mean(b)) <= 3 * se + floor, (a, b)


@pytest.mark.parametrize("name", list(REGISTERED_EQUIVALENTS))
def test_library_matches_registered_model_one_epoch(name):
    """Fast version: one epoch, two seeds, same architecture => same parameter count and NDCG@10 within noise."""
    data = chain_dataset(n_users=200, n_items=50, length=12, noise=0.15)
    model, cfg = REGISTERED_EQUIVALENTS[name]
    cls = get_model(model)
    registered = cls(data.n_items, data.n_users, __import__("agenticrs.recsys.models", fromlist=["x"]).build_config(cls, cfg))
    extra = {"sasrec": 64, "sasrec_ce": 64, "gru4rec": 64, "bert4rec": 0}[name]  # the [MASK] row SASRec/GRU4Rec lack
    assert count_parameters(LIBRARY[name], data.n_items) == trainer_count(registered) + extra
    a, b = _ndcg_pairs(name, seeds=2, epochs=1, data=data)
    assert_within_seed_noise(a, b, floor=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REGISTERED_EQUIVALENTS))
def test_library_matches_registered_model(name):
    """8 epochs, 3 seeds on a 300-user chain: the compiled program learns what the registered model learns."""
    data = chain_dataset(n_users=300, n_items=50, length=12, noise=0.15)
    a, b = _ndcg_pairs(name, seeds=3, epochs=8, data=data)
    pop = run_experiment(data, "pop", {}, TrainConfig(progress=False)).valid["ndcg@10"]
    assert min(a) > 2 * pop
    assert_within_seed_noise(a, b, floor=0.02)
