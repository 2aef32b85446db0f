"""Evolution benchmark: policies and search baselines under one protocol, anytime regret curves.

Protocol (issue 5): every policy runs ``seeds`` episodes on each of the suite's *test*
tasks with the same trial budget and backend (seed ``s`` = the same env seed for every
policy). After each trial the incumbent's normalised regret is recorded
(:mod:`agenticrs.policies.regret`: best-known mean validation metric of the task vs the
incumbent entry's mean, 0 = best configuration found), with the simulated compute spent
so far (the live seconds of the trials). Curves are averaged over tasks per seed, then
reported as mean ± standard error over seeds, against trials and against compute.

Outputs in ``--out``: ``evolution.json`` (header, settings, summary, curves, every trace),
``evolution.md`` (final regret, regret at 5/10/20 trials, area under the curve, trials to
1% regret) and ``evolution_regret.png``.

    agenticrs bench evolution --env agenticrs/AutoTrain-v0 --backend table \\
        --policies ppo,random,tpe,evolution,halving --seeds 10 --budget 20 --checkpoint RUN --out DIR
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from agenticrs.benchmarks.common import run_header, write_json_atomic, write_text_atomic
from agenticrs.policies.base import Policy
from agenticrs.policies.episode import EpisodeTrace, run_episode
from agenticrs.policies.regret import Reference

DEFAULT_POLICIES = "ppo,random,tpe,evolution,halving"
REACHED = 0.01
"""The regret level whose first-hitting trial the table reports."""


def make_policy(name: str, checkpoint: str | None = None) -> Policy:
    """A search baseline by name, or ``ppo`` (any name starting with it) from ``checkpoint``."""
    from agenticrs.policies.search import list_searchers, make_searcher

    if name.startswith("ppo"):
        if not checkpoint:
            raise ValueError(f"policy {name!r} needs --checkpoint (a run folder of `agenticrs train`)")
        from agenticrs.policies.training import load_policy

        policy = load_policy(checkpoint, deterministic=name.endswith("-det"))
        policy.name = name  # type: ignore[misc]
        return policy
    if name not in list_searchers():
        raise ValueError(f"unknown policy {name!r}; choose ppo[-det] or one of {list_searchers()}")
    return make_searcher(name)


# ---------------------------------------------------------------------- running
def run(
    policies: Sequence[str],
    *,
    env_id: str = "agenticrs/AutoTrain-v0",
    env_kwargs: dict[str, Any] | None = None,
    split: str = "test",
    seeds: int = 10,
    budget: int = 20,
    checkpoint: str | None = None,
    progress: bool = True,
) -> list[EpisodeTrace]:
    """Every (policy, task, seed) episode of the protocol, traced."""
    from tqdm.auto import tqdm

    if seeds < 1 or budget < 1:
        raise ValueError(f"seeds ({seeds}) and budget ({budget}) must be >= 1")
    made = [make_policy(p, checkpoint) for p in policies]
    envs: dict[str, gym.Env] = {}
    traces: list[EpisodeTrace] = []
    ref: Reference | None = None
    total = None
    bar = None
    for policy in made:
        mode = policy.obs_mode
        if mode not in envs:
            envs[mode] = gym.make(env_id, **{**(env_kwargs or {}), "split": split, "obs_mode": mode,
                                             "max_trials": budget})
        env = envs[mode]
        ref = ref or Reference.of_env(env)
        tasks = [t.name for t in env.unwrapped.tasks]
        if bar is None:
            total = len(made) * len(tasks) * seeds
            bar = tqdm(total=total, unit="episode", desc="bench evolution", disable=not progress)
        for task in tasks:
            for seed in range(seeds):
                traces.append(run_episode(env, policy, seed=seed, task=task, reference=ref))
                bar.update()
        bar.set_postfix(policy=policy.name)
    if bar is not None:
        bar.close()
    for env in envs.values():
        env.close()
    return traces


# ---------------------------------------------------------------------- aggregation
def _mean_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over axis 0 (``[seeds, ...]``); s.e. 0 with one seed."""
    n = x.shape[0]
    se = x.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros_like(x[0])
    return x.mean(axis=0), se


def _regret_at_compute(trace: EpisodeTrace, grid: np.ndarray) -> np.ndarray:
    """``[len(grid)]`` incumbent regret once ``grid[i]`` live seconds are spent (1 before the first trial)."""
    compute = np.asarray([t.compute for t in trace.trials])
    regret = np.asarray([1.0] + trace.regrets)
    return regret[np.searchsorted(compute, grid, side="right")]


