"""Evolution benchmark: policies and search baselines under one protocol, anytime regret curves.

Protocol (issue 5, anchored on HPO-B's since issue 29): every policy runs ``seeds`` episodes
on each of the suite's *test* tasks with the same trial budget and backend (seed ``s`` = the
same env seed for every policy). After each trial the incumbent's normalised regret is
recorded (:mod:`agenticrs.policies.regret`: best-known mean validation metric of the task vs
the incumbent entry's mean, 0 = best configuration found; ``n/a`` for a task without a
reference), with the simulated compute spent so far (the live seconds of the trials).
Curves are averaged over tasks per seed, then reported as mean ± standard error over seeds,
against trials and against compute, with the policies' average rank (1 = lowest regret).

The table reports HPO-B's points, regret at 5/10/25 trials (capped at the budget), and each
policy's *reduction factor* vs random search there (HPO-B's transfer method FSBO reaches
.087/.060/.036 against random's .142/.112/.086: 1.6-2.4x). A policy that does not apply to
the env (``halving`` without a fidelity dimension) is skipped with a note.

Outputs in ``--out``: ``evolution.json`` (header, settings, summary, curves, every trace),
``evolution.md`` (the tables) and ``evolution_regret.png`` (regret and rank vs trials, regret
vs compute; one fixed colour and marker per policy, :mod:`agenticrs.benchmarks.plot_style`).

    agenticrs bench evolution --env agenticrs/AutoTrain-v0 --backend table \\
        --policies ppo,random,tpe,evolution,halving,best-default-order --seeds 10 --budget 20 \\
        --checkpoint RUN --out DIR
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from agenticrs.benchmarks.common import run_header, write_json_atomic, write_text_atomic
from agenticrs.policies.base import Policy
from agenticrs.policies.episode import EpisodeTrace, run_episode
from agenticrs.policies.regret import Reference

DEFAULT_POLICIES = "ppo,random,tpe,evolution,halving,best-default-order"
REACHED = 0.01
"""The regret level whose first-hitting trial the table reports."""
REPORT_AT = (5, 10, 25)
"""HPO-B's report points (Pineda Arango et al. 2021), capped at the budget (:func:`report_points`)."""


def make_policy(name: str, checkpoint: str | None = None) -> Policy:
    """A search baseline by name, ``shipped[-det]`` (the PPO policy shipped with the package, see
    :func:`agenticrs.policies.autotune.shipped_checkpoint`), or ``ppo`` (any name starting with
    it) from ``checkpoint``; trained policies are wrapped in
    :class:`~agenticrs.policies.no_repeats.NoRepeats` (no configuration tried twice)."""
    from agenticrs.policies.search import list_searchers, make_searcher

    if name in ("shipped", "shipped-det") or name.startswith("ppo"):
        from agenticrs.policies.autotune import shipped_checkpoint
        from agenticrs.policies.no_repeats import NoRepeats
        from agenticrs.policies.training import load_policy

        if name.startswith("ppo") and not checkpoint:
            raise ValueError(f"policy {name!r} needs --checkpoint (a run folder of `agenticrs train`)")
        path = str(shipped_checkpoint()) if name.startswith("shipped") else str(checkpoint)
        policy = load_policy(path, deterministic=name.endswith("-det"))
        policy.name = name  # type: ignore[misc]
        # Like every searcher (and like `autotune`), a trained policy never spends a trial on a configuration
        # it already tried: repeats are resampled from its distribution, then drawn uniformly among the untried.
        return NoRepeats(policy)
    if name not in list_searchers():
        raise ValueError(f"unknown policy {name!r}; choose shipped[-det], ppo[-det] or one of {list_searchers()}")
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
    skipped: dict[str, str] | None = None,
) -> list[EpisodeTrace]:
    """Every (policy, task, seed) episode of the protocol, traced.

    A search baseline that does not apply to the env (``applies_to``: ``halving`` without a
    fidelity, ``best-default-order`` without a table) is skipped with a note on stderr and
    its reason in ``skipped`` (``{policy: reason}``) instead of failing the benchmark.
    """
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
        reason = _inapplicable(policy, env)
        if reason:
            print(f"note: {policy.name} skipped: {reason}", file=sys.stderr)
            if skipped is not None:
                skipped[policy.name] = reason
            continue
        ref = ref or Reference.of_env(env)
        tasks = [t.name for t in env.unwrapped.tasks]
        if bar is None:
            total = len(made) * len(tasks) * seeds  # a later skip leaves the bar short; harmless
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


