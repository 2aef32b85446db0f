"""Design search at equal trial budgets: random, evolution, llm and llm-mutation proposers.

For each synthetic task and seed, each proposer gets the same number of programs (``--trials``),
asked ``--generate`` at a time (the proposer hears the previous rounds' results), each trained
for the same ``--epochs`` by the live backend (in-process), on the same data. Recorded per search:
the best validation NDCG@10 so far and the test NDCG@10 of that program, against trials and
against compute (training seconds, and the proposer's own seconds: a language model's
generation time); for the language-model proposers the valid-reply rate and the share of
distinct programs among valid replies. The library's SASRec-CE at the same epochs and seeds is
the reference row.

    python -m agenticrs.benchmarks.design_search --tasks syn-seq,syn-pop --trials 8 --seeds 2 \
        --llm-model smollm2 --llm-tasks syn-seq --llm-seeds 1

Writes ``results/design/design_search.{json,md,png}``.
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

TASKS = {
    "syn-seq": "synthetic:users=300,items=300,seq_strength=0.8,seed=1",
    "syn-pop": "synthetic:users=300,items=300,seq_strength=0.2,skew=1.4,seed=2",
    "syn-text": "synthetic:users=300,items=300,seq_strength=0.4,text_signal=1.0,seed=3",
}
PROPOSERS = ("random", "evolution", "llm", "llm-mutation")
LLM_PROPOSERS = ("llm", "llm-mutation")


def describe(name: str, dataset: Any) -> str:
    """The task description a language model reads."""
    lengths = [len(s) for s in dataset.split().train] if hasattr(dataset, "split") else []
    mean = f", mean history length {np.mean(lengths):.1f}" if lengths else ""
    return (f"next-item recommendation on {name}: {dataset.n_users} users, {dataset.n_items} items{mean}; "
            f"maximise validation NDCG@10 after a short fixed training budget")


def run_search(task: str, uri: str, dataset: Any, proposer_name: str, seed: int, args: argparse.Namespace,
               model: Any = None) -> dict[str, Any]:
    from agenticrs.envs.backends.live import LiveBackend
    from agenticrs.envs.core import Task
    from agenticrs.envs.knowledge import KnowledgeStore
    from agenticrs.policies.proposers import BackendEvaluator, DesignTask, PipelineConfig, make_proposer, run_pipeline
    from agenticrs.recsys.design import to_text

    with tempfile.TemporaryDirectory() as tmp:  # one store per search: no search sees another's programs
        store = KnowledgeStore(Path(tmp) / "k.sqlite")
        backend = LiveBackend(store, timeout_s=None, isolate=False, datasets={uri: dataset},
                              setup_modules=("agenticrs.recsys.design",), agent=proposer_name, env="design-search")
        dtask = DesignTask(task, describe(task, dataset), n_items=dataset.n_items, fixed={"epochs": args.epochs})
        kwargs = ({"model": model, "max_tokens": args.llm_max_tokens, "max_attempts": args.llm_attempts,
                   "max_resample": 0} if proposer_name in LLM_PROPOSERS else {})
        proposer = make_proposer(proposer_name, **kwargs)
        trials = args.llm_trials if proposer_name in LLM_PROPOSERS and args.llm_trials else args.trials
        rounds = math.ceil(trials / args.generate)
        config = PipelineConfig(rounds=rounds, generate=args.generate, select=args.generate)

        def line(row: Any) -> None:
            print(f"  {task} {proposer_name} seed {seed} #{row.trial} {row.source:12s} {row.status} "
                  f"valid {row.valid:.4f} best {row.best_valid:.4f} ({row.seconds:.1f}s train, "
                  f"{row.propose_seconds:.0f}s proposing)", file=sys.stderr, flush=True)

        trace = run_pipeline(proposer, BackendEvaluator(backend, Task(task, uri)), dtask, config, seed, store=store,
                             run_id=f"{task}-{proposer_name}-{seed}", on_row=line)
        out = trace.to_dict()
        out["rows"] = out["rows"][:trials]
        if proposer_name in LLM_PROPOSERS:  # what the model actually wrote, for the report
            out["replies"] = [{k: (str(d.info.get(k))[:400] if d.info.get(k) is not None else None)
                               for k in ("prompt_id", "response", "valid", "error", "rejected", "seconds")}
                              for d in store.decisions(run_id=f"{task}-{proposer_name}-{seed}")
                              if d.info.get("event") == "llm_call"]
        out.update(task=task, best_program_text=to_text(trace.best_program) if trace.best_program else None)
        return out


def reference(task: str, uri: str, dataset: Any, seed: int, epochs: int) -> dict[str, float]:
    """The library's SASRec-CE at the same epochs: the row the best discovered program is read beside."""
    import dataclasses

    from agenticrs.recsys.design import LIBRARY, run_program

    p = LIBRARY["sasrec_ce"]
    p = dataclasses.replace(p, train=dataclasses.replace(p.train, epochs=epochs))
    r = run_program(dataset, p, seed=seed, progress=False)
    return {"valid": r.valid["ndcg@10"], "test": r.test["ndcg@10"], "seconds": r.cost["train_seconds"]}


