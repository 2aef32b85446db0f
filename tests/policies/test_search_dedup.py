"""The shared ask/tell layer: no searcher proposes a canonical configuration twice; best-default-order."""

from __future__ import annotations

import numpy as np
import pytest

from agenticrs.envs.backends.table import Table
from agenticrs.envs.core import TrialConfig, TrialResult
from agenticrs.envs.spaces import AutoTrainSpace, Dim
from agenticrs.policies.base import Budget, Searcher
from agenticrs.policies.search import list_searchers, make_searcher
from agenticrs.policies.search.default_order import BestDefaultOrder, default_order

# 2 families: pop (1 configuration) and sasrec (2 x 2): 5 configurations, 9 (configuration, fidelity) pairs.
SMALL = AutoTrainSpace(("pop", "sasrec"), (Dim("embedding_dim", (32, 64), frozenset({"sasrec"})),
                                           Dim("lr", (1e-3, 3e-3), frozenset({"sasrec"}))))
FULL = [pid for pid, (_, f) in enumerate(SMALL.enumerate()) if f == 1.0]


def _value(config: TrialConfig) -> float:
    p = config.param_dict
    return 0.1 + 0.1 * (p.get("embedding_dim", 0) == 64) + 0.05 * (p.get("lr", 0) == 3e-3)


def _result(action: np.ndarray, value: float | None = None) -> TrialResult:
    config, fid = SMALL.decode(action)
    return TrialResult(config, "t", fid, 0, "ok", valid={"ndcg@10": _value(config) if value is None else value})


def _searcher(name: str) -> Searcher:
    if name == "best-default-order":
        table = Table([_result(SMALL.encode(c, 1.0)) for c in SMALL.configs()])
        return BestDefaultOrder(table=table)
    return make_searcher(name)


@pytest.mark.parametrize("name", list_searchers())
def test_every_searcher_covers_the_space_without_repeating(name):
    """Budget = every full-fidelity configuration: each is proposed exactly once (halving: per fidelity)."""
    s = _searcher(name)
    s.reset(SMALL, Budget(len(FULL)), seed=3)
    pids = []
    for _ in range(len(FULL)):
        a = s.ask()
        pids.append(SMALL.pair_id(a))
        s.tell(a, _result(a))
    assert len(set(pids)) == len(pids), (name, pids)
    if name != "halving":
        assert sorted(pids) == FULL


class Stubborn(Searcher):
    """Always proposes the same configuration: the layer must refuse the repeats."""

    name = "stubborn"

    def _ask(self) -> np.ndarray:
        return self.action_of(FULL[-1])


def test_the_layer_substitutes_an_unseen_configuration_for_a_repeat():
    s = Stubborn()
    s.reset(SMALL, Budget(len(FULL) + 1), seed=0)
    pids = []
    for _ in range(len(FULL)):
        a = s.ask()
        pids.append(SMALL.pair_id(a))
        s.tell(a, _result(a))
    assert pids[0] == FULL[-1] and sorted(pids) == FULL  # every other trial was a substitute
    assert s.substitutions == len(FULL) - 1 and s.duplicates == (len(FULL) - 1) * (1 + s.max_resample)
    a = s.ask()  # only now, every full-fidelity pair taken, a pair at another fidelity
    assert SMALL.pair_id(a) not in pids


def test_pending_proposals_are_not_proposed_again():
    """Parallel workers: asks without tells in between never return the same pair."""
    for name in ("random", "tpe", "evolution"):
        s = make_searcher(name)
        s.reset(SMALL, Budget(len(FULL)), seed=1)
        actions = [s.ask() for _ in range(len(FULL))]
        assert len({SMALL.pair_id(a) for a in actions}) == len(FULL), name
        for a in actions:
            s.tell(a, _result(a))