def _inapplicable(policy: Policy, env: gym.Env) -> str | None:
    """Why ``policy`` cannot run on ``env`` (``None``: it can); trained policies always can here."""
    from agenticrs.policies.base import Searcher, env_search_space

    if not isinstance(policy, Searcher):
        return None
    try:
        space = env_search_space(env)
    except TypeError as e:  # an action space the search baselines do not know (OpenDesign's programs)
        return str(e)
    if hasattr(policy, "from_env"):
        policy.from_env(env)  # where best-default-order finds its table
    return policy.applies_to(space)


# ---------------------------------------------------------------------- aggregation
def _mean_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over axis 0 (``[seeds, ...]``), NaN-aware; s.e. 0 with one seed.

    A NaN (a task without a reference: regret ``n/a``) is left out; all NaN gives NaN.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: n/a, said in the table
        n = np.sum(np.isfinite(x), axis=0)
        mean = np.nanmean(x, axis=0)
        sd = np.nanstd(x, axis=0, ddof=1) if x.shape[0] > 1 else np.zeros_like(mean)
    se = np.where(n > 1, sd / np.sqrt(np.maximum(n, 1)), 0.0)
    return mean, np.where(np.isfinite(mean), se, np.nan)


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def _regret_at_compute(trace: EpisodeTrace, grid: np.ndarray) -> np.ndarray:
    """``[len(grid)]`` incumbent regret once ``grid[i]`` live seconds are spent (1 before the first trial)."""
    compute = np.asarray([t.compute for t in trace.trials])
    first = trace.regrets[0] if trace.trials and trace.regrets[0] != trace.regrets[0] else 1.0
    regret = np.asarray([first] + trace.regrets)
    return regret[np.searchsorted(compute, grid, side="right")]


def report_points(budget: int, report_at: Sequence[int] = REPORT_AT) -> list[int]:
    """Trial counts reported: HPO-B's 5/10/25 up to the budget, the budget itself standing in for
    any point beyond it (budget 20: 5, 10, 20)."""
    ks = sorted({k for k in report_at if 1 <= k <= budget})
    if any(k > budget for k in report_at) and budget not in ks:
        ks.append(budget)
    return ks


