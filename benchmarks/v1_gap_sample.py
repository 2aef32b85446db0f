"""A sampled estimate of a suite's default-order gap in AutoTrain-v1's space (no v1 table exists yet).

Trains a fixed sample of v1 configurations (every closed-form one, ``n_neural`` drawn uniformly
from the trainable families, optionally each family's default and a minimum per family, and any
``--include`` configurations; the same sample on every task) live, in this process, on a suite's
tasks for one or more seeds, then applies
:func:`~agenticrs.benchmarks.default_gap.default_gap` to that small table. A sample can only
*under*-state a gap's ceiling and over-state how good the sampled best is, so read it as an
estimate of whether the best configuration differs between tasks.

Views reported (validation NDCG@10, normalised by each task's best):

* ``train -> test``: the default learned on the suite's train tasks, its regret on each test task
  (seed-averaged); also per seed, across seeds (learned on seed ``a``, judged on seed ``b``: a gap
  that survives this is not selection noise) and on the *test* split's metric;
* ``in-sample`` (default learned on every task) and ``leave one task out``;
* ``transfer``: a task-aware baseline, the ranking of the train task nearest in meta-features,
  beside best-default-order's, as regret@1/3/5 on each test task (a suite whose gap is ~0 leaves
  such a method nothing to gain);
* per task: the best configuration and its NDCG@10 per seed, its validation hits
  (``recall@10 * users``), and the noise floor: the regret, on the other seed, of the
  configuration that was best on one seed.

Results are appended to ``OUT/v1_sample.jsonl`` as they come (resumable: a finished (task,
config, seed) is never re-run) and the report ``OUT/v1_gap.{json,md}`` is rewritten after every
task, so a run cut short still yields numbers.

    python -m agenticrs.benchmarks.v1_gap_sample --out DIR [--suite regimes] [--tasks a,b,NAME=URI]
        [--seeds 0,1] [--n-neural 30] [--min-per-family 2] [--family-defaults]
        [--include 'sasrec:embedding_dim=128,layers=1'] [--epochs 4] [--timeout S] [--report-only]

``NAME=URI`` in ``--tasks`` adds a probe task outside the suite (judged like a test task, never
learned from); ``--report-only`` rewrites the report from the log without the data.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from agenticrs.envs.core import TrialConfig, TrialResult

METRIC = "ndcg@10"
HITS_METRIC = "recall@10"
"""Leave-one-out has one validation item per user, so ``recall@10 * users`` is the number of hits."""


# ---------------------------------------------------------------------- the configuration sample
def family_defaults(space: Any) -> list[TrialConfig]:
    """Each family's configuration with every dimension at its index 0 (the model's usual default)."""
    out = []
    for f in range(len(space.families)):
        action = np.zeros(len(space.nvec), dtype=np.int64)
        action[0] = f
        out.append(space.decode(action)[0])
    return out


def sample_configs(n_neural: int, seed: int = 0, *, min_per_family: int = 0, defaults: bool = False,
                   include: Sequence[TrialConfig] = (), space: Any = None) -> list[TrialConfig]:
    """Every closed-form configuration of ``space`` (default: v1) and a seeded sample of the trainable ones.

    Args:
        n_neural: trainable configurations drawn uniformly without replacement.
        seed: the draw's seed.
        min_per_family: then top up every trainable family to at least this many (seeded draws),
            so a small family (BPR-MF: 9 of 1,305) is not left out by chance.
        defaults: add each trainable family's default configuration (:func:`family_defaults`).
        include: further configurations (must be in the space).

    Returns:
        Unique configurations: the closed-form ones, then the trainable ones in space order, then
        ``include``'s that are not already there.

    Raises:
        ValueError: an ``include`` configuration is not in the space.
    """
    from agenticrs.envs.spaces import CLOSED_FORM, SPACES, AutoTrainSpace

    space = space if space is not None else AutoTrainSpace(*SPACES["v1"])
    configs = space.configs()
    index = {c: i for i, c in enumerate(configs)}
    closed = [c for c in configs if c.model in CLOSED_FORM]
    neural = [i for i, c in enumerate(configs) if c.model not in CLOSED_FORM]
    rng = np.random.default_rng(seed)
    picked = {neural[int(i)] for i in rng.choice(len(neural), size=min(n_neural, len(neural)), replace=False)}
    if defaults:
        picked |= {index[c] for c in family_defaults(space) if c.model not in CLOSED_FORM}
    for family in dict.fromkeys(configs[i].model for i in neural):
        have = [i for i in picked if configs[i].model == family]
        rest = [i for i in neural if configs[i].model == family and i not in picked]
        need = min(max(0, min_per_family - len(have)), len(rest))
        picked |= {rest[int(j)] for j in rng.choice(len(rest), size=need, replace=False)}
    extra = []
    for c in include:
        if c not in index:
            raise ValueError(f"--include {c.model} {c.param_dict}: not a configuration of the space")
        if c.model not in CLOSED_FORM and index[c] not in picked:
            extra.append(c)
    return closed + [configs[i] for i in sorted(picked)] + list(dict.fromkeys(extra))


def parse_config(text: str) -> TrialConfig:
    """``"sasrec:embedding_dim=128,loss='bce',lr=3e-3"`` -> a TrialConfig (values are Python literals;
    a bare word is a string)."""
    model, _, rest = text.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"--include {text!r}: expected key=value, got {item!r}")
        try:
            params[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            params[key.strip()] = value.strip()
    return TrialConfig.make(model.strip(), **params)


# ---------------------------------------------------------------------- analysis of the results
def _table(results: Iterable[TrialResult], split: str = "valid") -> Any:
    """A :class:`Table` of ``results``; ``split="test"`` moves the test metrics into ``valid`` so the
    default-order helpers (which read ``valid``) judge on the test split."""
    from agenticrs.envs.backends.table import Table

    if split == "test":
        results = (dataclasses.replace(r, valid=r.test) for r in results)
    return Table(results)


def complete_tasks(results: Sequence[TrialResult], tasks: Sequence[str], configs: Sequence[TrialConfig],
                   seed: int) -> list[str]:
    """The ``tasks`` (in order) whose every configuration has a result of ``seed`` (ok or not)."""
    have = {(r.task, r.config) for r in results if r.seed == seed}
    return [t for t in tasks if all((t, c) in have for c in configs)]


def _per_task(results: Sequence[TrialResult], tasks: Sequence[str], seeds: Sequence[int],
              users: Mapping[str, int]) -> dict[str, Any]:
    """Per task: best configuration (seed mean), its NDCG@10 and hits per seed, and the noise floor."""
    from agenticrs.policies.search.default_order import entry_means, normalised_regrets

    out: dict[str, Any] = {}
    by_seed = {s: entry_means(_table(r for r in results if r.seed == s), tasks, METRIC) for s in seeds}
    regrets_by_seed = {s: normalised_regrets(m) for s, m in by_seed.items()}
    mean = entry_means(_table(results), tasks, METRIC)
    for t in tasks:
        if not mean.get(t):
            continue
        best = max(mean[t], key=mean[t].get)
        family_best: dict[str, float] = {}
        for c, v in mean[t].items():
            family_best[c.model] = max(v, family_best.get(c.model, v))
        row: dict[str, Any] = {"best": best.to_dict(), "best_ndcg": mean[t][best], "ndcg_by_seed": {},
                               "hits_by_seed": {}, "users": users.get(t), "configs_ok": len(mean[t]),
                               "family_best": family_best}
        for s in seeds:
            rs = [r for r in results if r.task == t and r.seed == s and r.config == best and r.ok]
            if rs:
                row["ndcg_by_seed"][str(s)] = float(rs[0].valid[METRIC])
                if users.get(t):
                    row["hits_by_seed"][str(s)] = round(float(rs[0].valid.get(HITS_METRIC, 0.0)) * users[t])
        # Noise floor: the config best on seed a, judged on seed b (0 when seeds agree on the best).
        floor = {}
        for a in seeds:
            for b in seeds:
                if a != b and by_seed[a].get(t) and t in regrets_by_seed[b]:
                    best_a = max(by_seed[a][t], key=by_seed[a][t].get)
                    floor[f"{a}->{b}"] = float(regrets_by_seed[b][t].get(best_a, 1.0))
        row["best_of_one_seed_regret_on_other"] = floor
        out[t] = row
    return out


def gap_report(results: Sequence[TrialResult], train: Sequence[str], test: Sequence[str],
               seeds: Sequence[int], users: Mapping[str, int] | None = None,
               configs: Sequence[TrialConfig] | None = None,
               features: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
    """Every view of the module docstring for one set of live results.

    Args:
        results: trial results (any seeds; failed ones count as missing, i.e. regret 1).
        train, test: task names; only tasks with results are used.
        seeds: the seeds to report per seed and across seeds (those with results).
        users: users per task, for hit counts.
        configs: the sample; when given, a (task, seed) without a result for every one of them
            (a run cut short) is left out, since a partial sample would distort that task's best.
            A seed is then reported per seed only where it covers every train task, and judged
            only on the test tasks it covers.
        features: task meta-features (``{task: task_stats(task)}``); when given, the report adds
            ``transfer``: the nearest-train-task baseline beside best-default-order
            (:func:`~agenticrs.benchmarks.default_gap.nearest_task_transfer`).

    Returns:
        A JSON-able dict: ``train_to_test``, ``in_sample``, ``leave_one_out``, ``per_seed``
        (``{seed: train->test gaps}``), ``cross_seed`` (``{"a->b": gaps}``), ``test_split``
        and ``tasks`` (:func:`_per_task`).
    """
    from agenticrs.benchmarks.default_gap import GAP_TARGET, default_gap, nearest_task_transfer

    if configs is not None:
        tasks_seeds = {(r.task, r.seed) for r in results}
        full = {(t, s) for t, s in tasks_seeds if complete_tasks(results, [t], configs, s)}
        results = [r for r in results if (r.task, r.seed) in full]
    present = {r.task for r in results}
    train = [t for t in train if t in present]
    test = [t for t in test if t in present]
    every = [*train, *test]
    seeds = [s for s in seeds if any(r.seed == s for r in results)]
    covers = {s: {r.task for r in results if r.seed == s} for s in seeds}
    table = _table(results)
    out: dict[str, Any] = {"train": train, "test": test, "seeds": list(seeds)}
    if not every:
        return out
    out["in_sample"] = default_gap(table, every, every)
    if len(every) > 1:
        loo = {t: default_gap(table, [u for u in every if u != t], [t])["gap"].get(t, float("nan")) for t in every}
        out["leave_one_out"] = {"gap": loo, "share_at_target": sum(g >= GAP_TARGET for g in loo.values()) / len(loo)}
    if train and test:
        out["train_to_test"] = default_gap(table, train, test)
        out["test_split"] = default_gap(_table(results, "test"), train, test)
        per = {s: _table(r for r in results if r.seed == s) for s in seeds}
        learned = [s for s in seeds if covers[s] >= set(train)]
        judged = {s: [t for t in test if t in covers[s]] for s in seeds}
        out["per_seed"] = {str(s): default_gap(per[s], train, judged[s]) for s in learned if judged[s]}
        out["cross_seed"] = {f"{a}->{b}": default_gap(per[a], train, judged[b], judge_table=per[b])
                             for a in learned for b in seeds if a != b and judged[b]}
        if features and all(t in features for t in every):
            out["transfer"] = nearest_task_transfer(table, train, test, features)
    out["tasks"] = _per_task(results, every, seeds, users or {})
    return out


def _cfg(d: Mapping[str, Any]) -> str:
    short = {"embedding_dim": "d", "layers": "L", "dropout": "drop", "max_len": "len", "n_negatives": "neg",
             "k_neighbors": "k"}
    params = ", ".join(f"{short.get(k, k)} {v:g}" if isinstance(v, float) else f"{short.get(k, k)} {v}"
                       for k, v in d.get("params", {}).items() if k != "hidden")
    return f"`{d['model']}` {params}".strip()


def markdown(report: Mapping[str, Any], title: str, footer: str = "") -> str:
    """The report as markdown: the train -> test table with its noise beside it, then the other views."""
    from agenticrs.benchmarks.default_gap import GAP_TARGET

    lines = [f"# Default-order gap: {title}", ""]
    tasks = report.get("tasks", {})
    if "train_to_test" in report:
        tt = report["train_to_test"]
        lines += [f"## train -> test (default learned on the {len(report['train'])} train tasks)", "",
                  f"Default: {_cfg(tt['default'])} (mean regret on the train tasks {tt['mean_regret_learned']:.3f}). "
                  f"Share of test tasks with gap >= {GAP_TARGET:g}: **{100 * tt['share_at_target']:.0f}%** "
                  f"(seed mean)" + "".join(f"; seed {s} alone {100 * v['share_at_target']:.0f}%"
                                           f" of {len(v['gap'])}" for s, v in report["per_seed"].items())
                  + "".join(f"; learned on seed {k.split('->')[0]}, judged on seed {k.split('->')[1]} "
                            f"{100 * v['share_at_target']:.0f}% of {len(v['gap'])}"
                            for k, v in report["cross_seed"].items())
                  + f"; on the test split's NDCG@10 {100 * report['test_split']['share_at_target']:.0f}%.", "",
                  "| test task | gap | gap per seed | gap across seeds | gap, test split | noise floor | task's best | "
                  "best NDCG@10 per seed | hits per seed |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for t, g in tt["gap"].items():
            row = tasks.get(t, {})
            per = " / ".join(f"{v['gap'].get(t, float('nan')):.3f}" for v in report["per_seed"].values())
            cross = " / ".join(f"{v['gap'].get(t, float('nan')):.3f}" for v in report["cross_seed"].values()) or "-"
            floor = " / ".join(f"{v:.3f}" for v in row.get("best_of_one_seed_regret_on_other", {}).values()) or "-"
            ndcg = " / ".join(f"{v:.4f}" for v in row.get("ndcg_by_seed", {}).values())
            hits = " / ".join(str(v) for v in row.get("hits_by_seed", {}).values())
            on_test = report["test_split"]["gap"].get(t, float("nan"))
            lines.append(f"| {t} | **{g:.3f}** | {per} | {cross} | {on_test:.3f}"
                         f" | {floor} | {_cfg(row['best']) if row else '-'} | {ndcg} | {hits} |")
        lines.append("")
    if "in_sample" in report:
        ins = report["in_sample"]
        loo = report.get("leave_one_out", {"gap": {}, "share_at_target": float("nan")})
        lines += ["## Every task: in-sample and leave-one-out", "",
                  f"In-sample default (learned on all {len(ins['gap'])} tasks): {_cfg(ins['default'])}; share >= "
                  f"{GAP_TARGET:g}: {100 * ins['share_at_target']:.0f}%. Leave one task out (default learned on the "
                  f"others): {100 * loo['share_at_target']:.0f}%.", "",
                  "| task | split | in-sample gap | leave-one-out gap | task's best | its NDCG@10 (seed mean) "
                  "| users |",
                  "|---|---|---|---|---|---|---|"]
        for t, g in ins["gap"].items():
            row = tasks.get(t, {})
            split = "train" if t in report.get("train", ()) else "test"
            lines.append(f"| {t} | {split} | {g:.3f} | {loo['gap'].get(t, float('nan')):.3f} | "
                         f"{_cfg(row['best']) if row else '-'} | {row.get('best_ndcg', float('nan')):.4f} | "
                         f"{row.get('users') or '-'} |")
        lines.append("")
    if "transfer" in report:
        tr = report["transfer"]
        ks = list(next(iter(tr["mean"].values())))
        lines += ["## A task-aware baseline: the nearest train task's ranking", "",
                  f"Regret@k (the best of the first k configurations of a static order, on the test task) of the "
                  f"ranking of the train task nearest in meta-features ({', '.join(tr['features'])}; log, "
                  f"standardised) against best-default-order's:", "",
                  "| test task | nearest train task | " + " | ".join(f"nearest @{k} / default @{k}" for k in ks) + " |",
                  "|---|---|" + "---|" * len(ks)]
        for t, near in tr["nearest"].items():
            cells = [f"{tr['regret']['nearest-task'][t][k]:.3f} / {tr['regret']['best-default-order'][t][k]:.3f}"
                     for k in ks]
            lines.append(f"| {t} | {near} | " + " | ".join(cells) + " |")
        mean = [f"**{tr['mean']['nearest-task'][k]:.3f}** / {tr['mean']['best-default-order'][k]:.3f}" for k in ks]
        lines += ["| mean | | " + " | ".join(mean) + " |", ""]
    families = list(dict.fromkeys(f for row in tasks.values() for f in row.get("family_best", {})))
    if families:
        lines += ["## Best NDCG@10 per family (seed mean; the sample's best configuration of each family)", "",
                  "| task | " + " | ".join(families) + " |", "|---|" + "---|" * len(families)]
        for t, row in tasks.items():
            fb = row.get("family_best", {})
            top = max(fb.values(), default=0.0)
            cells = [f"**{fb[f]:.4f}**" if f in fb and fb[f] == top else (f"{fb[f]:.4f}" if f in fb else "-")
                     for f in families]
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Columns: *gap* = the default's normalised regret (validation NDCG@10, seed mean); *per seed* = "
              "default learned and judged on one seed's results; *across seeds* = learned on one seed, judged "
              "on the other; *test split* = judged on the test split's NDCG@10; *noise floor* = the regret, on "
              "the other seed, of the configuration best on one seed (what selection noise alone gives); "
              "*hits* = validation users whose item is in the best configuration's top 10.", ""]
    if footer:
        lines += [footer, ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------- the run
def load_log(path: Path) -> dict[tuple[str, TrialConfig, int], TrialResult]:
    """Finished trials of a previous (interrupted) run, by (task, config, seed)."""
    done: dict[tuple[str, TrialConfig, int], TrialResult] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                r = TrialResult.from_dict(json.loads(line))
                done[(r.task, r.config, r.seed)] = r
    return done


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import os

    from agenticrs.benchmarks.common import run_header, write_json_atomic, write_text_atomic
    from agenticrs.envs.backends.live import LiveBackend
    from agenticrs.envs.suites import get_suite
    from agenticrs.recsys.data.errors import DataFormatError

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--suite", default="synthetic")
    ap.add_argument("--tasks", default=None,
                    help="comma-separated task names of the suite (default: all of them), or NAME=URI for a "
                         "task outside it (a probe: judged like a test task, never learned from)")
    ap.add_argument("--seeds", default="0", help="comma-separated trial seeds, run one after the other")
    ap.add_argument("--n-neural", type=int, default=30)
    ap.add_argument("--sample-seed", type=int, default=0)
    ap.add_argument("--min-per-family", type=int, default=0)
    ap.add_argument("--family-defaults", action="store_true")
    ap.add_argument("--include", action="append", default=[], help="MODEL:key=value,... (repeatable)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=None,
                    help="soft per-trial budget in seconds (the trainer stops at 0.8 of it); default none")
    ap.add_argument("--report-only", action="store_true",
                    help="only rewrite OUT/v1_gap.{json,md} from the log (no trials, no data needed), keeping the "
                         "run's date, command, timing and users per task from the previous report")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "v1_sample.jsonl"
    done = load_log(log)
    suite = get_suite(args.suite)
    tasks = [_task(suite, t) for t in _split_tasks(args.tasks)] if args.tasks else list(suite.tasks)
    probes = [t.name for t in tasks if t not in suite.tasks]
    names = [t.name for t in tasks]
    seeds = [int(s) for s in args.seeds.split(",")]
    configs = sample_configs(args.n_neural, args.sample_seed, min_per_family=args.min_per_family,
                             defaults=args.family_defaults, include=[parse_config(c) for c in args.include])
    previous = json.loads((out / "v1_gap.json").read_text()) if args.report_only else {}
    header = {**run_header(), "suite": suite.name, "epochs": args.epochs, "n_configs": len(configs),
              "configs": [c.to_dict() for c in configs], "load_average_start": list(os.getloadavg())}
    header.update({k: previous[k] for k in ("date", "command", "machine", "load_average_start") if k in previous})
    features = previous.get("task_features") if args.report_only else _features(tasks)
    if features is None:  # a report written before meta-features were recorded: read them if the data is here
        try:
            features = _features(tasks)
        except DataFormatError:
            features = {}
    users = ({t: row["users"] for t, row in previous.get("tasks", {}).items() if row.get("users")}
             if args.report_only else {t: int(f["users"]) for t, f in features.items()})
    t0 = time.perf_counter()

    def report() -> dict[str, Any]:
        results = [r for r in done.values() if r.task in names and r.config in configs]
        full = complete_tasks(results, names, configs, seeds[0])  # partial tasks would distort the regrets
        results = [r for r in results if r.task in full]
        res = {**header, "seconds": previous.get("seconds", round(time.perf_counter() - t0, 1)),
               "load_average_end": previous.get("load_average_end", list(os.getloadavg())),
               "trials": len(results), "complete_tasks": full,
               **gap_report(results, [t.name for t in suite.train if t.name in full],
                            [t.name for t in suite.test if t.name in full] + [t for t in probes if t in full],
                            seeds, users, configs, features), "task_features": features}
        write_json_atomic(out / "v1_gap.json", res)
        write_text_atomic(out / "v1_gap.md", markdown(
            res, f"AutoTrain-v1 sample on suite `{suite.name}` ({len(configs)} configurations, "
                 f"{args.epochs} epochs, seeds {args.seeds}; {len(full)} of {len(names)} tasks complete)",
            f"Command: `{header['command']}`; date {header['date']}; {len(results)} trials; "
            f"load average {header['load_average_start'][0]:.1f} at start, "
            f"{res['load_average_end'][0]:.1f} at the last report."))
        return res

    if args.report_only:
        return report()
    backend = LiveBackend(isolate=False, full_epochs=args.epochs, timeout_s=args.timeout)
    test_names = {t.name for t in suite.test}
    for n, seed in enumerate(seeds):
        # Later seeds run the test tasks first: learned on seed 0, judged on seed 1 needs only those.
        order = tasks if n == 0 else sorted(tasks, key=lambda t: t.name not in test_names)
        for task in order:
            for config in configs:
                if (task.name, config, seed) in done:
                    continue
                r = backend.evaluate(task, config, 1.0, seed)
                done[(task.name, config, seed)] = r
                with log.open("a") as f:
                    f.write(json.dumps(r.to_dict()) + "\n")
                print(f"seed {seed} {task.name} {config.model} {config.param_dict} -> {r.status} "
                      f"{r.valid.get(METRIC, float('nan')):.4f} {r.cost.get('seconds', 0):.1f} s "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
            result = report()
    print((out / "v1_gap.md").read_text())
    return result


def _split_tasks(text: str) -> list[str]:
    """``--tasks``: commas separate tasks, except inside a ``NAME=URI``'s options (``?a=1,b=2`` or
    ``synthetic:a=1,b=2``)."""
    out: list[str] = []
    for part in text.split(","):
        if out and _is_task_start(out[-1]) and "=" in part and not _is_task_start(part):
            out[-1] += "," + part  # an option of the previous NAME=URI
        else:
            out.append(part)
    return out


def _is_task_start(part: str) -> bool:
    name, eq, uri = part.partition("=")
    return bool(eq) and ":" in uri


def _task(suite: Any, spec: str) -> Any:
    """A suite task by name, or ``NAME=URI`` (a probe task outside the suite)."""
    from agenticrs.envs.core import Task

    if _is_task_start(spec):
        name, _, uri = spec.partition("=")
        return Task(name.strip(), uri.strip())
    return suite.task(spec)


def _features(tasks: Sequence[Any]) -> dict[str, dict[str, float]]:
    """Each task's meta-features (users = validation users under leave-one-out), from the loaded data."""
    from agenticrs.envs.suites import task_stats

    return {t.name: dict(task_stats(t)) for t in tasks}


if __name__ == "__main__":
    main()
