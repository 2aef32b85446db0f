"""The generative speed benchmark times every variant of every model and reports ratios to the reference."""

from __future__ import annotations

import json

import pytest

from agenticrs.benchmarks.generative_speed import VARIANTS, main

DATA = "synthetic:users=200,items=60,seed=0"
TINY = ["--set", "embedding_dim=16", "--set", "heads=2", "--set", "id_levels=2", "--set", "codebook_size=8",
        "--set", "id_epochs=10", "--set", "text_encoder=tfidf:dim=8", "--set", "cache=false"]


def test_every_variant_is_timed_against_the_reference(tmp_path):
    out = tmp_path / "speed.json"
    assert main(["--data", DATA, "--models", "tiger", "--batches", "3", "--warmup", "1", "--batch-size", "32",
                 "--out", str(out), *TINY]) == 0
    payload = json.loads(out.read_text())
    tiger = payload["results"]["tiger"]
    assert set(tiger) == set(VARIANTS)
    assert all(v["targets"] > 0 and v["ms_per_target"] > 0 for v in tiger.values())
    assert tiger["reference"]["speedup"] == 1.0
    assert payload["overrides"]["dropout"] == "0" and payload["machine"]["torch_threads"] == 1


def test_more_batches_than_an_epoch_is_named(tmp_path):
    with pytest.raises(SystemExit, match="exceed one epoch of tiger"):
        main(["--data", DATA, "--models", "tiger", "--batches", "10000", "--out", str(tmp_path / "s.json"), *TINY])
