"""Surrogate backend accuracy: Kendall tau of its predictions against held-out live results.

The surrogate is fitted on part of a table of live results and ranks what it was not shown;
the held-out part of the table *is* the live ground truth. Three protocols:

1. ``unseen_configs``: K folds over configurations. Fitted on the other folds (every task and
   fidelity), it ranks the held-out configurations on each task, at each fidelity.
2. ``unseen_full_fidelity``: the same folds, but held-out configurations keep their
   low-fidelity results in the training data; it ranks them at full fidelity (what a
   multi-fidelity search needs). Closed-form families, which have no low fidelity, are left out.
3. ``unseen_tasks``: fitted on the suite's train tasks (every configuration), it ranks every
   configuration on the test tasks, which it knows only by their meta-features.

Tau is Kendall's tau-b between the surrogate's noise-free prediction and the mean over seeds
of the live metric, computed per task (and fidelity) and averaged (as
:meth:`SurrogateBackend.kendall_tau` does); ``pooled`` ranks all tasks together. Each protocol
has a simple baseline for scale: the mean of the configuration's family on that task (1), the
configuration's own low-fidelity result (2), its mean normalised metric on the train tasks (3).

    python -m agenticrs.benchmarks.surrogate_tau [--table PATH] [--folds 5] [--metric ndcg@10]

Writes ``benchmarks/results/surrogate.json`` and ``surrogate.md`` (with the run header).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from agenticrs.benchmarks.common import RESULTS_DIR, run_header, write_json_atomic, write_text_atomic
from agenticrs.envs.backends.surrogate import SurrogateBackend
from agenticrs.envs.backends.table import Table, load_table, table_path
from agenticrs.envs.core import TrialResult

Key = tuple[str, str, float]
"""(task, config key, fidelity)."""


def entry_means(results: Iterable[TrialResult], metric: str, split: str) -> dict[Key, float]:
    """Mean over ok seeds of ``split`` ``metric`` per ``(task, config key, fidelity)``."""
    acc: dict[Key, list[float]] = defaultdict(list)
    for r in results:
        values = r.valid if split == "valid" else r.test
        if r.ok and metric in values:
            acc[(r.task, r.config.key(), round(r.fidelity, 6))].append(float(values[metric]))
    return {k: float(np.mean(v)) for k, v in acc.items()}


def grouped_tau(actual: Mapping[Key, float], predicted: Mapping[Key, float]) -> dict[str, float]:
    """Tau-b per task, its mean over tasks, and pooled over tasks, on the keys both sides have.

    Same grouping as :meth:`SurrogateBackend.kendall_tau` (one group per task); a group with
    fewer than 2 points or a constant side has no tau and is skipped.
    """
    from scipy.stats import kendalltau

    keys = [k for k in actual if k in predicted and math.isfinite(predicted[k])]
    per_task: dict[str, float] = {}
    for task in sorted({k[0] for k in keys}):
        ks = [k for k in keys if k[0] == task]
        if len(ks) >= 2:
            t = kendalltau([actual[k] for k in ks], [predicted[k] for k in ks]).statistic
            if np.isfinite(t):
                per_task[task] = float(t)
    pooled = kendalltau([actual[k] for k in keys], [predicted[k] for k in keys]).statistic if len(keys) >= 2 else math.nan
    return {"mean": float(np.mean(list(per_task.values()))) if per_task else math.nan,
            "pooled": float(pooled), "per_task": per_task, "n": len(keys)}


def fit_surrogate(train: Table, max_iter: int, task_meta: Mapping[str, Mapping[str, float]] | None = None
                  ) -> tuple[SurrogateBackend, float]:
    """A noise-free, always-predicting surrogate fitted on ``train``, and its fit seconds."""
    backend = SurrogateBackend(train, use_table=False, noise=False, max_iter=max_iter, task_meta=task_meta)
    t0 = time.perf_counter()
    _ = backend.model  # fit now, to time it apart from prediction
    return backend, time.perf_counter() - t0


def surrogate_tau(backend: SurrogateBackend, held_out: list[TrialResult], metric: str, split: str
                  ) -> dict[str, float]:
    """:meth:`SurrogateBackend.kendall_tau` per task (averaged) and pooled, on ``held_out``."""
    return {"mean": backend.kendall_tau(held_out, metric, split, per_task=True),
            "pooled": backend.kendall_tau(held_out, metric, split, per_task=False),
            "n": len(entry_means(held_out, metric, split))}


def load_results(path: str, suite: str | None = None) -> Table:
    """A table file, or the journal (``*.partial.jsonl``) of a build still running (read-only).

    Tasks of the suite that lack meta-features in the header get them from
    :func:`~agenticrs.envs.suites.task_stats` (shipped suite statistics), so unseen tasks can
    be predicted from a journal too.
    """
    from agenticrs.envs.suites import get_suite, task_stats

    if path.endswith(".partial.jsonl"):
        if not Path(path).is_file():
            raise FileNotFoundError(f"no build journal at {path}")
        # Never truncate a journal a build is appending to: drop the last, possibly torn, piece.
        results = [TrialResult.from_dict(obj["result"]) for line in Path(path).read_bytes().split(b"\n")[:-1]
                   if line.strip() and (obj := json.loads(line)).get("kind") == "result"]
        table = Table(results, {"suite": suite or "synthetic", "partial": True})
        table.header["_path"] = path
    else:
        table = load_table(path)  # cached per process: copy before adding meta-features
        table = Table(table.results(), {**table.header, "tasks": {k: dict(v) for k, v in
                                                                    table.header.get("tasks", {}).items()}})
    header = table.header
    header["suite"] = header.get("suite") or suite or "synthetic"
    tasks = header.setdefault("tasks", {})
    try:
        known = {t.name: t for t in get_suite(header["suite"]).tasks}
    except KeyError:
        known = {}
    for name in table.tasks:
        if not tasks.get(name, {}).get("meta") and name in known:
            tasks.setdefault(name, {})["meta"] = task_stats(known[name])
    return table


def _suite_tasks(name: str) -> tuple[list[str], list[str]]:
    from agenticrs.envs.suites import get_suite

    try:
        suite = get_suite(name)
    except KeyError:
        return [], []
    return [t.name for t in suite.train], [t.name for t in suite.test]


# ---------------------------------------------------------------------- protocols
def config_folds(table: Table, folds: int, seed: int) -> list[set[str]]:
    keys = sorted(table.configs)
    if folds < 2 or folds > len(keys):
        raise ValueError(f"--folds must be in [2, {len(keys)}] for a table of {len(keys)} configurations, got {folds}")
    perm = np.random.default_rng(seed).permutation(len(keys))
    return [{keys[i] for i in part} for part in np.array_split(perm, folds)]


def family_mean_baseline(train_means: Mapping[Key, float], family: Mapping[str, str]) -> Callable[[Key], float]:
    """Predict a held-out entry by the mean of its family (else of all configs) on that task and fidelity."""
    by_family: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    by_task: dict[tuple[str, float], list[float]] = defaultdict(list)
    for (task, ck, fid), v in train_means.items():
        by_family[(task, family[ck], fid)].append(v)
        by_task[(task, fid)].append(v)

    def predict(key: Key) -> float:
        task, ck, fid = key
        vals = by_family.get((task, family[ck], fid)) or by_task.get((task, fid)) or [math.nan]
        return float(np.mean(vals))

    return predict


def run_fold_protocols(table: Table, folds: int, seed: int, metric: str, split: str, max_iter: int
                       ) -> dict[str, Any]:
    """Protocols 1 (unseen configs) and 2 (unseen full fidelity) over the same folds."""
    family = {k: c.model for k, c in table.configs.items()}
    full = max(table.fidelities)
    low_keys = {(t, ck) for (t, ck, f) in table.entries if f < full}
    out: dict[str, Any] = {"unseen_configs": defaultdict(list), "unseen_full_fidelity": defaultdict(list)}
    for i, held in enumerate(config_folds(table, folds, seed)):
        # 1. held-out configurations are absent from the training data, at every fidelity.
        train = table.filter(lambda r: r.config.key() not in held)
        test = [r for r in table.results() if r.config.key() in held]
        backend, fit_s = fit_surrogate(train, max_iter)
        base = family_mean_baseline(entry_means(train.results(), metric, split), family)
        taus = []
        for fid in table.fidelities:
            at_fid = [r for r in test if round(r.fidelity, 6) == fid]
            if at_fid:
                actual = entry_means(at_fid, metric, split)
                taus.append((fid, surrogate_tau(backend, at_fid, metric, split),
                             grouped_tau(actual, {k: base(k) for k in actual})))
        out["unseen_configs"]["folds"].append({
            "fold": i, "held_out_configs": len(held), "fit_seconds": round(fit_s, 2),
            "by_fidelity": {str(f): {"surrogate": s, "baseline": b} for f, s, b in taus},
        })
        # 2. held-out configurations keep their low-fidelity results; ranked at full fidelity.
        train2 = table.filter(lambda r: r.config.key() not in held or round(r.fidelity, 6) < full)
        test2 = [r for r in table.results() if r.config.key() in held and round(r.fidelity, 6) == full
                 and (r.task, r.config.key()) in low_keys]
        if test2:
            backend2, fit2 = fit_surrogate(train2, max_iter)
            tau2 = surrogate_tau(backend2, test2, metric, split)
            low = entry_means((r for r in table.results() if r.config.key() in held), metric, split)
            actual2 = entry_means(test2, metric, split)
            lowest = min(f for f in table.fidelities if f < full)
            base2 = {k: low.get((k[0], k[1], lowest), math.nan) for k in actual2}
            out["unseen_full_fidelity"]["folds"].append({
                "fold": i, "fit_seconds": round(fit2, 2), "surrogate": tau2, "baseline": grouped_tau(actual2, base2),
                "baseline_fidelity": lowest,
            })
    return {k: dict(v) for k, v in out.items()}


def run_task_protocol(table: Table, train_tasks: list[str], test_tasks: list[str], metric: str, split: str,
                      max_iter: int) -> dict[str, Any]:
    """Protocol 3: fitted on ``train_tasks``, ranks every configuration on ``test_tasks``."""
    metas = {t: table.task_meta(t) for t in test_tasks}
    if not train_tasks or not test_tasks:
        return {"skipped": "the table's tasks do not split into train and test tasks of its suite"}
    if not all(metas.values()):
        return {"skipped": "the table header has no meta-features for the test tasks (unseen tasks need them)"}
    train = table.filter(lambda r: r.task in train_tasks)
    test = [r for r in table.results() if r.task in test_tasks]
    backend, fit_s = fit_surrogate(train, max_iter, metas)
    tau = surrogate_tau(backend, test, metric, split)
    # Baseline: a configuration's mean metric on the train tasks, each task normalised by its best entry.
    train_means = entry_means(train.results(), metric, split)
    best = defaultdict(float)
    for (task, _, _), v in train_means.items():
        best[task] = max(best[task], v)
    transfer: dict[tuple[str, float], list[float]] = defaultdict(list)
    for (task, ck, fid), v in train_means.items():
        transfer[(ck, fid)].append(v / best[task] if best[task] > 0 else 0.0)
    actual = entry_means(test, metric, split)
    base = {k: float(np.mean(transfer.get((k[1], k[2]), [math.nan]))) for k in actual}
    return {"train_tasks": train_tasks, "test_tasks": test_tasks, "fit_seconds": round(fit_s, 2),
            "surrogate": tau, "baseline": grouped_tau(actual, base)}


# ---------------------------------------------------------------------- summary
def _mean(values: Iterable[float]) -> float:
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return statistics.fmean(vals) if vals else math.nan


def _std(values: Iterable[float]) -> float:
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return statistics.stdev(vals) if len(vals) > 1 else 0.0


def summarise(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per protocol (and fidelity): surrogate and baseline tau, mean ± std over folds."""
    rows = []
    folds = results["unseen_configs"]["folds"]
    for fid in sorted({f for fold in folds for f in fold["by_fidelity"]}, key=float, reverse=True):
        per = [fold["by_fidelity"][fid] for fold in folds if fid in fold["by_fidelity"]]
        rows.append(_row(f"unseen configs @ fidelity {float(fid):g}", [p["surrogate"] for p in per],
                         [p["baseline"] for p in per], "family mean on the task"))
    full = results["unseen_full_fidelity"].get("folds", [])
    if full:
        rows.append(_row("unseen full fidelity (low fidelity seen)", [f["surrogate"] for f in full],
                         [f["baseline"] for f in full], f"own result at fidelity {full[0]['baseline_fidelity']:g}"))
    task = results["unseen_tasks"]
    if "skipped" not in task:
        rows.append(_row(f"unseen tasks ({', '.join(task['test_tasks'])})", [task["surrogate"]], [task["baseline"]],
                         "mean normalised result on train tasks"))
    return rows


