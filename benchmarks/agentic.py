"""AgenticRS-v0 benchmark: multi-agent PPO (each coupling) vs independent agents vs joint search.

    python -m agenticrs.benchmarks.agentic [--timesteps 2000] [--seeds 10] [--rounds 10] [--out DIR]

Protocol (the embedded ``synthetic`` suite, cached backend):

1. **Train** on the suite's *train* tasks: RLlib multi-agent PPO (one module per agent,
   action masking) once per coupling mode (``inner``, ``outer``, ``layered``, ``lagrangian``,
   ``difference``), ``--timesteps`` rounds each, training seed ``--train-seed``; and the
   *independent agents* (one SB3 PPO per agent on its single-agent view with the others at their
   defaults, ``--independent-timesteps`` rounds each, coupling ``--independent-coupling``).
2. **Test** on the *unseen test tasks*, ``--seeds`` seeds each, ``--rounds`` rounds (= trials):
   every method evaluates ``--rounds`` pipelines; the policies act by sampling; the search
   baselines (``random``, ``tpe``, ``evolution``, ``coordinate``) see one simulated A/B period per
   trial and keep the best observed; the RL agents' final pipeline is the env's incumbent
   (the last pipeline that won its A/B within the SLA).
3. **Score** the final pipeline after every round with the noise-free outer objective and its
   normalised regret against the best joint configuration (exhaustive over all 32,256 on the
   cached backend), against rounds and against simulated compute
   (:mod:`~agenticrs.policies.agentic_eval`).
4. **Speed**: agent-steps/s of RLlib multi-agent training (sampling + learning, from the
   training runs) beside RLlib single-agent PPO on CartPole-v1 with the same settings, in the
   same process.

Writes ``agentic.json`` (every trace, the settings, machine, command, date), ``agentic.md`` and
``agentic_regret.png`` into ``--out`` (default ``benchmarks/results/agentic``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from agenticrs.benchmarks.common import RESULTS_DIR, machine_line, run_header, write_json_atomic, write_text_atomic

ENV_ID = "agenticrs/AgenticRS-v0"
COUPLINGS = ("inner", "outer", "layered", "lagrangian", "difference")
SEARCHERS = ("random", "tpe", "evolution", "coordinate")
COUPLING_KWARGS: dict[str, dict[str, Any]] = {}
"""Env kwargs per coupling (none by default: every coupling runs with the env's defaults)."""
MA_HPARAMS = {"train_batch_size_per_learner": 400, "minibatch_size": 100, "num_epochs": 4, "lr": 1e-3,
              "entropy_coeff": 0.01}
"""PPO settings of the benchmark's multi-agent runs (per-agent modules, [64, 64] MLPs)."""


def train_ma(coupling: str, timesteps: int, rounds: int, seed: int, logdir: Path, progress: bool,
             hparams: dict[str, Any] | None = None, env_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train multi-agent PPO with ``coupling`` on the train tasks; ``{run_dir, seconds, agent_steps_per_s, ...}``."""
    from agenticrs.policies import rllib_multi
    from agenticrs.policies.training import TrainSpec, run_name

    extra = dict(env_kwargs or {})
    spec = TrainSpec(env_id=ENV_ID, env_kwargs={"split": "train", "coupling": coupling, "max_rounds": rounds, **extra},
                     timesteps=timesteps, seed=seed, hparams={**MA_HPARAMS, **(hparams or {})},
                     checkpoint_every=timesteps)
    run_dir = logdir / f"{coupling}__{run_name(spec)}"
    run_dir.mkdir(parents=True)
    t0 = time.perf_counter()
    result = rllib_multi.train(spec, run_dir, progress=progress)
    seconds = time.perf_counter() - t0
    n_agents = 4
    return {"coupling": coupling, "env_kwargs": extra, "run_dir": str(run_dir), "seconds": round(seconds, 1),
            "timesteps": result.timesteps,
            "agent_steps_per_s": round(result.timesteps * n_agents / result.seconds, 1),
            "final_metrics": {k: round(v, 4) for k, v in result.metrics.items() if k.startswith("env/")}}


def cartpole_steps_per_s(timesteps: int, seed: int) -> dict[str, Any]:
    """RLlib single-agent PPO on CartPole-v1 (same batch, epochs, 0 env runners, one torch thread)."""
    from ray.rllib.algorithms.ppo import PPOConfig

    from agenticrs.policies.rllib_adapter import DEFAULTS

    hp = {**DEFAULTS, **MA_HPARAMS}
    hp.pop("fcnet_hiddens")
    config = (PPOConfig().environment("CartPole-v1").env_runners(num_env_runners=0)
              .training(**hp).rl_module(model_config={"fcnet_hiddens": [64, 64]}).debugging(seed=seed, log_level="ERROR"))
    algo = config.build_algo()
    try:
        algo.train()  # warm-up (module build, first sampling)
        steps, t0 = 0, time.perf_counter()
        while steps < timesteps:
            steps += int(algo.train()["env_runners"]["num_env_steps_sampled"])
        seconds = time.perf_counter() - t0
    finally:
        algo.stop()
    return {"env": "CartPole-v1", "timesteps": steps, "seconds": round(seconds, 1), "agent_steps_per_s": round(steps / seconds, 1)}


def evaluate_methods(runs: Sequence[dict[str, Any]], independent: Sequence[tuple[int, Any]], tasks: Sequence[str],
                     seeds: int, rounds: int, searchers: Sequence[str], independent_coupling: str,
                     acts: Sequence[str] = ("sample",)) -> list[Any]:
    """Every method's traces on ``tasks`` x ``seeds`` (trained methods: for each training run and
    each way of acting in ``acts``: ``sample`` or ``deterministic``, the latter named ``...-det``;
    ``independent``: ``[(training seed, IndependentAgents)]``)."""
    from agenticrs.envs.agentic.rllib_env import AgenticRSEnv
    from agenticrs.policies.agentic_baselines import run_independent_episode, run_search_episode
    from agenticrs.policies.agentic_eval import run_policy_episode
    from agenticrs.policies.rllib_multi import MultiAgentRLlibPolicy
    from agenticrs.policies.training import read_meta

    traces = []
    for run, act in [(r, a) for r in runs for a in acts]:
        policy = MultiAgentRLlibPolicy.load(run["run_dir"], deterministic=act == "deterministic")
        suffix = "-det" if act == "deterministic" else ""
        lam = read_meta(run["run_dir"]).get("multiplier")
        kwargs: dict[str, Any] = {**run.get("env_kwargs", {}), "obs_mode": "dict", "split": "test",
                                  "coupling": run["coupling"], "max_rounds": rounds}
        if lam is not None and math.isfinite(lam):
            kwargs["lambda_init"] = float(lam)  # the observation shows the multiplier training ended with
        env = AgenticRSEnv(**kwargs)
        for task in tasks:
            for s in range(seeds):
                traces.append(run_policy_episode(env, policy, task, s, f"ma-ppo-{run['coupling']}{suffix}"))
                traces[-1].train_seed = run.get("train_seed")
        env.close()
    for (train_seed, agents), act in [(i, a) for i in independent for a in acts]:
        agents.deterministic = act == "deterministic"
        for task in tasks:
            for s in range(seeds):
                traces.append(run_independent_episode(agents, task, s, {"coupling": independent_coupling,
                                                                        "max_rounds": rounds}))
                traces[-1].method += "-det" if agents.deterministic else ""
                traces[-1].train_seed = train_seed
    for name in searchers:
        for task in tasks:
            for s in range(seeds):
                traces.append(run_search_episode(name, task, s, rounds))
    return traces


def compare(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Paired difference ``a - b`` (same task and seed): mean, s.e., wins of a."""
    d = np.asarray(a, float) - np.asarray(b, float)
    return {"mean": float(d.mean()), "se": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0,
            "wins": int((d > 0).sum()), "ties": int((d == 0).sum()), "n": int(len(d))}


def targets(traces: Sequence[Any]) -> dict[str, Any]:
    """The issue's targets as paired comparisons of the final outer objective (same task and test
    seed; a trained method's value is its mean over its training runs)."""
    runs: dict[str, dict[tuple[str, int], list[float]]] = {}
    for t in traces:
        runs.setdefault(t.method, {}).setdefault((t.task, t.seed), []).append(t.scores()["outer"][-1])
    by = {m: {k: float(np.mean(v)) for k, v in d.items()} for m, d in runs.items()}

    def pair(a: str, b: str) -> dict[str, float] | None:
        if a not in by or b not in by:
            return None
        keys = sorted(set(by[a]) & set(by[b]))
        return compare([by[a][k] for k in keys], [by[b][k] for k in keys])

    out: dict[str, Any] = {}
    for sfx in ("", "-det"):
        for mid in ("layered", "lagrangian"):
            for base in ("inner", "outer"):
                out[f"ma-ppo-{mid}{sfx} - ma-ppo-{base}{sfx}"] = pair(f"ma-ppo-{mid}{sfx}", f"ma-ppo-{base}{sfx}")
    best_ma = max((m for m in by if m.startswith("ma-ppo-")), key=lambda m: np.mean(list(by[m].values())), default=None)
    if best_ma:
        out["best_ma"] = best_ma
        for base in ("independent", "independent-det", "tpe", "coordinate"):
            out[f"{best_ma} - {base}"] = pair(best_ma, base)
        for sfx in ("", "-det"):
            for mid in ("layered", "lagrangian"):
                for base in (f"independent{sfx}", "tpe"):
                    out[f"ma-ppo-{mid}{sfx} - {base}"] = pair(f"ma-ppo-{mid}{sfx}", base)
    return {k: v for k, v in out.items() if v is not None}


def by_train_seed(traces: Sequence[Any]) -> dict[str, dict[str, float]]:
    """Trained methods: mean final outer objective of each training run (the spread across runs)."""
    acc: dict[str, dict[str, list[float]]] = {}
    for t in traces:
        if t.train_seed is not None:
            acc.setdefault(t.method, {}).setdefault(str(t.train_seed), []).append(t.scores()["outer"][-1])
    return {m: {k: round(float(np.mean(v)), 4) for k, v in d.items()} for m, d in acc.items()}


def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [f"# AgenticRS-v0: multi-agent PPO vs independent agents vs joint search",
             "", f"- command: `{result['header']['command']}`", f"- date: {result['header']['date']}",
             f"- machine: {machine_line(result['header']['machine'])}; load average at start {s['load_average']}",
             f"- test tasks {s['tasks']} (unseen in training), {s['seeds']} seeds each, {s['rounds']} rounds (= "
             f"pipelines evaluated) per episode; MA-PPO {s['timesteps']} training rounds per coupling on the train "
             f"tasks (training seeds {s['train_seeds']}); independent agents {s['independent_timesteps']} rounds per "
             f"agent (coupling {s['independent_coupling']}, same training seeds); env kwargs per coupling "
             f"{s.get('coupling_kwargs') or 'none (env defaults)'}",
             *([f"- training runs re-evaluated from `{s['training_command']}` ({s['training_date']})"]
               if s.get("training_command") else []),
             f"- trained policies act by: {s.get('acts', 'sample')} (deterministic ones are named `...-det`)",
             f"- regret reference: {s['best_known_how']}",
             f"- wall time {result['seconds']:.0f} s", "",
             "| method | final outer objective | normalised regret | regret after 1 / 5 / all rounds | compute s |",
             "|---|---|---|---|---|"]
    for m, r in sorted(result["summary"].items(), key=lambda kv: kv[1]["regret"][0]):
        curve = r["regret_by_round"]
        mid = curve[min(4, len(curve) - 1)]
        lines.append(f"| {m} | {r['outer'][0]:.3f} ± {r['outer'][1]:.3f} | {r['regret'][0]:.3f} ± {r['regret'][1]:.3f} | "
                     f"{curve[0]:.3f} / {mid:.3f} / {curve[-1]:.3f} | {r['compute_by_round'][-1]:.0f} |")
    if result.get("by_train_seed"):
        lines += ["", "Mean final outer objective of each training run (training seed: value):", ""]
        lines += [f"- {m}: {v}" for m, v in sorted(result["by_train_seed"].items())]
    lines += ["", "mean ± s.e. over (training run, task, seed); outer objective = expected relative click lift vs the default "
              "pipeline + SLA term (noise-free); regret 0 = the best of all 32,256 pipelines, 1 = the default.", "",
              "## Targets (paired by task and seed: difference of the final outer objective)", ""]
    for k, v in result["targets"].items():
        if isinstance(v, dict):
            lines.append(f"- {k}: {v['mean']:+.3f} ± {v['se']:.3f} (wins {v['wins']}/{v['n']}, ties {v['ties']})")
        elif v is not None:
            lines.append(f"- {k}: {v}")
    sp = result["speed"]
    lines += ["", "## Speed (same process)", ""]
    for r in result["train_runs"]:
        lines.append(f"- RLlib MA-PPO ({r['coupling']}, training seed {r.get('train_seed', 0)}): "
                     f"{r['agent_steps_per_s']} agent-steps/s "
                     f"({r['timesteps']} rounds x 4 agents in {r['seconds']} s incl. learning)")
    if sp.get("cartpole"):
        c = sp["cartpole"]
        lines.append(f"- RLlib PPO CartPole-v1 (same PPO settings): {c['agent_steps_per_s']} steps/s")
    return "\n".join(lines) + "\n"


MA_STYLES = {"inner": {"color": "#9467bd", "marker": "<"}, "outer": {"color": "#17becf", "marker": ">"},
             "layered": {"color": "#d62728", "marker": "o"}, "lagrangian": {"color": "#ff7f0e", "marker": "D"},
             "difference": {"color": "#e377c2", "marker": "p"}}
"""Plot styles of the multi-agent PPO coupling modes."""


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agenticrs.benchmarks.plot_style import policy_style

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for m, r in sorted(result["summary"].items()):
        # MA-PPO modes: colours of their own, solid (sampling) or dotted (-det); baselines: dashed, usual style.
        det = m.endswith("-det")
        st = MA_STYLES.get(m.removeprefix("ma-ppo-").removesuffix("-det")) if m.startswith("ma-ppo-") else None
        st = {**st, "ls": ":" if det else "-"} if st else {**policy_style(m.removesuffix("-det")), "ls": ":" if det else "--"}
        x = np.arange(1, len(r["regret_by_round"]) + 1)
        for ax, xs in ((axes[0], x), (axes[1], r["compute_by_round"])):
            ax.plot(xs, r["regret_by_round"], label=m, color=st["color"], marker=st["marker"], ls=st["ls"], ms=4)
    axes[0].set_xlabel("round (pipelines evaluated)")
    axes[1].set_xlabel("simulated compute (training seconds)")
    for ax in axes:
        ax.set_ylabel("normalised regret of the final pipeline")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.suptitle("AgenticRS-v0, unseen test tasks")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_main_job(*, coupling: str = "difference", timesteps: int = 2000, seed: int = 0, seeds: int = 10,
                 rounds: int = 10, baselines: Sequence[str] = SEARCHERS, logdir: str | Path = "runs/evolve",
                 hparams: dict[str, Any] | None = None, progress: bool = True) -> dict[str, Any]:
    """The flagship main job (``agenticrs evolve --env agenticrs/AgenticRS-v0``).

    1. Train RLlib multi-agent PPO (one masked module per agent, ``coupling``) on the embedded
       suite's train tasks (TensorBoard logs and a checkpoint under ``logdir``).
    2. Run it on the unseen test tasks (``seeds`` seeds, ``rounds`` rounds) against the joint
       search ``baselines`` (and ``independent`` agents if listed) under the same budget.
    3. Print the comparison table and where the logs, checkpoint, results and plot are.
    """
    import ray

    from agenticrs.envs.suites import get_suite
    from agenticrs.policies.agentic_baselines import train_independent
    from agenticrs.policies.agentic_eval import best_known, summarise
    from agenticrs.policies.ray_util import init_ray
    from agenticrs.policies.training import use_policy_threads

    use_policy_threads()
    t0 = time.perf_counter()
    logdir = Path(logdir)
    tasks = [t.name for t in get_suite("synthetic").test]
    searchers = [b for b in baselines if b != "independent"]
    print(f"[1/2] training RLlib multi-agent PPO on {ENV_ID} (coupling {coupling}, one module per agent, cached "
          f"backend, suite 'synthetic' train tasks), {timesteps} rounds", flush=True)
    started = init_ray(None, num_cpus=2)
    try:
        run = train_ma(coupling, timesteps, rounds, seed, logdir, progress, hparams)
    finally:
        if started:
            ray.shutdown()
    t_train = time.perf_counter() - t0
    print(f"      done in {t_train:.0f} s ({run['agent_steps_per_s']} agent-steps/s); checkpoint {run['run_dir']}/checkpoint",
          flush=True)
    independent = []
    if "independent" in baselines:
        independent.append((seed, train_independent(Path(run["run_dir"]) / "independent", timesteps, seed,
                                                     {"coupling": coupling, "max_rounds": rounds})))
    print(f"[2/2] the unseen test tasks {tasks}: ma-ppo-{coupling} (sampling, and -det: most likely actions), "
          f"{', '.join(baselines)}; {seeds} seeds x {rounds} rounds each", flush=True)
    for t in tasks:
        best_known(t)
    traces = evaluate_methods([{**run, "train_seed": seed}], independent, tasks, seeds, rounds, searchers, coupling,
                              ("sample", "deterministic"))
    out = Path(run["run_dir"]) / "bench"
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "header": run_header(),
        "settings": {"env_id": ENV_ID, "tasks": tasks, "seeds": seeds, "rounds": rounds, "timesteps": timesteps,
                     "train_seeds": [seed], "couplings": [coupling], "independent_timesteps": timesteps if independent else 0,
                     "independent_coupling": coupling, "ma_hparams": {**MA_HPARAMS, **(hparams or {})},
                     "load_average": [round(x, 2) for x in __import__("os").getloadavg()],
                     "best_known_how": best_known(tasks[0]).how},
        "train_runs": [run], "speed": {}, "summary": summarise(traces), "targets": targets(traces),
        "traces": [t.to_dict() for t in traces],
    }
    result["seconds"] = time.perf_counter() - t0
    write_json_atomic(out / "agentic.json", result)
    write_text_atomic(out / "agentic.md", markdown(result))
    plot(result, out / "agentic_regret.png")
    print()
    print(summary_table(result["summary"]))
    print(f"\nfinal pipeline on the unseen test tasks after {rounds} rounds: noise-free outer objective (expected "
          f"relative click lift vs the default pipeline + SLA term) and normalised regret (0 = best of the 32,256 "
          f"joint configurations, exhaustive; 1 = default), mean ± s.e. over {len(tasks)} tasks x {seeds} seeds")
    print(f"TensorBoard: tensorboard --logdir {logdir}   (agent/<name>/..., env/outer_mean, env/multiplier)")
    print(f"plot:        {out / 'agentic_regret.png'}")
    print(f"results:     {out / 'agentic.json'}, {out / 'agentic.md'}")
    print(f"total time:  {result['seconds']:.0f} s (training {t_train:.0f} s)")
    result["run_dir"] = run["run_dir"]
    return result