def _ranks(curves: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Average rank of each policy (1 = lowest regret, ties averaged) per (seed, task, trial).

    ``curves[p]``: ``[seeds, tasks, budget]``; a (seed, task) without a reference is NaN for all.
    """
    from scipy.stats import rankdata

    names = list(curves)
    stacked = np.stack([curves[p] for p in names])  # [policies, seeds, tasks, budget]
    ranks = rankdata(stacked, axis=0, method="average")
    ranks[np.isnan(stacked)] = np.nan
    return {p: ranks[i] for i, p in enumerate(names)}


def summarise(traces: Sequence[EpisodeTrace], budget: int, report_at: Sequence[int] = REPORT_AT,
              baseline: str = "random") -> dict[str, Any]:
    """Curves and table numbers per policy, HPO-B style.

    Per policy: normalised regret after each trial, mean over tasks then mean ± s.e. over
    seeds; the same for the average rank among the policies (1 = best); at each report point
    the *reduction factor* vs ``baseline`` (``regret(baseline) / regret(policy)``, HPO-B's
    FSBO: 1.6-2.4x vs random); final regret, area under the curve, trials to 1% regret and
    compute. A task without a reference contributes nothing (regret ``n/a``).
    """
    policies = list(dict.fromkeys(t.policy for t in traces))
    tasks = sorted({t.task for t in traces})
    seeds = sorted({t.seed for t in traces})
    ks = report_points(budget, report_at)
    finite = [t.compute for t in traces if t.trials]
    first = [t.trials[0].compute for t in traces if t.trials and t.trials[0].compute > 0]
    lo = max(min(first), 1e-3) if first else 1e-3
    grid = np.geomspace(lo, max(max(finite, default=1.0), lo * 10), 60)
    out: dict[str, Any] = {"policies": policies, "tasks": tasks, "seeds": len(seeds), "budget": budget,
                           "report_at": ks, "baseline": baseline, "compute_grid": grid.tolist(), "by_policy": {}}
    curves_by: dict[str, np.ndarray] = {}
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
                r = np.asarray(tr.regrets[:budget] or [1.0], dtype=float)
                curves[i, j, : len(r)] = r
                curves[i, j, len(r):] = r[-1]
                comp[i, j] = _regret_at_compute(tr, grid)
                reached = np.nonzero(r <= REACHED)[0]
                hit[i, j] = reached[0] + 1 if len(reached) else np.nan
                compute[i, j] = tr.compute
        curves_by[p] = curves
        per_seed = _nanmean(curves, axis=1)  # [seeds, budget]
        mean, se = _mean_se(per_seed)
        cmean, cse = _mean_se(_nanmean(comp, axis=1))
        auc_m, auc_se = _mean_se(_nanmean(per_seed, axis=1)[:, None])  # mean regret over trials, [seeds]
        has_ref = np.isfinite(curves[..., -1])
        stats: dict[str, Any] = {
            "regret_mean": mean.tolist(), "regret_se": se.tolist(),
            "compute_regret_mean": cmean.tolist(), "compute_regret_se": cse.tolist(),
            "final_regret": [float(mean[-1]), float(se[-1])],
            "auc": [float(auc_m[0]), float(auc_se[0])],
            "regret_at": {str(k): [float(mean[k - 1]), float(se[k - 1])] for k in ks},
            "trials_to_1pct": float(np.nanmean(hit)) if np.isfinite(hit).any() else None,
            "reached_1pct": float(np.isfinite(hit)[has_ref].mean()) if has_ref.any() else None,
            "compute_seconds": [float(compute.mean()), float(_mean_se(compute.mean(axis=1)[:, None])[1][0])],
            "per_task_final": {task: [float(v[0]) for v in _mean_se(curves[:, j, -1][:, None])]
                               for j, task in enumerate(tasks)},
        }
        out["by_policy"][p] = stats
    for p, ranks in _ranks(curves_by).items():
        rmean, rse = _mean_se(_nanmean(ranks, axis=1))
        st = out["by_policy"][p]
        st["rank_mean"], st["rank_se"] = rmean.tolist(), rse.tolist()
        st["rank_at"] = {str(k): [float(rmean[k - 1]), float(rse[k - 1])] for k in ks}
    base = out["by_policy"].get(baseline)
    for st in out["by_policy"].values():
        st["reduction_vs_" + baseline] = {
            str(k): (base["regret_at"][str(k)][0] / st["regret_at"][str(k)][0]
                     if base is not None and st["regret_at"][str(k)][0] > 0 else None) for k in ks}
    return out


def _pm(v: Sequence[float], digits: int = 4) -> str:
    return "n/a" if v[0] != v[0] else f"{v[0]:.{digits}f} ± {v[1]:.{digits}f}"


def _factor(base: float | None, value: float) -> str:
    """``base / value`` as ``1.60x``; ``∞`` when the policy reached 0 and the baseline did not."""
    if base is None or base != base or value != value:
        return "-"
    if value <= 0:
        return "∞" if base > 0 else "1.00x"
    return f"{base / value:.2f}x"


def markdown_table(summary: dict[str, Any]) -> str:
    """Two tables: regret at the report points (with the reduction vs random), then rank and cost.

    Table 1, per policy: regret@k (mean ± s.e. over seeds of the task mean) and ``÷`` its
    reduction factor vs the baseline. Table 2: average rank@k, final regret, AUC, trials to 1%
    regret (share of episodes reaching it), compute.
    """
    ks = summary.get("report_at") or sorted({int(k) for s in summary["by_policy"].values() for k in s["regret_at"]})
    baseline = summary.get("baseline", "random")
    finals = [s["final_regret"][0] for s in summary["by_policy"].values() if s["final_regret"][0] == s["final_regret"][0]]
    best = min(finals) if finals else None
    head = ["policy", *[f"regret@{k}" for k in ks], *[f"vs {baseline} @{k}" for k in ks]]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = summary["by_policy"].get(baseline)
    for p, s in summary["by_policy"].items():
        cells = [_pm(s["regret_at"][str(k)]) for k in ks]
        factors = [_factor(base["regret_at"][str(k)][0] if base else None, s["regret_at"][str(k)][0]) for k in ks]
        rows.append("| " + " | ".join([p, *cells, *factors]) + " |")
    head2 = ["policy", *[f"rank@{k}" for k in ks], f"final regret ({summary['budget']})", "AUC",
             "trials to 1% (reached)", "compute s"]
    rows2 = ["| " + " | ".join(head2) + " |", "|" + "---|" * len(head2)]
    for p, s in summary["by_policy"].items():
        final = _pm(s["final_regret"])
        if best is not None and s["final_regret"][0] == best:
            final = f"**{final}**"
        hit = f"{s['trials_to_1pct']:.1f}" if s["trials_to_1pct"] is not None else "-"
        reached = f"{100 * s['reached_1pct']:.0f}%" if s.get("reached_1pct") is not None else "n/a"
        ranks = [_pm(s["rank_at"][str(k)], 2) if "rank_at" in s else "-" for k in ks]
        rows2.append("| " + " | ".join([p, *ranks, final, _pm(s["auc"]), f"{hit} ({reached})",
                                        f"{s['compute_seconds'][0]:.0f}"]) + " |")
    return "\n".join(rows) + "\n\n" + "\n".join(rows2)


REGRET_FLOOR = 1e-3
"""The regret axis is logarithmic down to this floor; smaller regrets (0 = the best found) sit on it."""


def _regret_axis(ax: Any) -> None:
    """A log regret axis from :data:`REGRET_FLOOR` to 1 with plain labels (0.001 ... 1)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ax.set_yscale("log")
    ax.set_ylim(REGRET_FLOOR * 0.9, 1.1)
    ticks = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"≤{v:g}" if v <= REGRET_FLOOR else f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot(summary: dict[str, Any], path: Path, title: str = "") -> None:
    """Three panels, mean ± s.e. over seeds: regret vs trials, average rank vs trials, regret vs compute.

    Each policy keeps its colour and marker across every plot (:mod:`~agenticrs.benchmarks.plot_style`).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a server
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, NullFormatter

    from agenticrs.benchmarks.plot_style import policy_style

    fig, (a, r, b) = plt.subplots(1, 3, figsize=(15, 4.4))
    grid = np.asarray(summary["compute_grid"])
    trials = np.arange(1, summary["budget"] + 1)
    every = max(1, summary["budget"] // 10)
    lo = REGRET_FLOOR
    for p, s in summary["by_policy"].items():
        st = policy_style(p)
        m, e = np.asarray(s["regret_mean"], dtype=float), np.asarray(s["regret_se"], dtype=float)
        a.plot(trials, np.maximum(m, lo), label=p, color=st["color"], marker=st["marker"], markersize=4,
               markevery=every)
        a.fill_between(trials, np.clip(m - e, lo, 1), np.clip(m + e, lo, 1), alpha=0.15, color=st["color"])
        if "rank_mean" in s:
            m, e = np.asarray(s["rank_mean"], dtype=float), np.asarray(s["rank_se"], dtype=float)
            r.plot(trials, m, label=p, color=st["color"], marker=st["marker"], markersize=4, markevery=every)
            r.fill_between(trials, m - e, m + e, alpha=0.15, color=st["color"])
        m, e = np.asarray(s["compute_regret_mean"], dtype=float), np.asarray(s["compute_regret_se"], dtype=float)
        b.plot(grid, np.maximum(m, lo), label=p, color=st["color"], marker=st["marker"], markersize=4,
               markevery=max(1, len(grid) // 8))
        b.fill_between(grid, np.clip(m - e, lo, 1), np.clip(m + e, lo, 1), alpha=0.15, color=st["color"])
    a.set(xlabel="trials", ylabel="normalised regret of the incumbent (log)")
    r.set(xlabel="trials", ylabel="average rank (1 = best)")
    r.set_ylim(0.8, len(summary["by_policy"]) + 0.2)
    r.yaxis.set_major_locator(MaxNLocator(integer=True))
    b.set(xlabel="simulated compute (live seconds, log)", xscale="log", ylabel="normalised regret (log)")
    b.xaxis.set_minor_formatter(NullFormatter())  # log-axis minor labels overlap
    for ax in (a, b):
        _regret_axis(ax)
    for ax in (a, r):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (a, r, b):
        ax.grid(alpha=0.3, which="major")
    a.legend(fontsize=8)
    fig.suptitle(title or f"{len(summary['tasks'])} test tasks, {summary['seeds']} seeds, mean ± s.e. "
                          f"(regret below {lo:g} drawn at {lo:g})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)  # atomic: never a half-written PNG


def write_outputs(traces: Sequence[EpisodeTrace], out: str | Path, budget: int, settings: dict[str, Any],
                  report_at: Sequence[int] = REPORT_AT, command: str | None = None) -> dict[str, Any]:
    """Write ``evolution.json``, ``evolution.md`` and ``evolution_regret.png`` into ``out``."""
    out = Path(out)
    summary = summarise(traces, budget, report_at)
    table = markdown_table(summary)
    result = {**run_header(command), "settings": settings, "summary": summary,
              "traces": [{"policy": t.policy, "task": t.task, "seed": t.seed, "regret": t.regrets,
                          "compute": [r.compute for r in t.trials], "incumbent": t.incumbent} for t in traces]}
    write_json_atomic(out / "evolution.json", result)
    skipped = settings.get("skipped") or {}
    header = (f"# Evolution benchmark\n\n{settings.get('env_id')} ({settings.get('backend')} backend, suite "
              f"{settings.get('suite')}, {settings.get('split')} tasks {', '.join(summary['tasks'])}), budget "
              f"{budget} trials, {summary['seeds']} seeds; normalised regret of the incumbent, mean ± s.e. over "
              f"seeds (task-averaged; n/a: no reference table). `vs random @k` = random's regret / the policy's "
              f"(HPO-B's FSBO: 1.63x / 1.87x / 2.39x at 5/10/25). Rank: average rank among these policies "
              f"(1 = lowest regret). AUC = mean regret over trials 1..{budget}.\n\n"
              f"Date {result['date']}; machine {result.get('machine', {}).get('cpu', result.get('machine'))}; "
              f"{settings.get('seconds', '?')} s; command `{result.get('command')}`.\n\n"
              + "".join(f"Skipped {p}: {r}.\n\n" for p, r in skipped.items()))
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
                   help=f"comma-separated: shipped (the package's PPO policy), ppo (needs --checkpoint), ppo-det, "
                        f"random, grid, evolution, tpe, gp, halving, best-default-order (default {DEFAULT_POLICIES})")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--budget", type=int, default=20, help="trials per episode")
    p.add_argument("--report-at", default=",".join(map(str, REPORT_AT)),
                   help="trial counts reported in the table (HPO-B's 5,10,25; points past the budget become the budget)")
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
    skipped: dict[str, str] = {}
    traces = run(policies, env_id=args.env, env_kwargs=env_kwargs, split=args.split, seeds=args.seeds,
                 budget=args.budget, checkpoint=args.checkpoint, progress=not args.no_progress, skipped=skipped)
    if not traces:
        raise ValueError(f"none of the policies {policies} applies to {args.env}: {skipped}")
    settings["seconds"] = round(time.perf_counter() - t0, 2)
    settings["skipped"] = skipped
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