def test_tpe_records_each_evaluated_configuration_once():
    """Refused repeats are told FAIL (ignored by TPE), never as extra copies of a result."""
    import optuna

    s = make_searcher("tpe", n_startup_trials=2)
    s.reset(SMALL, Budget(len(FULL)), seed=0)
    for _ in range(len(FULL)):
        a = s.ask()
        s.tell(a, _result(a))
    complete = [t for t in s._study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == len(FULL)
    assert len({tuple(sorted(t.params.items())) for t in complete}) == len(FULL)
    assert all(t.state == optuna.trial.TrialState.FAIL for t in s._study.trials if t not in complete)


def test_tpe_startup_is_uniform_over_configurations():
    """Optuna's own start draws the family first (Pop: 1/2 here); ours draws a configuration (1/5)."""
    pops = 0
    for seed in range(40):
        s = make_searcher("tpe", n_startup_trials=1)
        s.reset(SMALL, Budget(1), seed=seed)
        pops += SMALL.decode(s.ask())[0].model == "pop"
    assert pops < 16  # family-first would give ~20 of 40


def test_default_order_ranks_by_mean_normalised_regret():
    a, b, c = TrialConfig.make("pop"), TrialConfig.make("itemknn", max_len=20), TrialConfig.make("itemknn", max_len=50)
    values = {("t1", a): 0.10, ("t1", b): 0.20, ("t1", c): 0.19,  # regrets 0.5, 0, 0.05
              ("t2", a): 0.40, ("t2", b): 0.10, ("t2", c): 0.36}  # regrets 0, 0.75, 0.1
    rows = [TrialResult(cfg, t, 1.0, s, "ok", valid={"ndcg@10": v + 0.01 * (s - 1)})
            for (t, cfg), v in values.items() for s in range(3)]
    order = default_order(Table(rows), ["t1", "t2"])
    assert [cfg for cfg, _ in order] == [c, a, b]
    assert order[0][1] == pytest.approx((0.05 + 0.1) / 2)
    with pytest.raises(ValueError, match="no ok ndcg@10"):
        default_order(Table(rows), ["nope"])


def test_best_default_order_follows_the_train_ranking_and_leaves_the_task_out(table_kwargs):
    import gymnasium as gym

    env = gym.make("agenticrs/AutoTrain-v0", **table_kwargs, split="test", max_trials=4)
    u = env.unwrapped
    env.reset(seed=0, options={"task": "syn-mixed"})
    s = BestDefaultOrder()
    s.begin(env, 0)
    train = [t.name for t in u.suite.train]
    assert s.source() == (u.backend.table, train) and s.exclude == "syn-mixed"
    expected = [cfg for cfg, _ in default_order(u.backend.table, train)][:4]
    got = [s.pairs[s.space.pair_id(s.ask())][0] for _ in range(4)]
    assert got == expected
    # On a train task, that task's own results are not used to rank.
    env.reset(seed=0, options={"task": train[0]})
    s.begin(env, 0)
    assert s.exclude == train[0]
    assert s.order() == [cfg for cfg, _ in default_order(u.backend.table, train[1:])]
    env.close()


def test_best_default_order_without_a_table_says_so():
    s = BestDefaultOrder(suite=None)
    assert "no table" in s.applies_to(SMALL)
    with pytest.raises(ValueError, match="needs a table"):
        s.reset(SMALL, Budget(2), seed=0)


@pytest.mark.parametrize("suite, n_train", [("amazon-rev", 4), ("synthetic+amazon", 8)])
def test_best_default_order_reads_a_suite_without_its_own_table(tmp_path, monkeypatch, suite, n_train):
    """``amazon-rev`` reads ``amazon``'s table, ``synthetic+amazon`` a merge of two: no ``table=`` needed."""
    from agenticrs.envs.suites import get_suite, suite_table_path

    monkeypatch.setenv("AGENTICRS_CACHE", str(tmp_path))  # where the merged table is written
    s = BestDefaultOrder(suite=suite)
    path, tasks = s.source()
    assert path == str(suite_table_path("autotrain", suite)) and tasks == [t.name for t in get_suite(suite).train]
    assert len(tasks) == n_train and s.applies_to(AutoTrainSpace()) is None
    first = s.order()[0]
    assert first in set(AutoTrainSpace().configs())
