"""Training settings that keep their word: invalid values refused by field, progress lines off a
terminal, a deadline that bounds training plus the final evaluation, and the models' defaults."""

from __future__ import annotations

import io
import time

import pytest
import torch
from bigram_model import Bigram

from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.models import get_model
from agenticrs.recsys.models.base import build_config
from agenticrs.recsys.training import TrainConfig, build_train_config, run_experiment
from agenticrs.recsys.training.progress import ProgressLines, format_seconds


def fast(**kw) -> TrainConfig:
    return TrainConfig(**{"progress": False, "batch_size": 128, "lr": 0.01, **kw})


# ---------------------------------------------------------------------- invalid settings
@pytest.mark.parametrize(
    "field, value, rule",
    [
        ("epochs", -1, "an integer >= 1"),
        ("epochs", 0, "an integer >= 1"),
        ("epochs", 2.5, "an integer >= 1"),
        ("batch_size", 0, "an integer >= 1"),
        ("eval_every", 0, "an integer >= 1"),
        ("eval_batch_size", -3, "an integer >= 1"),
        ("patience", -1, "an integer >= 0"),
        ("seed", -1, "an integer >= 0"),
        ("valid_max_users", 0, "None or an integer >= 1"),
        ("max_seconds", -5.0, "None or a finite number of seconds > 0"),
        ("max_seconds", float("inf"), "None or a finite number of seconds > 0"),
        ("lr", 0.0, "a finite number > 0"),
        ("lr", float("nan"), "a finite number > 0"),
        ("weight_decay", -0.1, "a finite number >= 0"),
        ("grad_clip", float("nan"), "a finite number >= 0"),
        ("ks", (), "a non-empty tuple of integer cut-offs >= 1"),
        ("ks", (0, 10), "a non-empty tuple of integer cut-offs >= 1"),
        ("valid_metric", "ndcg@50", "one of the computed metrics (ndcg@5, ndcg@10, ndcg@20, recall@5, recall@10, "
                                    "recall@20, mrr@5, mrr@10, mrr@20)"),
    ],
)
def test_an_invalid_setting_is_one_error_naming_the_field(field: str, value, rule: str) -> None:
    with pytest.raises(ValueError) as info:
        TrainConfig(**{field: value})
    assert str(info.value) == f"TrainConfig: field {field!r} must be {rule}, got {value!r}"


def test_command_line_strings_are_checked_after_typing() -> None:
    with pytest.raises(ValueError, match="field 'epochs' must be an integer >= 1, got -1"):
        build_train_config({"epochs": "-1"})
    assert build_train_config({"epochs": "3", "max_seconds": "2.5"}).max_seconds == 2.5


# ---------------------------------------------------------------------- progress lines
def test_progress_off_a_terminal_prints_epoch_loss_metric_and_elapsed(chain: Dataset, capsys) -> None:
    run_experiment(chain, Bigram, train_config=fast(epochs=3, progress=True))
    err = capsys.readouterr().err  # pytest's capture is not a terminal
    lines = [line for line in err.splitlines() if line.startswith("train bigram: epoch")]
    assert lines[0].startswith("train bigram: epoch 1/3, loss ") and lines[-1].startswith("train bigram: epoch 3/3, loss ")
    assert all("valid ndcg@10 " in line and "(best " in line and line.endswith(" elapsed") for line in lines)
    assert "\r" not in err  # no bar redraws in a log


def test_progress_lines_heartbeat_within_a_long_epoch_and_throttle_epochs() -> None:
    now = [0.0]
    out = io.StringIO()
    lines = ProgressLines("tiger", 50, out, heartbeat_s=60, epoch_gap_s=10, clock=lambda: now[0])
    for batch in range(1, 151):  # a 150-second first epoch, one batch a second
        now[0] = float(batch)
        lines.batch(1, batch, 2.0)
    lines.epoch(1, 2.0, "ndcg@10", 0.01, 0.01, 1, last=False)
    now[0] = 155.0
    lines.epoch(2, 1.5, "ndcg@10", None, 0.01, 1, last=False)  # 5 s after the last line: skipped
    now[0] = 170.0
    lines.epoch(3, 1.2, "ndcg@10", 0.02, 0.02, 3, last=True)
    assert out.getvalue().splitlines() == [
        "train tiger: epoch 1/50, batch 60, loss 2.0000, 1m00s elapsed",
        "train tiger: epoch 1/50, batch 120, loss 2.0000, 2m00s elapsed",
        "train tiger: epoch 1/50, loss 2.0000, valid ndcg@10 0.0100 (best 0.0100 at epoch 1), 2m30s elapsed",
        "train tiger: epoch 3/50, loss 1.2000, valid ndcg@10 0.0200 (best 0.0200 at epoch 3), 2m50s elapsed",
    ]
    assert [format_seconds(s) for s in (5, 65, 7300)] == ["5s", "1m05s", "2h01m"]


# ---------------------------------------------------------------------- a deadline for the whole run
class SlowScoring(Bigram):
    """Scoring costs 2 ms per user, so evaluation dominates a run as it does for TIGER's beam search."""

    def score(self, users: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        time.sleep(0.002 * len(users))
        return super().score(users, histories)


@pytest.fixture
def warm_adam() -> None:
    """The process's first Adam imports torch._dynamo (seconds on a loaded machine): not what is timed here."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def test_a_deadline_leaves_room_for_the_final_evaluation(chain: Dataset, warm_adam: None) -> None:
    budget = 4.0
    start = time.perf_counter()
    res = run_experiment(chain, SlowScoring, train_config=fast(epochs=10_000, patience=0, eval_every=50),
                         deadline=start + budget)
    elapsed = time.perf_counter() - start
    assert res.train["stopped_because"] == "max_seconds" and res.cost["epochs"] > 1
    assert elapsed <= budget + 0.5, elapsed  # training, validation and test evaluation all inside it


def test_a_deadline_evaluation_alone_overruns_is_said_up_front(chain: Dataset, capsys, warm_adam: None) -> None:
    start = time.perf_counter()
    res = run_experiment(chain, SlowScoring, train_config=fast(epochs=10_000, patience=0, progress=True),
                         deadline=start + 0.2)
    err = capsys.readouterr().err
    assert "but evaluation alone needs about" in err and "training one batch only" in err
    assert res.train["stopped_because"] == "max_seconds" and res.cost["epochs"] == 1


# ---------------------------------------------------------------------- defaults
def test_sasrec_defaults_to_full_softmax_ce_and_the_paper_loss_is_one_setting_away() -> None:
    cls = get_model("sasrec")
    assert build_config(cls, {}).loss == "ce"
    assert build_config(cls, {"loss": "bce"}).loss == "bce"


def test_every_env_names_the_sasrec_loss_so_default_changes_leave_tables_valid() -> None:
    from agenticrs.envs.compose import COMPONENT_PARAMS
    from agenticrs.envs.spaces import DEFAULT_DIMS, FAMILIES, GENERATIVE_DIMS, GENERATIVE_FAMILIES, AutoTrainSpace

    for space in (AutoTrainSpace(), AutoTrainSpace(FAMILIES + GENERATIVE_FAMILIES, GENERATIVE_DIMS)):
        sasrec = [c for c in space.configs() if c.model == "sasrec"]
        assert sasrec and all("loss" in c.to_dict()["params"] for c in sasrec), sasrec[:1]
    assert any(d.name == "loss" for d in DEFAULT_DIMS)
    assert COMPONENT_PARAMS["sasrec"]["loss"] == "ce"