def _row(name: str, surrogate: list[dict[str, Any]], baseline: list[dict[str, Any]], baseline_name: str
         ) -> dict[str, Any]:
    return {
        "protocol": name, "folds": len(surrogate), "n_per_fold": _mean(s["n"] for s in surrogate),
        "tau": _mean(s["mean"] for s in surrogate), "tau_std": _std(s["mean"] for s in surrogate),
        "tau_pooled": _mean(s["pooled"] for s in surrogate),
        "baseline": baseline_name, "baseline_tau": _mean(b["mean"] for b in baseline),
        "baseline_tau_pooled": _mean(b["pooled"] for b in baseline),
    }


def markdown(out: dict[str, Any]) -> str:
    m, t = out["machine"], out["table"]
    lines = [
        "# Surrogate backend: Kendall tau against held-out live results",
        "",
        f"Command: `{out['command']}`  ",
        f"Date: {out['date']}  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}  ",
        f"Table: `{t['path']}` ({t['entries']} entries, {t['results']} live results, {t['configs']} configurations, "
        f"tasks {', '.join(t['tasks'])}, fidelities {t['fidelities']})  ",
        *([f"**Partial build**: {t['results']} live results from the journal of a build still running; rerun on "
            "the finished table.  "] if t.get("partial") else []),
        f"Metric: {out['split']} {out['metric']}, mean over seeds per entry; tau-b per task (and fidelity), averaged "
        f"over tasks, mean ± std over {out['folds']} folds of configurations (seed {out['seed']}); HistGradientBoosting "
        f"with max_iter={out['max_iter']}.",
        "",
        "| protocol | folds | held-out entries / fold | surrogate tau | pooled | baseline | baseline tau | pooled |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in out["summary"]:
        lines.append(f"| {r['protocol']} | {r['folds']} | {r['n_per_fold']:.0f} | {r['tau']:.3f} ± {r['tau_std']:.3f} "
                     f"| {r['tau_pooled']:.3f} | {r['baseline']} | {r['baseline_tau']:.3f} | "
                     f"{r['baseline_tau_pooled']:.3f} |")
    if "skipped" in out["results"]["unseen_tasks"]:
        lines.append(f"\nUnseen tasks: skipped ({out['results']['unseen_tasks']['skipped']}).")
    lines += ["", f"Total time {out['seconds']:.0f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", default=str(table_path("autotrain", "synthetic")),
                    help="table of live results (default: the shipped AutoTrain table of the synthetic suite)")
    ap.add_argument("--folds", type=int, default=5, help="folds over configurations")
    ap.add_argument("--seed", type=int, default=0, help="seed of the fold split")
    ap.add_argument("--metric", default="ndcg@10")
    ap.add_argument("--split", choices=("valid", "test"), default="valid")
    ap.add_argument("--max-iter", type=int, default=200, help="boosting iterations per regressor")
    ap.add_argument("--train-tasks", nargs="+", default=None, help="protocol 3 (default: the suite's train tasks)")
    ap.add_argument("--test-tasks", nargs="+", default=None, help="protocol 3 (default: the suite's test tasks)")
    ap.add_argument("--suite", default=None,
                    help="the table's task suite, if its header lacks it (default: the header's, else synthetic)")
    ap.add_argument("--out", default=str(RESULTS_DIR / "surrogate.json"), help="JSON results (.md beside it)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    table = load_results(args.table, args.suite)
    suite_tasks = _suite_tasks(table.header.get("suite", ""))
    train_tasks = args.train_tasks or [t for t in suite_tasks[0] if t in table.tasks]
    test_tasks = args.test_tasks or [t for t in suite_tasks[1] if t in table.tasks]
    results = run_fold_protocols(table, args.folds, args.seed, args.metric, args.split, args.max_iter)
    results["unseen_tasks"] = run_task_protocol(table, train_tasks, test_tasks, args.metric, args.split,
                                                args.max_iter)
    out: dict[str, Any] = {
        **run_header(" ".join(["python -m agenticrs.benchmarks.surrogate_tau", *(argv if argv is not None
                                                                                  else sys.argv[1:])])),
        "table": {"path": str(args.table), "entries": len(table), "results": sum(1 for _ in table.results()),
                  "configs": len(table.configs), "tasks": table.tasks, "fidelities": table.fidelities,
                  "stand_in": bool(table.header.get("stand_in", False)), "partial": bool(table.header.get("partial")),
                  "build": table.header.get("build", {})},
        "metric": args.metric, "split": args.split, "folds": args.folds, "seed": args.seed, "max_iter": args.max_iter,
        "results": results,
    }
    out["summary"] = summarise(results)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    path = Path(args.out)
    write_json_atomic(path, out)
    write_text_atomic(path.with_suffix(".md"), markdown(out))
    for r in out["summary"]:
        print(f"{r['protocol']}: surrogate tau {r['tau']:.3f} ± {r['tau_std']:.3f} (pooled {r['tau_pooled']:.3f}); "
              f"baseline ({r['baseline']}) {r['baseline_tau']:.3f}")
    print(f"written to {path} and {path.with_suffix('.md')} ({out['seconds']:.0f} s)")
    return out


if __name__ == "__main__":
    main()