def _ms(values: Sequence[float]) -> str:
    v = [x for x in values if x == x and x > -math.inf]
    if not v:
        return "-"
    return f"{np.mean(v):.4f} ± {np.std(v, ddof=1) if len(v) > 1 else 0.0:.4f}"


def best_at(rows: list[dict[str, Any]], k: int) -> tuple[float, float]:
    """Best validation NDCG@10 within the first ``k`` trials and the test NDCG@10 of that program
    (NaN: the search had fewer than ``k`` trials)."""
    if len(rows) < k:
        return math.nan, math.nan
    return rows[k - 1]["best_valid"], rows[k - 1]["best_test"]


def own_best(rows: list[dict[str, Any]], k: int) -> float:
    """Best validation NDCG@10 among the first ``k`` programs the proposer wrote itself (random
    substitutes, made when it could not offer a new valid program, left out)."""
    own = [r["valid"] for r in rows[:k] if r["source"] != "substitute" and r["status"] == "ok"]
    return max(own) if own else math.nan


def summarise(results: dict[str, Any]) -> str:
    s = results["settings"]
    half = max(1, s["trials"] // 2)
    lines = [
        "# Design search: random vs evolution vs language-model proposers", "",
        f"Command: `{results['header']['command']}`  ",
        f"Date: {results['header']['date']}; machine: {machine_line(results['header']['machine'])} "
        f"(shared with other jobs: wall-clock seconds are inflated and noisy).  ",
        f"Budget: {s['trials']} programs per search, {s['generate']} asked per round, {s['epochs']} training epochs "
        f"per program; seeds {s['seeds']} (language-model proposers: {s['llm_trials']} programs per search, tasks "
        f"{s['llm_tasks']}, seeds {s['llm_seeds']}, "
        f"at most {s['llm_attempts']} calls of {s['llm_max_tokens']} tokens per proposal); "
        f"language model: `{s['llm_model']}`.", "",
        f"| task | proposer | searches | best valid N@10 @{half} | its test N@10 | best valid N@10 @{s['trials']} "
        f"| its test N@10 | train s @{half} | proposer s @{half} | valid replies | distinct | substituted "
        f"| best valid N@10 of its own programs @{half} |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task in s["tasks"]:
        ref = results["reference"].get(task, [])
        if ref:
            lines.append(f"| {task} | sasrec_ce (library, reference) | {len(ref)} | - | - | {_ms([r['valid'] for r in ref])} | "
                         f"{_ms([r['test'] for r in ref])} | - | - | - | - | - | - |")
        for name in s["proposers"]:
            runs = [r for r in results["runs"] if r["task"] == task and r["proposer"] == name]
            if not runs:
                continue
            at_half = [best_at(r["rows"], half) for r in runs]
            at_full = [best_at(r["rows"], s["trials"]) for r in runs]
            # Compute at the budget every search reached (half the trials): comparable across proposers.
            train_s = np.mean([r["rows"][half - 1]["cum_seconds"] for r in runs if len(r["rows"]) >= half])
            prop_s = np.mean([r["rows"][half - 1]["propose_seconds"] for r in runs if len(r["rows"]) >= half])
            st = [r["stats"] for r in runs]
            if name in LLM_PROPOSERS:
                calls = sum(x["llm_calls"] for x in st)
                valid = sum(x["valid_replies"] for x in st)
                distinct = np.mean([x["distinct_share"] for x in st if x["distinct_share"] == x["distinct_share"]] or [0])
                llm_cols = f"{valid}/{calls} ({valid / calls:.0%})" if calls else "-", f"{distinct:.0%}"
            else:
                llm_cols = ("-", "-")
            subs = sum(x["substitutions"] for x in st)
            lines.append(f"| {task} | {name} | {len(runs)} | {_ms([a for a, _ in at_half])} | {_ms([b for _, b in at_half])} | "
                         f"{_ms([a for a, _ in at_full])} | {_ms([b for _, b in at_full])} | {train_s:.0f} | {prop_s:.0f} | {llm_cols[0]} | {llm_cols[1]} | "
                         f"{subs}/{sum(len(r['rows']) for r in runs)} | {_ms([own_best(r['rows'], half) for r in runs])} |")
    lines += ["", "*best valid N@10 @k*: the best validation NDCG@10 among the first k programs (mean ± std over "
              "searches; '-': fewer programs in those searches); *its test N@10*: the test NDCG@10 of that program; "
              f"*train s* / *proposer s*: seconds per search spent training / proposing its first {half} programs "
              "(the language model's first call includes loading it, ~1 minute); *valid replies*: model replies that parsed and validated, of "
              "all calls (repairs included); *distinct*: share of distinct programs among valid replies; "
              "*substituted*: proposals the proposer could not make (no new valid program within its attempts) that "
              "the base class replaced by a random grammar sample; *best ... of its own programs*: the same best, "
              "substitutes left out (what the proposer itself found).", ""]
    for task in s["tasks"]:
        runs = [r for r in results["runs"] if r["task"] == task and r["best_program_text"]]
        if runs:
            best = max(runs, key=lambda r: r["rows"][-1]["best_valid"])
            top = max((row for row in best["rows"] if row["status"] == "ok"), key=lambda row: row["valid"])
            lines += [f"Best program on {task} ({best['proposer']} search, seed {best['seed']}, written by: "
                      f"{top['source']}; valid N@10 "
                      f"{best['rows'][-1]['best_valid']:.4f}, test {best['rows'][-1]['best_test']:.4f}):", "", "```",
                      best["best_program_text"].rstrip(), "```", ""]
    replies = [(r["proposer"], x) for r in results["runs"] for x in r.get("replies", [])]
    if replies:
        lines += ["Some of the language model's replies (raw, as recorded in the KnowledgeStore):", ""]
        for name, x in replies[:6]:
            verdict = "valid" if x["valid"] == "True" and not x["rejected"] else (x["rejected"] or x["error"] or "")
            reply = " ".join((x["response"] or "").split())  # one line in the list
            lines.append(f"- {name} `{x['prompt_id']}` ({float(x['seconds'] or 0):.0f} s): `{reply}` "
                         f"-> {verdict}")
        lines.append("")
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = results["settings"]["tasks"]
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.5 * len(tasks), 7), squeeze=False)
    for j, task in enumerate(tasks):
        for name in results["settings"]["proposers"]:
            runs = [r for r in results["runs"] if r["task"] == task and r["proposer"] == name]
            if not runs:
                continue
            n = min(len(r["rows"]) for r in runs)
            best = np.array([[max(row["best_valid"], 0) for row in r["rows"][:n]] for r in runs])
            axes[0, j].plot(range(1, n + 1), best.mean(0), marker="o", label=name)
            compute = np.array([[row["cum_seconds"] + row["propose_seconds"] for row in r["rows"][:n]] for r in runs])
            axes[1, j].plot(compute.mean(0), best.mean(0), marker="o", label=name)
        axes[0, j].set_title(task)
        axes[0, j].set_xlabel("programs evaluated")
        axes[1, j].set_xlabel("seconds (training + proposing)")
        axes[1, j].set_xscale("log")
        for i in range(2):
            axes[i, j].set_ylabel("best valid NDCG@10")
    axes[0, 0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="syn-seq,syn-pop", help=f"comma-separated, of {', '.join(TASKS)}")
    p.add_argument("--proposers", default=",".join(PROPOSERS))
    p.add_argument("--trials", type=int, default=8, help="programs per search")
    p.add_argument("--generate", type=int, default=2, help="programs asked per round")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--epochs", type=int, default=2, help="training epochs of every program")
    p.add_argument("--llm-model", default="smollm2", help="smollm2 | standin | http")
    p.add_argument("--llm-tasks", default=None, help="tasks the LLM proposers run on (default: all)")
    p.add_argument("--llm-seeds", type=int, default=None, help="seeds of the LLM proposers (default: --seeds)")
    p.add_argument("--llm-trials", type=int, default=None,
                   help="programs per LLM-proposer search (default: --trials; a 135M model on one loaded CPU "
                        "thread writes a few tokens a second)")
    p.add_argument("--llm-max-tokens", type=int, default=120, help="most tokens of one model reply")
    p.add_argument("--llm-attempts", type=int, default=2,
                   help="model calls per proposal (first try + repairs / retries), then a random substitute")
    p.add_argument("--llm-cache", default=str(Path(tempfile.gettempdir()) / "agenticrs-llm-cache"))
    p.add_argument("--out", default=str(RESULTS_DIR / "design"))
    p.add_argument("--summarise", default=None, metavar="JSON",
                   help="only rewrite the markdown summary (and plot) of a finished run's JSON")
    args = p.parse_args(argv)
    if args.summarise:
        results = json.loads(Path(args.summarise).read_text())
        write_text_atomic(Path(args.summarise).with_suffix(".md"), summarise(results))
        plot(results, Path(args.summarise).with_suffix(".png"))
        return 0

    import torch

    from agenticrs.policies.llm import make_model
    from agenticrs.recsys.data import load_dataset

    torch.set_num_threads(1)
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        p.error(f"unknown task(s) {unknown}; tasks: {', '.join(TASKS)}")
    proposers = [x for x in args.proposers.split(",") if x]
    llm_tasks = args.llm_tasks.split(",") if args.llm_tasks else tasks
    llm_seeds = args.seeds if args.llm_seeds is None else args.llm_seeds
    model = None
    if any(x in LLM_PROPOSERS for x in proposers):
        model = make_model(args.llm_model, cache=args.llm_cache)
    results: dict[str, Any] = {
        "header": run_header(),
        "settings": {"tasks": tasks, "task_uris": {t: TASKS[t] for t in tasks}, "proposers": proposers,
                     "trials": args.trials, "generate": args.generate, "seeds": args.seeds, "epochs": args.epochs,
                     "llm_model": model.describe() if model else None, "llm_tasks": llm_tasks, "llm_seeds": llm_seeds,
                     "llm_max_tokens": args.llm_max_tokens, "llm_attempts": args.llm_attempts,
                     "llm_trials": args.llm_trials or args.trials},
        "runs": [], "reference": {},
    }
    start = time.perf_counter()
    for task in tasks:
        dataset = load_dataset(TASKS[task])
        results["reference"][task] = [reference(task, TASKS[task], dataset, s, args.epochs) for s in range(args.seeds)]
        for name in proposers:
            seeds = range(llm_seeds) if name in LLM_PROPOSERS else range(args.seeds)
            if name in LLM_PROPOSERS and task not in llm_tasks:
                continue
            for seed in seeds:
                results["runs"].append(run_search(task, TASKS[task], dataset, name, seed, args, model))
    results["seconds"] = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "design_search.json", results)
    write_text_atomic(out / "design_search.md", summarise(results))
    plot(results, out / "design_search.png")
    print(summarise(results))
    print(f"total {results['seconds']:.0f}s; wrote {out / 'design_search.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
