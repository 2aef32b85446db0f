"""Design search at equal trial budgets: random, evolution, llm and llm-mutation proposers.

For each task and seed, each proposer gets the same number of programs (``--trials``), asked
``--generate`` at a time (the proposer hears the previous rounds' results), each trained for the
same ``--epochs`` by the live backend (in-process), on the same data. Recorded per search: the
best validation NDCG@10 so far and the test NDCG@10 of that program, against trials and against
compute (training seconds, and the proposer's own seconds: a language model's generation time);
for the language-model proposers the valid-reply rate and the share of distinct programs among
valid replies. The library's SASRec-CE at the same epochs and seeds is the reference row; the
summary reads smaller budgets (``--at``) as prefixes of each search and pairs every proposer with
``random`` seed by seed.

    python -m agenticrs.benchmarks.design_search --tasks syn-seq,syn-pop,syn-text,sci \
        --proposers random,evolution --trials 30 --seeds 5 --at 10,30
    python -m agenticrs.benchmarks.design_search --tasks syn-seq --proposers llm,llm-mutation \
        --trials 10 --seeds 3 --llm-model smollm2 --resume

Results are written after every search (``--resume`` adds searches to an existing file and skips
those it holds), to ``results/design/design_search.{json,md,png}``. Within one process a program
already trained on the same task with the same seed (random and evolution share their random
initial draws) is not trained again: its recorded result, seconds included, is reused. Searches
number ``s`` of task ``i`` (``list(TASKS)``) run with seed ``s + 1000 i`` (:func:`search_seed`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from agenticrs.benchmarks.common import RESULTS_DIR, machine_line, run_header, write_json_atomic, write_text_atomic
from agenticrs.io import read_json, sibling

TASKS = {
    "syn-seq": "synthetic:users=300,items=300,seq_strength=0.8,seed=1",
    "syn-pop": "synthetic:users=300,items=300,seq_strength=0.2,skew=1.4,seed=2",
    "syn-text": "synthetic:users=300,items=300,seq_strength=0.4,text_signal=1.0,seed=3",
    "sci": "subsample:scientific?users=1000,seed=0",
}
"""Task name -> dataset URI. ``sci``: 1,000 users of Amazon Industrial and Scientific (2,987 items),
about 1-3 s per program at 2 epochs on one thread."""
PROPOSERS = ("random", "evolution", "llm", "llm-mutation")
LLM_PROPOSERS = ("llm", "llm-mutation")


def search_seed(task: str, seed: int) -> int:
    """The proposers' and the training seed of a task's searches number ``seed``: the same for every
    proposer on that task (the pairing), different across tasks (else seed ``s`` draws the same random
    programs on every task and the tasks' comparisons are not independent)."""
    return seed + 1000 * list(TASKS).index(task)


def describe(name: str, dataset: Any) -> str:
    """The task description a language model reads."""
    lengths = [len(s) for s in dataset.split().train] if hasattr(dataset, "split") else []
    mean = f", mean history length {np.mean(lengths):.1f}" if lengths else ""
    return (f"next-item recommendation on {name}: {dataset.n_users} users, {dataset.n_items} items{mean}; "
            f"maximise validation NDCG@10 after a short fixed training budget")


class MemoEvaluator:
    """Programs evaluated by a backend, each (task, program, fidelity, seed) trained once per process.

    The searches of one seed share their training seed, so a program two proposers both ask (random
    and evolution draw the same initial population) gives the same result; the reused result keeps
    its recorded seconds, so every search is charged the compute its programs cost."""

    def __init__(self, memo: dict[tuple, Any], backend: Any, task: Any):
        from agenticrs.policies.proposers import BackendEvaluator

        self.memo, self.inner, self.task = memo, BackendEvaluator(backend, task), task
        self.reused = 0

    def __call__(self, program: Any, fidelity: float, seed: int) -> Any:
        from agenticrs.recsys.design import program_hash

        key = (self.task.name, program_hash(program), round(float(fidelity), 6), int(seed))
        if key in self.memo:
            self.reused += 1
            return self.memo[key]
        result = self.memo[key] = self.inner(program, fidelity, seed)
        return result


def run_search(task: str, uri: str, dataset: Any, proposer_name: str, seed: int, trials: int,
               args: argparse.Namespace, memo: dict[tuple, Any], model: Any = None,
               variant: tuple[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """One search; ``variant``: ``(proposer, constructor kwargs)`` run under the label ``proposer_name``."""
    from agenticrs.envs.backends.live import LiveBackend
    from agenticrs.envs.core import Task
    from agenticrs.envs.knowledge import KnowledgeStore
    from agenticrs.policies.proposers import DesignTask, PipelineConfig, make_proposer, run_pipeline
    from agenticrs.recsys.design import to_text

    load_before, wall = os.getloadavg()[0], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:  # one store per search: no search sees another's programs
        store = KnowledgeStore(Path(tmp) / "k.sqlite")
        backend = LiveBackend(store, timeout_s=None, isolate=False, datasets={uri: dataset},
                              setup_modules=("agenticrs.recsys.design",), agent=proposer_name, env="design-search")
        dtask = DesignTask(task, describe(task, dataset), n_items=dataset.n_items, fixed={"epochs": args.epochs})
        base, extra = variant or (proposer_name, {})
        kwargs = ({"model": model, "max_tokens": args.llm_max_tokens, "max_attempts": args.llm_attempts,
                   "max_resample": 0} if base in LLM_PROPOSERS else {})
        proposer = make_proposer(base, **kwargs, **extra)
        rounds = math.ceil(trials / args.generate)
        config = PipelineConfig(rounds=rounds, generate=args.generate, select=args.generate)

        def line(row: Any) -> None:
            print(f"  {task} {proposer_name} seed {seed} #{row.trial} {row.source:12s} {row.status} "
                  f"valid {row.valid:.4f} best {row.best_valid:.4f} ({row.seconds:.1f}s train, "
                  f"{row.propose_seconds:.0f}s proposing)", file=sys.stderr, flush=True)

        evaluator = MemoEvaluator(memo, backend, Task(task, uri))
        trace = run_pipeline(proposer, evaluator, dtask, config, seed, store=store,
                             run_id=f"{task}-{proposer_name}-{seed}", on_row=line)
        out = trace.to_dict()
        out["rows"] = out["rows"][:trials]
        if proposer_name in LLM_PROPOSERS:  # what the model actually wrote, for the report
            out["replies"] = [{k: (str(d.info.get(k))[:400] if d.info.get(k) is not None else None)
                               for k in ("prompt_id", "response", "valid", "error", "rejected", "seconds")}
                              for d in store.decisions(run_id=f"{task}-{proposer_name}-{seed}")
                              if d.info.get("event") == "llm_call"]
        out.update(task=task, trials=trials, reused=evaluator.reused, proposer=proposer_name,
                   variant={"proposer": base, "kwargs": extra} if variant else None,
                   best_program_text=to_text(trace.best_program) if trace.best_program else None,
                   load=[load_before, os.getloadavg()[0]], wall_seconds=time.perf_counter() - wall)
        return out


def reference(dataset: Any, seed: int, epochs: int) -> dict[str, float]:
    """The library's SASRec-CE at the same epochs: the row the best discovered program is read beside."""
    import dataclasses

    from agenticrs.recsys.design import LIBRARY, run_program

    p = LIBRARY["sasrec_ce"]
    p = dataclasses.replace(p, train=dataclasses.replace(p.train, epochs=epochs))
    r = run_program(dataset, p, seed=seed, progress=False)
    return {"seed": seed, "valid": r.valid["ndcg@10"], "test": r.test["ndcg@10"], "seconds": r.cost["train_seconds"]}


# ---------------------------------------------------------------------- summary
def _finite(values: Sequence[float]) -> list[float]:
    return [x for x in values if x == x and x > -math.inf]


def _ms(values: Sequence[float]) -> str:
    v = _finite(values)
    if not v:
        return "-"
    return f"{np.mean(v):.4f} ± {np.std(v, ddof=1) if len(v) > 1 else 0.0:.4f}"


def best_at(rows: list[dict[str, Any]], k: int) -> tuple[float, float]:
    """Best validation NDCG@10 within the first ``k`` trials and the test NDCG@10 of that program
    (NaN: the search had fewer than ``k`` trials)."""
    if len(rows) < k:
        return math.nan, math.nan
    return rows[k - 1]["best_valid"], rows[k - 1]["best_test"]


def compute_at(rows: list[dict[str, Any]], k: int) -> tuple[float, float]:
    """(training seconds, proposer seconds) spent on the first ``k`` programs (NaN: fewer trials)."""
    if len(rows) < k:
        return math.nan, math.nan
    return rows[k - 1]["cum_seconds"], rows[k - 1]["propose_seconds"]


def own_best(rows: list[dict[str, Any]], k: int) -> float:
    """Best validation NDCG@10 among the first ``k`` programs the proposer wrote itself (random
    substitutes, made when it could not offer a new valid program, left out)."""
    own = [r["valid"] for r in rows[:k] if r["source"] != "substitute" and r["status"] == "ok"]
    return max(own) if own else math.nan


def paired(results: dict[str, Any], name: str, k: int, split: str, tasks: Sequence[str] | None = None,
           against: str = "random") -> dict[str, Any]:
    """``name`` minus ``against`` at ``k`` programs, paired by (task, seed): mean difference, how
    many pairs ``name`` is ahead / behind, and a paired t-test (two-sided)."""
    index = {(r["task"], r["proposer"], r["seed"]): r for r in results["runs"]}
    a, b = [], []
    for (task, prop, seed), run in index.items():
        if prop != name or (tasks is not None and task not in tasks) or (task, against, seed) not in index:
            continue
        x = best_at(run["rows"], k)[split == "test"]
        y = best_at(index[(task, against, seed)]["rows"], k)[split == "test"]
        if x == x and y == y:
            a.append(x)
            b.append(y)
    return _differences(a, b)


def _differences(a: list[float], b: list[float]) -> dict[str, Any]:
    """Paired ``a - b``: mean difference, pairs ahead / behind, two-sided paired t-test p, relative to ``b``."""
    from scipy.stats import ttest_rel

    if not a:
        return {"n": 0}
    d = np.array(a) - np.array(b)
    p = float(ttest_rel(a, b).pvalue) if len(a) > 1 and np.any(d != d[0]) else math.nan
    return {"n": len(a), "mean_diff": float(d.mean()), "ahead": int((d > 0).sum()), "behind": int((d < 0).sum()),
            "p": p, "relative": float(d.mean() / np.mean(b)) if np.mean(b) else math.nan}


def budget_at_compute(rows: list[dict[str, Any]], seconds: float) -> tuple[int, bool]:
    """How many of a search's programs fit in ``seconds`` of compute (training plus proposing),
    at least one, and whether the search ran out of programs before it ran out of seconds."""
    spent = [r["cum_seconds"] + r["propose_seconds"] for r in rows]
    k = max(1, sum(1 for x in spent if x <= seconds))
    return k, k == len(rows) and spent[-1] < seconds


def paired_compute(results: dict[str, Any], name: str, k: int, split: str,
                   against: str = "random") -> dict[str, Any]:
    """``name`` after ``k`` programs minus ``against`` after the same compute (its programs whose
    training and proposing seconds fit in what ``name`` spent), paired by (task, seed). ``capped``:
    pairs where ``against``'s whole search cost less than ``name``'s ``k`` programs, so it is
    compared with less compute than ``name`` had (the comparison then favours ``name``)."""
    index = {(r["task"], r["proposer"], r["seed"]): r for r in results["runs"]}
    a, b, budgets, capped = [], [], [], 0
    for (task, prop, seed), run in index.items():
        if prop != name or (task, against, seed) not in index:
            continue
        cost = sum(compute_at(run["rows"], k))
        if cost != cost:
            continue
        other = index[(task, against, seed)]["rows"]
        kk, short = budget_at_compute(other, cost)
        x, y = best_at(run["rows"], k)[split == "test"], best_at(other, kk)[split == "test"]
        if x == x and y == y:
            a.append(x)
            b.append(y)
            budgets.append(kk)
            capped += short
    out = _differences(a, b)
    return {**out, "budget": float(np.mean(budgets)), "capped": capped} if a else out


def _p(p: float) -> str:
    return f"{p:.3f}" if p == p else "-"


def _settings_line(results: dict[str, Any]) -> list[str]:
    lines = []
    for inv in results["invocations"]:
        a = inv["args"]
        lines.append(f"- `{inv['header']['command']}`  \n  {inv['header']['date']}, {inv.get('seconds', 0):.0f} s wall, "
                     f"load average {inv['load'][0]:.1f} at start and {inv.get('load_end', [math.nan])[0]:.1f} at end; "
                     f"proposers {a['proposers']}{''.join(f', variant `{v}`' for v in a.get('variant', []))}, tasks "
                     f"{a['tasks']}, seeds {a.get('first_seed', 0)}-{a.get('first_seed', 0) + a['seeds'] - 1}, "
                     f"{a['trials']} programs per "
                     f"search" + (f", language model `{inv['llm_model']}` (at most {a['llm_attempts']} calls of "
                                  f"{a['llm_max_tokens']} tokens per proposal)" if inv.get("llm_model") else ""))
    return lines


def summarise(results: dict[str, Any]) -> str:
    s = results["settings"]
    at = s["at"]
    machine = machine_line(results["invocations"][0]["header"]["machine"])
    lines = [
        "# Design search: random vs evolution vs language-model proposers", "",
        f"Machine: {machine}; 2 cores shared with other jobs (wall-clock seconds are inflated by the load "
        f"recorded below). Every program trains {s['epochs']} epochs; proposers ask {s['generate']} programs per "
        f"round and hear the results before the next round. Tasks: "
        + "; ".join(f"`{t}` = `{s['task_uris'][t]}`" for t in s["tasks"]) + ".", "",
        "Runs:", "", *_settings_line(results), "",
    ]
    head = ["task", "proposer", "searches"]
    for k in at:
        head += [f"best valid N@10 @{k}", "its test N@10", f"train s @{k}", f"proposer s @{k}"]
    head += ["valid replies", "distinct", "substituted", f"own programs' best @{at[0]}"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for task in s["tasks"]:
        ref = results["reference"].get(task, [])
        if ref:
            cells = [task, "sasrec_ce (library, reference)", str(len(ref))]
            for _ in at:
                cells += [_ms([r["valid"] for r in ref]), _ms([r["test"] for r in ref]),
                          f"{np.mean([r['seconds'] for r in ref]):.0f}", "-"]
            lines.append("| " + " | ".join(cells + ["-", "-", "-", "-"]) + " |")
        for name in s["proposers"]:
            runs = [r for r in results["runs"] if r["task"] == task and r["proposer"] == name]
            if not runs:
                continue
            cells = [task, name, str(len(runs))]
            for k in at:
                best = [best_at(r["rows"], k) for r in runs]
                comp = [compute_at(r["rows"], k) for r in runs]
                train = _finite([c[0] for c in comp])
                prop = _finite([c[1] for c in comp])
                cells += [_ms([b[0] for b in best]), _ms([b[1] for b in best]),
                          f"{np.mean(train):.0f}" if train else "-", f"{np.mean(prop):.0f}" if prop else "-"]
            st = [r["stats"] for r in runs]
            if name in LLM_PROPOSERS:
                calls = sum(x["llm_calls"] for x in st)
                valid = sum(x["valid_replies"] for x in st)
                shares = [x["distinct_share"] for x in st if x["distinct_share"] == x["distinct_share"]]
                cells += [f"{valid}/{calls} ({valid / calls:.0%})" if calls else "-",
                          f"{np.mean(shares):.0%}" if shares else "-"]
            else:
                cells += ["-", "-"]
            cells.append(f"{sum(x['substitutions'] for x in st)}/{sum(len(r['rows']) for r in runs)}")
            cells.append(_ms([own_best(r["rows"], at[0]) for r in runs]) if any(x["substitutions"] for x in st) else "-")
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "*best valid N@10 @k*: the best validation NDCG@10 among the first k programs of a search "
              "(mean ± std over searches; '-': no search reached k programs); *its test N@10*: the test NDCG@10 of "
              "that program; *train s* / *proposer s*: seconds per search spent training / proposing its first k "
              "programs (the language model's first call includes loading it); *valid replies*: model replies that "
              "parsed and validated, of all calls (repairs included); *distinct*: share of distinct programs among "
              "valid replies; *substituted*: proposals the proposer could not make (no new valid program within its "
              "attempts) that the base class replaced by a random grammar sample (an `llm-mutation` parent may be one); "
              "*own programs' best*: the best validation NDCG@10 among the programs the proposer wrote itself, "
              "substitutes left out ('-': no substitutes).", ""]
    # Paired comparisons against random.
    others = [n for n in s["proposers"] if n != "random"]
    if "random" in s["proposers"] and others:
        lines += ["## Paired by seed against `random`", "",
                  "Same task, same seed, same training seed: the difference of the best program's NDCG@10 "
                  "(proposer minus random), how many pairs the proposer is ahead / behind, and a two-sided paired "
                  "t-test.", "",
                  "| proposer | tasks | k | pairs | valid: mean diff | ahead/behind | p | test: mean diff | "
                  "ahead/behind | p |", "|---|---|---|---|---|---|---|---|---|---|"]
        for name in others:
            for scope in [None, *s["tasks"]]:
                tasks = None if scope is None else [scope]
                for k in at:
                    v, t = paired(results, name, k, "valid", tasks), paired(results, name, k, "test", tasks)
                    if not v["n"]:
                        continue
                    lines.append(
                        f"| {name} | {scope or 'all'} | {k} | {v['n']} | {v['mean_diff']:+.4f} ({v['relative']:+.0%}) | "
                        f"{v['ahead']}/{v['behind']} | {_p(v['p'])} | {t['mean_diff']:+.4f} ({t['relative']:+.0%}) | "
                        f"{t['ahead']}/{t['behind']} | {_p(t['p'])} |")
        lines.append("")
        lines += ["## At equal compute against `random`", "",
                  "The proposer after k programs against `random` after the same seconds (training plus proposing: "
                  "a language model's generation counts), same task and seed. *random's programs*: how many of "
                  "random's programs fit in that compute, mean over pairs; *capped*: pairs where random's whole search "
                  "cost less, so random had less compute than the proposer. Seconds are wall-clock under the load of their run "
                  "(see Runs): proposers run in different invocations are timed under different loads (a shared "
                  "program can cost random twice what it cost the other), so read only gaps larger than that, such as "
                  "a language model's generation.", "",
                  "| proposer | k | pairs | random's programs | capped | valid: mean diff | ahead/behind | p | "
                  "test: mean diff | p |", "|---|---|---|---|---|---|---|---|---|---|"]
        for name in others:
            for k in at:
                v, t = paired_compute(results, name, k, "valid"), paired_compute(results, name, k, "test")
                if v["n"]:
                    lines.append(f"| {name} | {k} | {v['n']} | {v['budget']:.1f} | {v['capped']} | "
                                 f"{v['mean_diff']:+.4f} | {v['ahead']}/{v['behind']} | {_p(v['p'])} | "
                                 f"{t['mean_diff']:+.4f} | {_p(t['p'])} |")
        lines.append("")
    # What evolution adds to the random programs it starts from.
    evolutions = [n for n in s["proposers"] if n == "evolution" or any(
        (r.get("variant") or {}).get("proposer") == "evolution" for r in results["runs"] if r["proposer"] == n)]
    rnd = {(r["task"], r["seed"]): r for r in results["runs"] if r["proposer"] == "random"}
    for evo_name in evolutions:
        evo = {(r["task"], r["seed"]): r for r in results["runs"] if r["proposer"] == evo_name}
        both = sorted(set(evo) & set(rnd), key=lambda ts: (s["tasks"].index(ts[0]), ts[1]))
        if not both:
            continue
        lines += [f"## `{evo_name}` after its initial population, seed by seed", "",
                  "Evolution's initial population is the first random draws of its seed, the same programs the "
                  "`random` search of that seed evaluates first; after it, `random` draws fresh programs and "
                  "evolution breeds children. Best validation NDCG@10 of the shared initial programs, then of "
                  "each search at its full budget.", "",
                  f"| task | seed | initial programs | their best | random (fresh draws) | {evo_name} (children) | "
                  "ahead |", "|---|---|---|---|---|---|---|"]
        for key in both:
            e, r = evo[key], rnd[key]
            n = sum(1 for row in e["rows"] if row["source"] == "random")
            shared = max((row["valid"] for row in e["rows"][:n]), default=math.nan)
            k = min(len(e["rows"]), len(r["rows"]))
            ev, rv = best_at(e["rows"], k)[0], best_at(r["rows"], k)[0]
            lines.append(f"| {key[0]} | {key[1]} | {n} | {shared:.4f} | {rv:.4f} | {ev:.4f} | "
                         f"{evo_name if ev > rv else 'random' if rv > ev else 'tie'} |")
        lines.append("")
    # The best discovered programs beside SASRec-CE.
    lines += ["## Best discovered program per task, beside SASRec-CE", "",
              "The program with the best validation NDCG@10 over every search of the task (selection on "
              "validation only), its test NDCG@10, and the library SASRec-CE at the same epochs and seed.", "",
              "| task | model | found by | seed | valid N@10 | test N@10 |", "|---|---|---|---|---|---|"]
    best_programs = []
    for task in s["tasks"]:
        runs = [r for r in results["runs"] if r["task"] == task and r["best_program_text"]]
        if not runs:
            continue
        best = max(runs, key=lambda r: r["rows"][-1]["best_valid"])
        top = max((row for row in best["rows"] if row["status"] == "ok"), key=lambda row: row["valid"])
        ref = {r["seed"]: r for r in results["reference"].get(task, [])}.get(best["seed"])
        if ref:
            lines.append(f"| {task} | SASRec-CE (library) | - | {best['seed']} | {ref['valid']:.4f} | {ref['test']:.4f} |")
        lines.append(f"| {task} | best discovered program | {best['proposer']} ({top['source']}, program "
                     f"{top['trial']}) | {best['seed']} | {top['valid']:.4f} | {top['test']:.4f} |")
        best_programs += [f"Best program on {task} ({best['proposer']} search, seed {best['seed']}, written by "
                          f"{top['source']}, program {top['trial']} of {len(best['rows'])}):", "", "```",
                          best["best_program_text"].rstrip(), "```", ""]
    lines += ["", *best_programs]
    replies = [(r["proposer"], x) for r in results["runs"] for x in r.get("replies", [])]
    if replies:
        lines += ["Some of the language model's replies (raw, as recorded in the KnowledgeStore):", ""]
        for name, x in replies[:8]:
            verdict = "valid" if x["valid"] == "True" and not x["rejected"] else (x["rejected"] or x["error"] or "")
            reply = " ".join((x["response"] or "").split())  # one line in the list
            lines.append(f"- {name} `{x['prompt_id']}` ({float(x['seconds'] or 0):.0f} s): `{reply}` "
                         f"-> {verdict}")
        lines.append("")
    return "\n".join(lines) + "\n"


def method_markdown(program: Any, title: str, note: str, baseline: str = "sasrec_ce") -> str:
    """``program`` as a method description for ``agenticrs paper-autotrain`` (``benchmarks/methods``
    form): ``block`` lines for its block list and ``set`` lines for every other field that differs
    from ``baseline`` (``train.epochs`` left to paper-autotrain's equal-budget ``--epochs``)."""
    from agenticrs.policies.paper_autotrain import _block_text
    from agenticrs.recsys.design import LIBRARY, to_dict

    base, mine = to_dict(LIBRARY[baseline]), to_dict(program)
    sets = [f"{k}={json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v}"
            for k, v in mine.items() if k not in ("name", "blocks") and not isinstance(v, dict) and v != base[k]]
    for section, fields in mine.items():
        if isinstance(fields, dict) and section != "blocks":
            for k, v in fields.items():
                if v != base[section][k] and (section, k) != ("train", "epochs"):
                    value = str(v).lower() if isinstance(v, bool) else json.dumps(v) if isinstance(v, str) else v
                    sets.append(f"{section}.{k}={value}")
    body = [f"# {title}", "", note, "", "```agenticrs-method"]
    body += [f"block {_block_text(b)}" for b in program.blocks]
    body += [f"set {x}" for x in sets]
    return "\n".join(body + ["```", ""])


def export_best(results: dict[str, Any], task: str, path: Path, source: Path) -> None:
    """Write the best program found on ``task`` (by validation NDCG@10) as a method file."""
    from agenticrs.recsys.design import parse

    runs = [r for r in results["runs"] if r["task"] == task and r["best_program_text"]]
    if not runs:
        raise SystemExit(f"no search on task {task!r} in {source}")
    best = max(runs, key=lambda r: r["rows"][-1]["best_valid"])
    row = max((x for x in best["rows"] if x["status"] == "ok"), key=lambda x: x["valid"])
    note = (f"The best program a design search found on `{task}` ({results['settings']['task_uris'][task]}, "
            f"{results['settings']['epochs']} epochs per program): the {best['proposer']} search with seed "
            f"{best['seed']}, program {row['trial']} of {len(best['rows'])} (written by {row['source']}), validation "
            f"NDCG@10 {row['valid']:.4f}, test {row['test']:.4f}. Source: `{source}` "
            f"(`benchmarks/design_search.py --export-best`).")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, method_markdown(parse(best["best_program_text"]), f"Design search: best program on {task}",
                                            note))
    print(f"wrote {path}", file=sys.stderr)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    tasks = results["settings"]["tasks"]
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.5 * len(tasks), 7), squeeze=False)
    for j, task in enumerate(tasks):
        ref = results["reference"].get(task, [])
        for i, name in enumerate(results["settings"]["proposers"]):
            runs = [r for r in results["runs"] if r["task"] == task and r["proposer"] == name]
            if not runs:
                continue
            n, color = min(len(r["rows"]) for r in runs), f"C{i}"  # one colour per proposer in every panel
            best = np.array([[max(row["best_valid"], 0) for row in r["rows"][:n]] for r in runs])
            axes[0, j].plot(range(1, n + 1), best.mean(0), marker=".", color=color, label=f"{name} ({len(runs)})")
            compute = np.array([[row["cum_seconds"] + row["propose_seconds"] for row in r["rows"][:n]] for r in runs])
            axes[1, j].plot(compute.mean(0), best.mean(0), marker=".", color=color, label=name)
        for i in range(2):
            if ref:
                axes[i, j].axhline(np.mean([r["valid"] for r in ref]), color="grey", ls="--", label="SASRec-CE")
            axes[i, j].set_ylabel("best valid NDCG@10 (mean over seeds)")
        axes[0, j].set_title(task)
        axes[0, j].set_xlabel("programs evaluated")
        axes[1, j].set_xlabel("seconds (training + proposing)")
        axes[1, j].set_xscale("log")
        axes[1, j].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for j in range(len(tasks)):
        axes[0, j].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "design_search.json", results)
    write_text_atomic(out / "design_search.md", summarise(results))
    plot(results, out / "design_search.png")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="syn-seq,syn-pop", help=f"comma-separated, of {', '.join(TASKS)}")
    p.add_argument("--proposers", default=",".join(PROPOSERS))
    p.add_argument("--variant", action="append", default=[], metavar="LABEL=PROPOSER:JSON",
                   help="also run PROPOSER with constructor arguments JSON under LABEL, e.g. "
                        "'evolution-t8=evolution:{\"sample\": 8}' (repeatable)")
    p.add_argument("--trials", type=int, default=8, help="programs per search")
    p.add_argument("--at", default=None, help="budgets reported as prefixes of each search (default: half, all)")
    p.add_argument("--generate", type=int, default=2, help="programs asked per round")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--first-seed", type=int, default=0, help="search seeds FIRST .. FIRST+SEEDS-1 (fresh seeds for "
                                                             "a confirmation run)")
    p.add_argument("--epochs", type=int, default=2, help="training epochs of every program")
    p.add_argument("--llm-model", default="smollm2", help="smollm2 | standin | http")
    p.add_argument("--llm-max-tokens", type=int, default=120, help="most tokens of one model reply")
    p.add_argument("--llm-attempts", type=int, default=2,
                   help="model calls per proposal (first try + repairs / retries), then a random substitute")
    p.add_argument("--llm-cache", default=str(Path(tempfile.gettempdir()) / "agenticrs-llm-cache"))
    p.add_argument("--out", default=str(RESULTS_DIR / "design"))
    p.add_argument("--resume", action="store_true",
                   help="add to the results in --out (same epochs and round size), skipping searches already there")
    p.add_argument("--summarise", default=None, metavar="JSON",
                   help="only rewrite the markdown summary (and plot) of a run's JSON")
    p.add_argument("--export-best", nargs=2, metavar=("TASK", "METHOD_MD"), default=None,
                   help="write the best program found on TASK (in --summarise JSON, else --out's) as a method "
                        "description for `agenticrs paper-autotrain` and stop")
    args = p.parse_args(argv)
    if args.export_best:
        source = Path(args.summarise) if args.summarise else Path(args.out) / "design_search.json"
        export_best(read_json(source), args.export_best[0], Path(args.export_best[1]), source)
        return 0
    if args.summarise:
        results = read_json(args.summarise)  # .json or .json.gz (committed long runs are compressed)
        write_text_atomic(sibling(args.summarise, ".md"), summarise(results))
        plot(results, sibling(args.summarise, ".png"))
        return 0

    tasks = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        p.error(f"unknown task(s) {unknown}; tasks: {', '.join(TASKS)}")
    proposers = [x for x in args.proposers.split(",") if x]
    bad = [x for x in proposers if x not in PROPOSERS]
    if bad:
        p.error(f"unknown proposer(s) {bad}; proposers: {', '.join(PROPOSERS)}")
    variants: dict[str, tuple[str, dict[str, Any]]] = {}
    for spec in args.variant:
        label, _, rest = spec.partition("=")
        base, _, kwargs = rest.partition(":")
        if not label or base not in PROPOSERS or label in PROPOSERS:
            p.error(f"--variant {spec!r}: expected LABEL=PROPOSER:JSON with a new LABEL and PROPOSER of "
                    f"{', '.join(PROPOSERS)}")
        try:
            variants[label] = (base, json.loads(kwargs or "{}"))
        except json.JSONDecodeError as e:
            p.error(f"--variant {spec!r}: the arguments are not JSON ({e})")
    proposers += list(variants)
    at = sorted({int(k) for k in args.at.split(",")}) if args.at else sorted({max(1, args.trials // 2), args.trials})
    out = Path(args.out)

    import torch

    from agenticrs.policies.llm import make_model
    from agenticrs.recsys.data import load_dataset

    torch.set_num_threads(1)
    bases = [variants.get(x, (x, {}))[0] for x in proposers]
    model = make_model(args.llm_model, cache=args.llm_cache) if any(x in LLM_PROPOSERS for x in bases) else None
    invocation = {"header": run_header(), "args": vars(args), "load": list(os.getloadavg()),
                  "llm_model": model.describe() if model else None}
    results: dict[str, Any] = {"settings": {"tasks": [], "task_uris": {}, "proposers": [], "generate": args.generate,
                                            "epochs": args.epochs, "at": at},
                               "invocations": [], "runs": [], "reference": {}}
    if args.resume and (out / "design_search.json").exists():
        results = json.loads((out / "design_search.json").read_text())
        old = results["settings"]
        if (old["epochs"], old["generate"]) != (args.epochs, args.generate):
            p.error(f"--resume: {out / 'design_search.json'} has epochs {old['epochs']} and generate "
                    f"{old['generate']}; this run asks {args.epochs} and {args.generate}")
        old["at"] = sorted(set(old["at"]) | set(at))
    s = results["settings"]
    s["tasks"] += [t for t in tasks if t not in s["tasks"]]
    s["task_uris"].update({t: TASKS[t] for t in tasks})
    known = set(s["proposers"]) | set(proposers)
    s["proposers"] = [x for x in PROPOSERS if x in known] + [x for x in [*s["proposers"], *proposers]
                                                             if x not in PROPOSERS and x in known]
    s["proposers"] = list(dict.fromkeys(s["proposers"]))
    results["invocations"].append(invocation)
    done = {(r["task"], r["proposer"], r["seed"]) for r in results["runs"] if r["trials"] >= args.trials}
    start, datasets, memo = time.perf_counter(), {}, {}
    for seed in range(args.first_seed, args.first_seed + args.seeds):  # seeds outermost: a run cut short still covers every task and proposer
        for task in tasks:
            if task not in datasets:
                datasets[task] = load_dataset(TASKS[task])
            refs = results["reference"].setdefault(task, [])
            if seed not in {r["seed"] for r in refs}:
                refs.append({**reference(datasets[task], search_seed(task, seed), args.epochs), "seed": seed,
                             "search_seed": search_seed(task, seed)})
            for name in proposers:
                if (task, name, seed) in done:
                    continue
                run = run_search(task, TASKS[task], datasets[task], name, search_seed(task, seed), args.trials, args,
                                 memo, model, variants.get(name))
                run.update(seed=seed, search_seed=search_seed(task, seed))
                results["runs"] = [r for r in results["runs"] if (r["task"], r["proposer"], r["seed"]) != (task, name, seed)]
                results["runs"].append(run)
                invocation.update(seconds=time.perf_counter() - start, load_end=list(os.getloadavg()))
                write(results, out)  # partial results after every search
    invocation.update(seconds=time.perf_counter() - start, load_end=list(os.getloadavg()))
    write(results, out)
    print(summarise(results))
    print(f"total {invocation['seconds']:.0f}s; wrote {out / 'design_search.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