def summarise(traces: Sequence[EpisodeTrace], budget: int, report_at: Sequence[int] = (5, 10, 20)) -> dict[str, Any]:
    """Curves and table numbers per policy (mean ± s.e. over seeds of the task-averaged value)."""
    policies = list(dict.fromkeys(t.policy for t in traces))
    tasks = sorted({t.task for t in traces})
    seeds = sorted({t.seed for t in traces})
    finite = [t.compute for t in traces if t.trials]
    first = [t.trials[0].compute for t in traces if t.trials and t.trials[0].compute > 0]
    lo = max(min(first), 1e-3) if first else 1e-3
    grid = np.geomspace(lo, max(max(finite, default=1.0), lo * 10), 60)
    out: dict[str, Any] = {"policies": policies, "tasks": tasks, "seeds": len(seeds), "budget": budget,
                           "compute_grid": grid.tolist(), "by_policy": {}}
    for p in policies:
        by = {(t.task, t.seed): t for t in traces if t.policy == p}
        missing = [(task, s) for task in tasks for s in seeds if (task, s) not in by]
        if missing:
            raise ValueError(f"policy {p!r} lacks episodes for {missing[:3]}")
        # [seeds, tasks, budget]: regret after each trial (an episode shorter than the budget keeps its last value).
        curves = np.ones((len(seeds), len(tasks), budget))
        comp = np.ones((len(seeds), len(tasks), len(grid)))
        hit = np.full((len(seeds), len(tasks)), np.nan)
        compute = np.zeros((len(seeds), len(tasks)))
        for i, s in enumerate(seeds):
            for j, task in enumerate(tasks):
                tr = by[(task, s)]
                r = np.asarray(tr.regrets[:budget] or [1.0])
                curves[i, j, : len(r)] = r
                curves[i, j, len(r):] = r[-1]
                comp[i, j] = _regret_at_compute(tr, grid)
                reached = np.nonzero(r <= REACHED)[0]
                hit[i, j] = reached[0] + 1 if len(reached) else np.nan
                compute[i, j] = tr.compute
        per_seed = curves.mean(axis=1)  # [seeds, budget]
        mean, se = _mean_se(per_seed)
        cmean, cse = _mean_se(comp.mean(axis=1))
        auc = per_seed.mean(axis=1)  # normalised area under the regret-vs-trials curve, [seeds]
        auc_m, auc_se = _mean_se(auc[:, None])
        stats: dict[str, Any] = {
            "regret_mean": mean.tolist(), "regret_se": se.tolist(),
            "compute_regret_mean": cmean.tolist(), "compute_regret_se": cse.tolist(),
            "final_regret": [float(mean[-1]), float(se[-1])],
            "auc": [float(auc_m[0]), float(auc_se[0])],
            "regret_at": {str(k): [float(mean[k - 1]), float(se[k - 1])] for k in report_at if k <= budget},
            "trials_to_1pct": float(np.nanmean(hit)) if np.isfinite(hit).any() else None,
            "reached_1pct": float(np.isfinite(hit).mean()),
            "compute_seconds": [float(compute.mean()), float(_mean_se(compute.mean(axis=1)[:, None])[1][0])],
            "per_task_final": {task: [float(curves[:, j, -1].mean()),
                                      float(_mean_se(curves[:, j, -1][:, None])[1][0])] for j, task in enumerate(tasks)},
        }
        out["by_policy"][p] = stats
    return out