def summary_table(summary: dict[str, dict[str, Any]]) -> str:
    """The comparison table (best first)."""
    from agenticrs.cli.table import format_table

    rows = [[m, f"{r['outer'][0]:.3f} ± {r['outer'][1]:.3f}", f"{r['regret'][0]:.3f} ± {r['regret'][1]:.3f}",
             f"{r['compute_by_round'][-1]:.0f}"]
            for m, r in sorted(summary.items(), key=lambda kv: kv[1]["regret"][0])]
    return format_table(["method", "final outer objective", "normalised regret", "compute s"], rows)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--timesteps", type=int, default=2000, help="MA-PPO training rounds per coupling")
    p.add_argument("--independent-timesteps", type=int, default=2000, help="training rounds per independent agent")
    p.add_argument("--independent-coupling", default="layered", choices=COUPLINGS)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--rounds", type=int, default=10, help="rounds per episode = trials of the search baselines")
    p.add_argument("--couplings", default=",".join(COUPLINGS))
    p.add_argument("--searchers", default=",".join(SEARCHERS))
    p.add_argument("--coupling-kwargs", default=json.dumps(COUPLING_KWARGS),
                   help="JSON {coupling: env kwargs} for training and testing that coupling (e.g. the Lagrangian's "
                        "outer_target, dual_lr, lambda_max)")
    p.add_argument("--train-seed", type=int, default=0, help="first training seed")
    p.add_argument("--train-seeds", type=int, default=1, help="training runs per trained method (seeds from --train-seed)")
    p.add_argument("--cartpole-steps", type=int, default=2000, help="0: skip the CartPole reference")
    p.add_argument("--acts", default="sample,deterministic",
                   help="how trained policies act at test: sample, deterministic (methods named ...-det), or both")
    p.add_argument("--from-runs", default=None, metavar="JSON",
                   help="re-evaluate the training runs of an earlier agentic.json (no training; independent agents "
                        "from --logdir/independent_<seed> if there)")
    p.add_argument("--out", default=str(RESULTS_DIR / "agentic"))
    p.add_argument("--logdir", default=None, help="training runs (default: a temporary folder)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    import os

    import ray

    from agenticrs.envs.suites import get_suite
    from agenticrs.policies.agentic_baselines import train_independent
    from agenticrs.policies.agentic_eval import best_known, summarise
    from agenticrs.policies.ray_util import init_ray
    from agenticrs.policies.training import use_policy_threads

    use_policy_threads()
    header = run_header()
    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logdir = Path(args.logdir or tempfile.mkdtemp(prefix="agentic_bench_"))
    tasks = [t.name for t in get_suite("synthetic").test]
    couplings = [c for c in args.couplings.split(",") if c]
    train_seeds = list(range(args.train_seed, args.train_seed + args.train_seeds))
    coupling_kwargs = json.loads(args.coupling_kwargs)
    progress = not args.no_progress
    load = os.getloadavg()

    previous = json.loads(Path(args.from_runs).read_text()) if args.from_runs else None
    started = init_ray(None, num_cpus=2) if previous is None else False
    try:
        runs = list(previous["train_runs"]) if previous else []
        if previous:
            couplings = sorted({r["coupling"] for r in runs}, key=COUPLINGS.index)
            train_seeds = sorted({int(r.get("train_seed", 0)) for r in runs})
            coupling_kwargs = previous["settings"].get("coupling_kwargs", {})
        for seed in train_seeds if previous is None else []:
            for c in couplings:
                print(f"[train] MA-PPO coupling={c} seed={seed}: {args.timesteps} rounds", file=sys.stderr, flush=True)
                runs.append({**train_ma(c, args.timesteps, args.rounds, seed, logdir, progress,
                                        env_kwargs=coupling_kwargs.get(c)), "train_seed": seed})
                print(f"        {runs[-1]['seconds']} s, {runs[-1]['agent_steps_per_s']} agent-steps/s", file=sys.stderr)
        cartpole = (previous["speed"].get("cartpole") if previous else
                    cartpole_steps_per_s(args.cartpole_steps, args.train_seed) if args.cartpole_steps else None)
    finally:
        if started:
            ray.shutdown()
    independent = []
    ti = time.perf_counter()
    if previous:
        from agenticrs.policies.agentic_baselines import IndependentAgents

        independent = [(seed, IndependentAgents.load(logdir / f"independent_{seed}")) for seed in train_seeds
                       if (logdir / f"independent_{seed}" / "independent.json").is_file()]
    for seed in train_seeds if args.independent_timesteps and not previous else []:
        print(f"[train] independent agents seed={seed}: {args.independent_timesteps} rounds each", file=sys.stderr,
              flush=True)
        independent.append((seed, train_independent(logdir / f"independent_{seed}", args.independent_timesteps, seed,
                                                     {"coupling": args.independent_coupling,
                                                      "max_rounds": args.rounds})))
    independent_seconds = time.perf_counter() - ti
    print(f"[best] exhaustive best pipeline of {tasks}", file=sys.stderr, flush=True)
    best = {t: best_known(t) for t in tasks}
    print("[test] evaluating every method", file=sys.stderr, flush=True)
    traces = evaluate_methods(runs, independent, tasks, args.seeds, args.rounds,
                              [s for s in args.searchers.split(",") if s], args.independent_coupling,
                              [a for a in args.acts.split(",") if a])
    result: dict[str, Any] = {
        "header": header,
        "settings": {"env_id": ENV_ID, "tasks": tasks, "seeds": args.seeds, "rounds": args.rounds,
                     "timesteps": previous["settings"]["timesteps"] if previous else args.timesteps,
                     "train_seeds": train_seeds, "couplings": couplings, "acts": args.acts,
                     "from_runs": args.from_runs,
                     "training_command": previous["header"]["command"] if previous else None,
                     "training_date": previous["header"]["date"] if previous else None,
                     "coupling_kwargs": coupling_kwargs,
                     "independent_timesteps": (previous["settings"]["independent_timesteps"] if previous
                                               else args.independent_timesteps),
                     "independent_coupling": args.independent_coupling, "ma_hparams": MA_HPARAMS,
                     "load_average": [round(x, 2) for x in load],
                     "best_known_how": next(iter(best.values())).how if best else ""},
        "best_known": {t: {"joint": b.joint.to_dict(), "outer": b.outer, "default_outer": b.default_outer}
                       for t, b in best.items()},
        "train_runs": runs,
        "speed": {"cartpole": cartpole,
                  "independent_seconds": (previous["speed"].get("independent_seconds") if previous
                                          else round(independent_seconds, 1) if independent else None)},
        "summary": summarise(traces),
        "by_train_seed": by_train_seed(traces),
        "targets": targets(traces),
        "traces": [t.to_dict() for t in traces],
    }
    result["seconds"] = time.perf_counter() - t0
    write_json_atomic(out / "agentic.json", result)
    write_text_atomic(out / "agentic.md", markdown(result))
    plot(result, out / "agentic_regret.png")
    print(markdown(result))
    print(f"written: {out / 'agentic.json'}, {out / 'agentic.md'}, {out / 'agentic_regret.png'}")
    return result


if __name__ == "__main__":
    main()
