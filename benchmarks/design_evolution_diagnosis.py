"""Why evolution does not beat random in the design search: a diagnosis from recorded searches, no training.

A design-search JSON (``benchmarks/design_search.py``) records every program's hash and scores but not
its parents. The evolution proposer is deterministic given its seed and the values it is told, so
each recorded evolution search is *replayed* here with its recorded scores in place of training
(the replay must reproduce every recorded program hash, else it stops), which recovers each child's
parent, the operator that made it and the search's best-so-far at that moment. Reported:

* a child's score relative to its parent, overall and by mutation section / operator (how often a
  mutation breaks a program or fails);
* how the best-so-far grows for random and evolution, and where evolution's parents sit relative to
  the best-so-far (tournament over an aging population);
* per evaluation, the expected gain over the search's best-so-far of a child, against that of a
  fresh random draw *at the same best-so-far* (the task's random draws over all seeds as the
  distribution): the quantity that decides whether a child is worth more than a draw.

    python -m agenticrs.benchmarks.design_evolution_diagnosis \
        benchmarks/results/design/design_search.json --out benchmarks/results/design/evolution_diagnosis.md
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from agenticrs.benchmarks.common import write_text_atomic
from agenticrs.io import read_json


def replay(run: dict[str, Any], epochs: int, n_items: int) -> list[dict[str, Any]]:
    """One recorded evolution search replayed with its recorded scores: per program, its value and, for
    children, the (first) parent's value, the source and the operator names that turn the mutated
    program (parent, or crossover child) into the child.

    Raises:
        AssertionError: the replay proposes another program than the one recorded (the proposer's
            code changed since the run: the diagnosis would be about other programs).
    """
    from agenticrs.envs.core import TrialResult
    from agenticrs.policies.proposers import DesignTask, PipelineConfig, make_proposer, run_pipeline
    from agenticrs.policies.proposers.knowledge import trial_config
    from agenticrs.recsys.design import canonical_json, program_hash
    from agenticrs.recsys.design.grammar import OPERATORS

    task, table = run["task"], {row["program_hash"]: row for row in run["rows"]}

    def evaluate(program: Any, fidelity: float, seed: int) -> TrialResult:
        row = table.get(program_hash(program))
        assert row is not None, f"replay of {task} seed {run['seed']} proposes a program the search did not record"
        if row["status"] != "ok":
            return TrialResult(trial_config(program), task, fidelity, seed, row["status"])
        return TrialResult(trial_config(program), task, fidelity, seed, "ok", {"ndcg@10": row["valid"]},
                           {"ndcg@10": row["test"]}, {"seconds": row["seconds"]})

    proposer = make_proposer("evolution", **((run.get("variant") or {}).get("kwargs") or {}))
    dtask = DesignTask(task, "", n_items=n_items, fixed={"epochs": epochs})
    current: dict[str, Any] = {}
    log: list[dict[str, Any]] = []
    tournament, mutate, ask, propose = proposer._tournament, proposer._mutate, proposer.ask, proposer._propose

    def traced_tournament() -> Any:
        parent = tournament()
        current.setdefault("parents", []).append(parent)
        return parent

    def traced_mutate(program: Any) -> Any:
        current["mutated"] = program
        return mutate(program)

    def traced_propose() -> Any:
        current.clear()  # ask() may refuse a duplicate and propose again: keep the last attempt's parents only
        return propose()

    def traced_ask() -> Any:
        child = ask()
        log.append({**current, "child": child})
        return child

    proposer._tournament, proposer._mutate, proposer.ask = traced_tournament, traced_mutate, traced_ask
    proposer._propose = traced_propose
    trace = run_pipeline(proposer, evaluate, dtask, PipelineConfig(rounds=math.ceil(run["trials"] / 2), generate=2,
                                                                   select=2), run["search_seed"])
    assert [r.program_hash for r in trace.rows][:run["trials"]] == [r["program_hash"] for r in run["rows"]], \
        f"replay of {task} seed {run['seed']} proposes other programs than recorded"
    value = {r["program_hash"]: r["valid"] if r["status"] == "ok" else -math.inf for r in run["rows"]}
    out = []
    for entry, row in zip(log, run["rows"]):
        rec = {"task": task, "seed": run["seed"], "source": row["source"], "value": value[row["program_hash"]]}
        if entry.get("parents"):
            key = canonical_json(dtask.finalise(entry["child"]))
            ops = [o for o in OPERATORS if canonical_json(dtask.finalise(o(entry["mutated"]))) == key]
            rec.update(parent=value[program_hash(entry["parents"][0])], ops=[o.name for o in ops],
                       section=ops[0].section if ops else "?")
        out.append(rec)
    return out


def report(results: dict[str, Any], name: str = "evolution") -> str:
    from agenticrs.benchmarks.design_search import TASKS
    from agenticrs.recsys.data import load_dataset

    runs = {(r["task"], r["proposer"], r["seed"]): r for r in results["runs"]}
    n_items = {t: load_dataset(TASKS[t]).n_items for t in {t for t, p, _ in runs if p == name}}
    rows = [x for (t, p, s), r in runs.items() if p == name
            for x in replay(r, results["settings"]["epochs"], n_items[t])]
    keys = sorted({(t, s) for t, p, s in runs if p == name and (t, "random", s) in runs})
    lines = [f"# Evolution diagnosis (`{name}`, {len(keys)} searches paired with random)", "",
             "Generated by `benchmarks/design_evolution_diagnosis.py` from the recorded searches (replayed, "
             "no training); see its docstring.", ""]
    children = [x for x in rows if "parent" in x]
    ok = [x for x in children if x["value"] > -math.inf and x["parent"] > 0]
    ratio = np.array([x["value"] / x["parent"] for x in ok])
    lines += [f"## A child against its parent ({len(children)} children: "
              f"{sum(x['source'] == 'mutation' for x in children)} mutations, "
              f"{sum(x['source'] == 'crossover' for x in children)} crossovers)", "",
              f"Failed trials: {sum(x['value'] == -math.inf for x in children)}. Child beats its parent: "
              f"{np.mean(ratio > 1):.0%}; child/parent score median {np.median(ratio):.2f}, below 0.5x in "
              f"{np.mean(ratio < 0.5):.0%}.", "",
              "| mutation section | children | beat parent | median child/parent | below 0.5x |", "|---|---|---|---|---|"]
    by_section: dict[str, list[float]] = defaultdict(list)
    by_op: dict[str, list[float]] = defaultdict(list)
    for x in ok:
        if x["source"] == "mutation":
            by_section[x["section"]].append(x["value"] / x["parent"])
            by_op[x["ops"][0] if x["ops"] else "?"].append(x["value"] / x["parent"])
    for sec, v in sorted(by_section.items()):
        lines.append(f"| {sec} | {len(v)} | {np.mean(np.array(v) > 1):.0%} | {np.median(v):.2f} | "
                     f"{np.mean(np.array(v) < 0.5):.0%} |")
    worst = sorted(((np.median(v), op, len(v)) for op, v in by_op.items() if len(v) >= 5))[:5]
    lines += ["", "Most harmful operators (at least 5 uses): " + ", ".join(
        f"`{op}` {m:.2f}x (n {n})" for m, op, n in worst) + ".", ""]
    # Growth of the best-so-far.
    lines += ["## Best-so-far, mean over the paired searches", "", "| programs | random | " + name + " |",
              "|---|---|---|"]
    length = min(len(runs[(t, p, s)]["rows"]) for t, s in keys for p in ("random", name))
    for k in [k for k in (8, 10, 14, 20, 26, 30, 40, 50, 60, 70, 80, 90, 100) if k <= length]:
        cells = [np.mean([runs[(t, p, s)]["rows"][k - 1]["best_valid"] for t, s in keys]) for p in ("random", name)]
        lines.append(f"| {k} | {cells[0]:.4f} | {cells[1]:.4f} |")
    # Expected gain per evaluation, state-matched.
    pool: dict[str, np.ndarray] = defaultdict(lambda: np.array([]))
    for (t, p, _), r in runs.items():
        if p == "random":
            pool[t] = np.concatenate([pool[t], [x["valid"] for x in r["rows"]]])
    gains: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    by_search: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for x in rows:
        by_search[(x["task"], x["seed"])].append(x)
    parents: list[tuple[bool, float]] = []
    for (t, _), xs in by_search.items():
        best = -math.inf
        for i, x in enumerate(xs):
            if "parent" in x:
                draw = float(np.mean(np.maximum(pool[t] - best, 0)))
                kind = "the best so far" if x["parent"] >= best - 1e-12 else "another member"
                parents.append((kind == "the best so far", x["parent"] / best if best > 0 else math.nan))
                labels = ["all children", f"{x['source']} of {kind}"]
                if length > 30:  # longer searches: does a child's worth change as the search goes on?
                    labels.append("children at programs 9-30" if i < 30 else f"children at programs 31-{length}")
                for label in labels:
                    gains[label].append((max(x["value"] - best, 0.0), draw, x["value"] > best))
            best = max(best, x["value"])
    lines += ["", "## Expected gain over the best-so-far, per evaluation", "",
              "A child's realised gain max(child - best so far, 0), against a fresh random draw's expected gain "
              "at the same best so far (the task's random programs, all seeds).", "",
              f"Children whose (first) parent is the search's best so far: {np.mean([a for a, _ in parents]):.0%}; "
              f"a parent's score is a median {np.nanmedian([b for _, b in parents]):.2f}x the best so far.", "",
              "| children | n | sets a new best | child's mean gain | a random draw's expected gain |",
              "|---|---|---|---|---|"]
    for label, v in sorted(gains.items()):
        a = np.array(v, dtype=float)
        lines.append(f"| {label} | {len(v)} | {a[:, 2].mean():.0%} | {a[:, 0].mean():.4f} | {a[:, 1].mean():.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("json", help="a design_search.json (or .json.gz)")
    p.add_argument("--proposer", default="evolution", help="the evolution search label to replay")
    p.add_argument("--out", default=None, help="markdown file (default: print)")
    args = p.parse_args(argv)
    text = report(read_json(args.json), args.proposer)
    if args.out:
        write_text_atomic(Path(args.out), text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