def markdown_table(summary: dict[str, Any]) -> str:
    """One row per policy: regret at 5/10/20 trials, final regret, AUC, trials to 1% regret, compute."""
    ks = sorted({int(k) for s in summary["by_policy"].values() for k in s["regret_at"]})
    head = ["policy", *[f"regret@{k}" for k in ks], f"final regret ({summary['budget']})", "AUC",
            "trials to 1% (reached)", "compute s"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    best = min(s["final_regret"][0] for s in summary["by_policy"].values())

    def pm(v: list[float]) -> str:
        return f"{v[0]:.4f} ± {v[1]:.4f}"

    for p, s in summary["by_policy"].items():
        final = pm(s["final_regret"])
        if s["final_regret"][0] == best:
            final = f"**{final}**"
        hit = f"{s['trials_to_1pct']:.1f}" if s["trials_to_1pct"] is not None else "-"
        rows.append("| " + " | ".join([
            p, *[pm(s["regret_at"][str(k)]) if str(k) in s["regret_at"] else "-" for k in ks], final, pm(s["auc"]),
            f"{hit} ({100 * s['reached_1pct']:.0f}%)", f"{s['compute_seconds'][0]:.0f}",
        ]) + " |")
    return "\n".join(rows)


def plot(summary: dict[str, Any], path: Path, title: str = "") -> None:
    """Two panels: regret vs trials and regret vs simulated compute (mean ± s.e. over seeds)."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a server
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    grid = np.asarray(summary["compute_grid"])
    trials = np.arange(1, summary["budget"] + 1)
    for p, s in summary["by_policy"].items():
        m, e = np.asarray(s["regret_mean"]), np.asarray(s["regret_se"])
        (line,) = a.plot(trials, m, label=p, marker="o", markersize=2.5)
        a.fill_between(trials, np.clip(m - e, 0, 1), m + e, alpha=0.2, color=line.get_color())
        m, e = np.asarray(s["compute_regret_mean"]), np.asarray(s["compute_regret_se"])
        b.plot(grid, m, label=p, color=line.get_color())
        b.fill_between(grid, np.clip(m - e, 0, 1), m + e, alpha=0.2, color=line.get_color())
    a.set(xlabel="trials", ylabel="normalised regret of the incumbent")
    a.set_yscale("symlog", linthresh=0.01)
    b.set(xlabel="simulated compute (live seconds)", xscale="log")
    b.set_yscale("symlog", linthresh=0.01)
    from matplotlib.ticker import NullFormatter

    b.xaxis.set_minor_formatter(NullFormatter())  # log-axis minor labels overlap
    for ax in (a, b):
        ax.grid(alpha=0.3)
    a.legend()
    fig.suptitle(title or f"{len(summary['tasks'])} test tasks, {summary['seeds']} seeds, mean ± s.e.")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)  # atomic: never a half-written PNG


def write_outputs(traces: Sequence[EpisodeTrace], out: str | Path, budget: int, settings: dict[str, Any],
                  report_at: Sequence[int] = (5, 10, 20), command: str | None = None) -> dict[str, Any]:
    """Write ``evolution.json``, ``evolution.md`` and ``evolution_regret.png`` into ``out``."""
    out = Path(out)
    summary = summarise(traces, budget, report_at)
    table = markdown_table(summary)
    result = {**run_header(command), "settings": settings, "summary": summary,
              "traces": [{"policy": t.policy, "task": t.task, "seed": t.seed, "regret": t.regrets,
                          "compute": [r.compute for r in t.trials], "incumbent": t.incumbent} for t in traces]}
    write_json_atomic(out / "evolution.json", result)
    header = (f"# Evolution benchmark\n\n{settings.get('env_id')} ({settings.get('backend')} backend, suite "
              f"{settings.get('suite')}, {settings.get('split')} tasks {', '.join(summary['tasks'])}), budget "
              f"{budget} trials, {summary['seeds']} seeds; normalised regret of the incumbent, mean ± s.e. over "
              f"seeds (task-averaged). AUC = mean regret over trials 1..{budget}. Date {result['date']}.\n\n")
    write_text_atomic(out / "evolution.md", header + table + "\n")
    plot(summary, out / "evolution_regret.png")
    return result


# ---------------------------------------------------------------------- command line
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default="agenticrs/AutoTrain-v0", help="registered env id")
    p.add_argument("--backend", default="table", help="table | surrogate | live | any registered kind")
    p.add_argument("--table", default=None, help="table file (default: the shipped table of the suite)")
    p.add_argument("--suite", default="synthetic")
    p.add_argument("--split", default="test", choices=("train", "test", "all"))
    p.add_argument("--policies", default=DEFAULT_POLICIES,
                   help=f"comma-separated: ppo (needs --checkpoint), ppo-det, random, grid, evolution, tpe, halving "
                        f"(default {DEFAULT_POLICIES})")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--budget", type=int, default=20, help="trials per episode")
    p.add_argument("--report-at", default="5,10,20", help="trial counts reported in the table")
    p.add_argument("--checkpoint", default=None, help="run folder or checkpoint of `agenticrs train` (for ppo)")
    p.add_argument("--out", required=True, help="output folder (JSON, markdown table, PNG)")
    p.add_argument("--no-progress", action="store_true")


def run_from_args(args: argparse.Namespace) -> dict[str, Any]:
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    if not policies:
        raise ValueError("--policies is empty")
    env_kwargs: dict[str, Any] = {"backend": args.backend, "suite": args.suite}
    if args.table:
        env_kwargs["backend_kwargs"] = {"table": args.table}
    report_at = [int(k) for k in args.report_at.split(",") if k.strip()]
    settings = {"env_id": args.env, "backend": args.backend, "table": args.table, "suite": args.suite,
                "split": args.split, "policies": policies, "seeds": args.seeds, "budget": args.budget,
                "checkpoint": args.checkpoint}
    t0 = time.perf_counter()
    traces = run(policies, env_id=args.env, env_kwargs=env_kwargs, split=args.split, seeds=args.seeds,
                 budget=args.budget, checkpoint=args.checkpoint, progress=not args.no_progress)
    settings["seconds"] = round(time.perf_counter() - t0, 2)
    result = write_outputs(traces, args.out, args.budget, settings, report_at)
    print(markdown_table(result["summary"]))
    print(f"\nwritten: {Path(args.out) / 'evolution.json'}, evolution.md, evolution_regret.png "
          f"({settings['seconds']:.1f} s)")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(ap)
    return run_from_args(ap.parse_args(argv))


if __name__ == "__main__":
    main()
