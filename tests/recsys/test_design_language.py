"""The design language without torch: forms, validation errors, canonical hash, grammar moves."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from agenticrs.recsys.design import (
    LIBRARY,
    OPERATORS,
    Attention,
    Conv,
    DesignError,
    FieldTypeError,
    Filter,
    IncompatibleError,
    LimitError,
    Limits,
    Loss,
    MLP,
    MoE,
    ParseError,
    Program,
    Train,
    UnknownBlockError,
    UnknownFieldError,
    ValueRangeError,
    canonical_json,
    crossover,
    find_errors,
    from_dict,
    mutate,
    parse,
    program_hash,
    sample_program,
    to_dict,
    to_text,
    validate,
)
from agenticrs.recsys.design.grammar import OPERATOR_INDEX, applicable, apply_operator, sample_raw


def programs() -> list[Program]:
    rng = np.random.default_rng(0)
    return [*LIBRARY.values(), *(sample_program(rng) for _ in range(30))]


# ---------------------------------------------------------------------- forms
@pytest.mark.parametrize("explicit", [False, True])
def test_text_round_trip(explicit):
    for p in programs():
        assert parse(to_text(p, explicit=explicit)) == p


def test_dict_and_json_round_trip():
    for p in programs():
        d = to_dict(p)
        assert from_dict(json.loads(json.dumps(d))) == p
        assert parse(json.dumps(d)) == p


def test_text_form_is_readable_and_defaults_are_omitted():
    text = to_text(LIBRARY["sasrec"])
    assert text.splitlines()[:3] == ["program name=sasrec", "inputs scale=true", "block attention"]
    assert "loss kind=bce" in text and "dim=" not in text  # dim 64 is the default
    commented = "# SASRec\n" + text.replace("block attention\n", "block attention   # causal by default\n", 1)
    assert parse(commented) == LIBRARY["sasrec"]


def test_one_line_form_for_command_lines():
    one_line = "block gru;  block mlp\texpansion=2 ; loss kind=bce   # a comment; not a statement"
    p = parse(one_line)
    assert [b.kind for b in p.blocks] == ["gru", "mlp"] and p.blocks[1].expansion == 2 and p.loss.kind == "bce"
    with pytest.raises(UnknownBlockError) as info:
        parse("block gru\nblock mlp; block lstm")
    assert info.value.path == "blocks[2].kind" and info.value.line == 2


def test_quoted_names_and_comments_in_quotes():
    p = dataclasses.replace(LIBRARY["gru4rec"], name='my "net"; # 2')
    assert parse(to_text(p)).name == 'my "net"; # 2'


@pytest.mark.parametrize("source, kind, path, line", [
    ("block attn heads=2", UnknownBlockError, "blocks[0].kind", 1),
    ("program dim=sixty", FieldTypeError, "dim", 1),
    ("inputs dropout=true", FieldTypeError, "inputs.dropout", 1),
    ("block mlp\nblock attention heads=2.5", FieldTypeError, "blocks[1].heads", 2),
    ("block attention colour=red", UnknownFieldError, "blocks[0].colour", 1),
    ("loss kind=ce\nloss kind=bce", ParseError, "", 2),
    ("layer attention", ParseError, "", 1),
    ("block attention heads", ParseError, "", 1),
    ('{"blocks": [{"kind": "attention"}], "optimiser": {}}', UnknownFieldError, "optimiser", None),
    ('{"blocks": 3}', FieldTypeError, "blocks", None),
    ("{not json", ParseError, "", None),
])
def test_parse_errors_name_the_field_and_line(source, kind, path, line):
    with pytest.raises(kind) as info:
        parse(source)
    assert info.value.path == path and info.value.line == line
    assert isinstance(info.value, DesignError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------- validation
def _with(**changes) -> Program:
    return dataclasses.replace(LIBRARY["sasrec"], **changes)


@pytest.mark.parametrize("program, kind, path", [
    (_with(blocks=()), LimitError, "blocks"),
    (_with(blocks=(MLP(),) * 13), LimitError, "blocks"),
    (_with(dim=512), LimitError, "dim"),
    (_with(dim=4), ValueRangeError, "dim"),
    (_with(blocks=(Attention(heads=3),)), IncompatibleError, "blocks[0].heads"),
    (_with(blocks=(MoE(experts=2, top_k=3),)), IncompatibleError, "blocks[0].top_k"),
    (_with(blocks=(Attention(norm="middle"),)), ValueRangeError, "blocks[0].norm"),
    (_with(blocks=(MLP(), Attention(causal=False))), IncompatibleError, "blocks[1].causal"),
    (_with(blocks=(Conv(causal=False),)), IncompatibleError, "blocks[0].causal"),
    (_with(blocks=(Filter(causal=False),)), IncompatibleError, "blocks[0].causal"),
    (_with(loss=Loss(kind="nce")), ValueRangeError, "loss.kind"),
    (_with(train=Train(lr=2.0)), ValueRangeError, "train.lr"),
    (_with(train=Train(epochs=1000)), ValueRangeError, "train.epochs"),
    (_with(inputs=dataclasses.replace(LIBRARY["sasrec"].inputs, item_id=False)), IncompatibleError, "inputs"),
])
def test_validation_errors_name_the_field(program, kind, path):
    with pytest.raises(kind) as info:
        validate(program)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ") if path else True


def test_bidirectional_attention_is_valid_under_cloze():
    bidirectional = _with(blocks=(Attention(causal=False), MLP()), loss=Loss(objective="cloze"))
    assert validate(bidirectional) is bidirectional
    assert validate(LIBRARY["bert4rec"]) is LIBRARY["bert4rec"]


def test_size_limits_and_parameter_count():
    wide = _with(dim=256)
    validate(wide)
    with pytest.raises(LimitError, match="exceed"):
        validate(wide, Limits(max_dim=128))
    with pytest.raises(LimitError, match="parameters exceed") as info:
        validate(wide, Limits(max_params=100_000), n_items=1000)
    assert info.value.path == ""
    with pytest.raises(LimitError, match="negatives"):
        validate(_with(loss=Loss(kind="bce", negatives=64)), n_items=50)


def test_find_errors_lists_every_problem():
    bad = _with(dim=30, blocks=(Attention(heads=4), MoE(experts=2, top_k=3)), loss=Loss(objective="next"))
    paths = [e.path for e in find_errors(bad)]
    assert paths == ["blocks[0].heads", "blocks[1].top_k"]
    assert find_errors(LIBRARY["gru4rec"]) == []


def test_validation_does_not_import_torch():
    code = ("import sys; from agenticrs.recsys.design import LIBRARY, validate, parse, to_text, sample_program\n"
            "import numpy as np; validate(parse(to_text(LIBRARY['bert4rec']))); sample_program(np.random.default_rng(0))\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


# ---------------------------------------------------------------------- canonical form and hash
def test_hash_ignores_name_and_irrelevant_fields():
    p = LIBRARY["sasrec_ce"]
    assert program_hash(dataclasses.replace(p, name="other")) == program_hash(p)
    assert program_hash(dataclasses.replace(p, loss=dataclasses.replace(p.loss, negatives=64))) == program_hash(p)
    assert program_hash(dataclasses.replace(p, loss=dataclasses.replace(p.loss, mask_prob=0.5))) == program_hash(p)
    # ... but not relevant ones
    assert program_hash(dataclasses.replace(p, dim=32)) != program_hash(p)
    assert program_hash(LIBRARY["sasrec"]) != program_hash(p)
    assert program_hash(dataclasses.replace(p, train=dataclasses.replace(p.train, lr=0.1 + 0.2 - 0.3 + 1e-3))) \
        == program_hash(p)  # floats compared at 12 significant digits


def test_hash_is_stable_across_processes_and_forms():
    p = LIBRARY["bert4rec"]
    code = ("from agenticrs.recsys.design import LIBRARY, program_hash; print(program_hash(LIBRARY['bert4rec']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONHASHSEED": "123", **__import__("os").environ})
    assert out.stdout.strip() == program_hash(p)
    assert program_hash(parse(to_text(p))) == program_hash(parse(json.dumps(to_dict(p)))) == program_hash(p)
    assert len(program_hash(p, 64)) == 64 and program_hash(p) == program_hash(p, 64)[:16]
    # The canonical form is itself a program source.
    assert program_hash(parse(canonical_json(p))) == program_hash(p)


def test_library_programs_are_distinct():
    hashes = {program_hash(p) for p in LIBRARY.values()}
    assert len(hashes) == len(LIBRARY)


# ---------------------------------------------------------------------- grammar
def test_sampling_validity_rate_and_determinism():
    rng = np.random.default_rng(1)
    raw = [sample_raw(rng) for _ in range(300)]
    rate = np.mean([not find_errors(p) for p in raw])
    assert rate >= 0.95, rate
    distinct = len({program_hash(p) for p in raw})
    assert distinct >= 290  # the grammar is large: repeats are rare
    kinds = {b.kind for p in raw for b in p.blocks}
    assert kinds == {"attention", "gru", "conv", "filter", "mlp", "gated_mlp", "moe"}
    a = [to_text(sample_program(np.random.default_rng(5))) for _ in range(2)]
    assert a[0] == a[1]


def test_sample_with_fixed_training_scheme():
    train = Train(epochs=3, lr=2e-3)
    rng = np.random.default_rng(2)
    assert all(sample_program(rng, train=train).train == train for _ in range(20))


def test_operators_are_a_finite_fixed_list():
    names = [o.name for o in OPERATORS]
    assert len(names) == len(set(names)) == len(OPERATOR_INDEX) == 72
    assert names[:3] == ["dim_up", "dim_down", "max_len_up"]  # indices are actions: never reorder


def test_every_applicable_operator_gives_a_new_valid_program():
    for p in programs()[:12]:
        mask = applicable(p)
        assert mask.sum() >= 20
        for i in np.flatnonzero(mask):
            child = apply_operator(p, int(i))
            assert not find_errors(child) and program_hash(child) != program_hash(p)
        for i in np.flatnonzero(~mask):
            child = OPERATORS[i](p)
            assert find_errors(child) or program_hash(child) == program_hash(p)


def test_operator_semantics():
    p = LIBRARY["sasrec"]
    assert apply_operator(p, "dim_up").dim == 128
    assert [b.kind for b in apply_operator(p, "add_gru").blocks][-1] == "gru"
    cloze = apply_operator(p, "objective_cloze")
    assert cloze.loss.objective == "cloze" and not any(b.is_causal() for b in cloze.blocks if b.kind == "attention")
    with pytest.raises(IncompatibleError, match="toggle_causal: .*bidirectional"):
        apply_operator(p, "toggle_causal")
    back = apply_operator(cloze, "objective_next")
    assert all(b.is_causal() for b in back.blocks)


def test_mutate_and_crossover_give_valid_new_programs():
    rng = np.random.default_rng(3)
    parents = programs()
    for i in range(40):
        p = parents[i % len(parents)]
        child = mutate(p, rng, n_ops=1 + i % 3)
        assert not find_errors(child) and program_hash(child) != program_hash(p)
    children = [crossover(parents[i], parents[-1 - i], rng) for i in range(30)]
    assert sum(c is not None for c in children) >= 28
    for c in children:
        if c is not None:
            assert not find_errors(c)
    # A splice of a cloze (bidirectional) and a next-item parent stays valid.
    mixed = [crossover(LIBRARY["bert4rec"], LIBRARY["gru4rec"], rng) for _ in range(20)]
    assert all(c is not None and not find_errors(c) for c in mixed)
    assert {c.loss.objective for c in mixed} == {"next", "cloze"}


def test_mutate_balances_sections_and_honours_exclude():
    """Section balance: a uniform draw over the 72 operators edits the block stack in ~40% of
    mutations and the loss in 6%; balanced, each of the six sections gets ~1/6."""
    from agenticrs.recsys.design.grammar import OPERATORS, SECTIONS

    assert {o.section for o in OPERATORS} == set(SECTIONS)
    parents = programs()

    def share(balance: str, field: str) -> float:
        rng = np.random.default_rng(0)
        kids = [(p, mutate(p, rng, balance=balance)) for p in parents for _ in range(8)]
        return float(np.mean([getattr(c, field) != getattr(p, field) for p, c in kids]))

    # 288 mutations each; measured (432): blocks 0.44 -> 0.21, loss 0.06 -> 0.14 (shares of children that differ there)
    assert share("section", "blocks") < 0.6 * share("operator", "blocks")
    assert share("section", "loss") > 1.5 * share("operator", "loss")
    assert 0.1 < share("section", "train") < 0.25
    rng = np.random.default_rng(1)
    train_ops = [o.name for o in OPERATORS if o.section == "train"]
    assert all(mutate(p, rng, exclude=train_ops).train == p.train for p in parents)
    with pytest.raises(ValueError, match="balance"):
        mutate(parents[0], rng, balance="uniform")


# ---------------------------------------------------------------------- repair
def test_repair_keeps_valid_programs_and_fixes_mechanical_errors():
    from agenticrs.recsys.design import repair

    for p in programs()[:10]:
        assert repair(p) == (p, [])
    broken = Program(dim=30, blocks=(Attention(heads=4, causal=False), MoE(experts=2, top_k=3), MLP(expansion=20)),
                     train=Train(lr=5.0), inputs=dataclasses.replace(LIBRARY["sasrec"].inputs, item_id=False))
    fixed, notes = repair(broken)
    assert not find_errors(fixed)
    assert notes == ["train.lr: 5.0 -> 0.1", "blocks[2].expansion: 20 -> 8", "inputs.item_id: false -> true (no item feature)",
                     "blocks[0].causal: false -> true (objective=next)", "blocks[0].heads: 4 -> 3 (divides dim 30)",
                     "blocks[1].top_k: 3 -> 2"]
    big, notes = repair(dataclasses.replace(LIBRARY["sasrec"], dim=256), Limits(max_params=200_000), n_items=1000)
    assert big.dim == 64 and len(notes) == 2 and not find_errors(big, Limits(max_params=200_000), 1000)
    with pytest.raises(LimitError, match="parameters exceed"):
        repair(LIBRARY["sasrec"], Limits(max_params=1000), n_items=1000)


def test_repair_fuzz_random_corruptions():
    """Random out-of-range values, bad choices and incompatible switches on sampled programs: all repaired."""
    from agenticrs.recsys.design import repair

    rng = np.random.default_rng(11)
    for _ in range(200):
        p = sample_program(rng)
        blocks = list(p.blocks)
        i = int(rng.integers(len(blocks)))
        block = blocks[i]
        field = dataclasses.fields(block)[int(rng.integers(len(dataclasses.fields(block))))]
        bad = {bool: lambda: bool(rng.random() < 0.5), int: lambda: int(rng.integers(-5, 99)),
               float: lambda: float(rng.uniform(-1, 3)), str: lambda: "bogus"}[type(getattr(block, field.name))]()
        blocks[i] = dataclasses.replace(block, **{field.name: bad})
        p = dataclasses.replace(p, blocks=tuple(blocks), dim=int(rng.choice([7, 30, 64, 300])),
                                train=dataclasses.replace(p.train, lr=float(rng.choice([1e-3, 10.0]))))
        fixed, _ = repair(p, n_items=500)
        assert not find_errors(fixed, n_items=500)
