"""Paired seed-by-seed comparison of two rows of the generative benchmark, from committed run files.

``generative_beauty`` averages one row over seeds that share every setting. A comparison of
LWGR with TIGER is paired by seed, and its pairs may come from different run directories: on
Beauty at dropout 0.1 seed 0 was paired in bf16 and seeds 1-2 in fp32, on a machine without
native bf16. This module reads those pairs (it trains nothing) and writes one table with the
per-seed numbers, the mean difference, on how many seeds the candidate is ahead and a paired
t-test (``scipy.stats.ttest_rel``) on test and validation NDCG@10 and test Recall@10.

Each ``--pair BASE:CAND:SEEDS`` names two run directories (``<out>/BASE_runs``,
``<out>/CAND_runs``) and the seeds paired from them:

    python -m agenticrs.benchmarks.paired --data beauty --rows tiger,lwgr \\
        --pair generative_beauty_dropout:generative_beauty_dropout_kw0.5:0 \\
        --pair generative_beauty_dropout_fp32:generative_beauty_dropout_fp32_kw0.5:1,2 \\
        --name generative_beauty_dropout_pairs

The two runs of a pair must share every training setting (seed, device and logging aside) and
every model setting the baseline has; otherwise the pair is refused, naming the settings. Settings
that differ *between* pairs (say the precision) are allowed and listed under the table, with the
machines, since the reader must know that the seeds were not all run alike. A pair whose two
runs were made on different machines (the machine is not a setting, so it is not refused) is
listed with both machines, since a speed or precision difference between the CPUs is then a
confound inside the pair. A run file that does not exist is named under the table, and the statistics use the complete pairs only.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agenticrs.benchmarks.common import (
    RESULTS_DIR, data_slug, machine_line, run_header, write_json_atomic, write_text_atomic,
)
from agenticrs.benchmarks.generative_beauty import run_settings, settings_diff

COMPARED = (("test", "ndcg@10"), ("valid", "ndcg@10"), ("test", "recall@10"))
"""The (split, metric) pairs each comparison reports; the first is the verdict's."""


@dataclass(frozen=True)
class PairSpec:
    """Seeds whose baseline runs are in ``<out>/<base>_runs`` and candidate runs in ``<out>/<cand>_runs``."""

    base: str
    cand: str
    seeds: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> PairSpec:
        """``"BASE:CAND:0,1"`` -> ``PairSpec("BASE", "CAND", (0, 1))``; a malformed spec names itself."""
        parts = text.split(":")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise SystemExit(f"--pair expects BASE:CAND:SEEDS (two run names and comma-separated seeds), got {text!r}")
        try:
            seeds = tuple(int(s) for s in parts[2].split(","))
        except ValueError:
            raise SystemExit(f"--pair {text!r}: seeds must be comma-separated integers") from None
        return cls(parts[0].strip(), parts[1].strip(), seeds)


def load_pairs(out: Path, data: str, rows: tuple[str, str], specs: list[PairSpec]
               ) -> tuple[dict[int, tuple[dict[str, Any], dict[str, Any]]], list[str]]:
    """The complete pairs by seed, and the run files that do not exist.

    Refuses (``SystemExit``) a seed named twice, a run file of another dataset, seed or model,
    and a pair whose runs differ in a training setting or a model setting the baseline has.
    """
    pairs: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    missing: list[str] = []
    seen: set[int] = set()
    for spec in specs:
        for seed in spec.seeds:
            if seed in seen:
                raise SystemExit(f"seed {seed} is named by more than one --pair")
            seen.add(seed)
            runs = []
            for name, row in ((spec.base, rows[0]), (spec.cand, rows[1])):
                path = out / f"{name}_runs" / f"{data_slug(data)}-{row}-seed{seed}.json"
                if not path.exists():
                    missing.append(str(path.relative_to(out)))
                    continue
                try:
                    run = json.loads(path.read_text())
                except json.JSONDecodeError as e:
                    raise SystemExit(f"{path}: not a generative benchmark run file ({e})") from None
                lacking = [k for k in ("data", "seed", "config", "test", "valid") if not isinstance(run, dict) or k not in run]
                if lacking:
                    raise SystemExit(f"{path}: not a generative benchmark run file (no {lacking})")
                held = (run["data"], run["seed"])
                if held != (data, seed):
                    raise SystemExit(f"{path}: holds {held[0]} seed {held[1]}, expected {data} seed {seed}")
                runs.append(run)
            if len(runs) == 2:
                check_pair(*runs, where=f"{data} seed {seed}")
                pairs[seed] = (runs[0], runs[1])
    return dict(sorted(pairs.items())), missing


def check_pair(base: dict[str, Any], cand: dict[str, Any], where: str) -> None:
    """The two runs of a pair differ only in the candidate's own model settings (its extra fields)."""
    b, c = run_settings(base), run_settings(cand)
    diff = [k for k in settings_diff(b, c) if k in b]  # every training setting, and the baseline's model ones
    if diff:
        raise SystemExit(f"{where}: the baseline and candidate runs differ in {diff} "
                         f"({', '.join(f'{k}: {b.get(k)!r} vs {c.get(k)!r}' for k in diff)}); they are not a pair")


def between_pairs(pairs: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Settings and machine facts whose value is not the same for every seed: ``{key: {seed: value}}``."""
    facts: dict[int, dict[str, Any]] = {}
    for seed, (base, cand) in pairs.items():
        m = base.get("machine", {})
        # The candidate's settings include its own model fields (the shared ones equal the baseline's).
        facts[seed] = {**run_settings(cand), "machine.cpu_capability": m.get("cpu_capability"),
                       "machine.cpu_bf16": m.get("cpu_bf16"), "machine.cpu": m.get("cpu")}
    keys = sorted({k for f in facts.values() for k in f})
    return {k: {s: f.get(k) for s, f in facts.items()} for k in keys
            if len({json.dumps(f.get(k), sort_keys=True) for f in facts.values()}) > 1}


def machines_within_pairs(pairs: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> dict[int, tuple[str, str]]:
    """The pairs whose baseline and candidate ran on different machines: ``{seed: (base, cand)}``,
    each machine as ``machine_line`` writes it (a run file without one reads "unknown")."""
    lines = {seed: tuple(machine_line(r["machine"]) if r.get("machine") else "unknown" for r in pair)
             for seed, pair in pairs.items()}
    return {seed: (b, c) for seed, (b, c) in lines.items() if b != c}


def compare(pairs: dict[int, tuple[dict[str, Any], dict[str, Any]]], split: str, metric: str) -> dict[str, Any]:
    """Baseline and candidate ``split``/``metric`` over the paired seeds.

    Returns the per-seed values, both means (and sample stds), the relative difference of the
    means, the seeds the candidate is ahead on, and the paired t-test (two-sided; None below
    two pairs or when every difference is the same).
    """
    from scipy import stats

    seeds = list(pairs)
    base = [pairs[s][0][split][metric] for s in seeds]
    cand = [pairs[s][1][split][metric] for s in seeds]
    out: dict[str, Any] = {"split": split, "metric": metric, "seeds": seeds, "baseline": base, "candidate": cand,
                           "ahead": sum(c > b for b, c in zip(base, cand)), "n": len(seeds), "t": None, "p": None}
    if not seeds:
        return out
    mb, mc = statistics.fmean(base), statistics.fmean(cand)
    out |= {"baseline_mean": mb, "candidate_mean": mc, "relative": (mc - mb) / mb if mb else math.nan,
            "baseline_std": statistics.stdev(base) if len(base) > 1 else 0.0,
            "candidate_std": statistics.stdev(cand) if len(cand) > 1 else 0.0}
    diffs = [c - b for b, c in zip(base, cand)]
    if len(seeds) > 1 and len(set(diffs)) > 1:
        test = stats.ttest_rel(cand, base)
        out |= {"t": float(test.statistic), "p": float(test.pvalue), "df": len(seeds) - 1}
    return out


def markdown(data: str, rows: tuple[str, str], pairs: dict[int, tuple[dict[str, Any], dict[str, Any]]],
             comparisons: list[dict[str, Any]], differ: dict[str, dict[str, Any]],
             split_machines: dict[int, tuple[str, str]], missing: list[str], header: dict[str, Any]) -> str:
    b, c = rows
    lines = [f"# {data}: {c} vs {b}, paired by seed", "",
             f"Command: `{header['command']}`  ", f"Date: {header['date']}", "",
             f"| seed | {b} test N@10 | {c} test N@10 | diff | {b} R@10 | {c} R@10 | {b} valid N@10 | {c} valid N@10 "
             f"| best epoch ({b} / {c}) | train s ({b} / {c}) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for seed, (rb, rc) in pairs.items():
        nb, nc = rb["test"]["ndcg@10"], rc["test"]["ndcg@10"]
        diff = f"{100 * (nc - nb) / nb:+.1f}%" if nb else "-"
        lines.append(f"| {seed} | {nb:.4f} | {nc:.4f} | {diff} | {rb['test']['recall@10']:.4f} "
                     f"| {rc['test']['recall@10']:.4f} | {rb['valid']['ndcg@10']:.4f} | {rc['valid']['ndcg@10']:.4f} "
                     f"| {rb['train']['best_epoch']} / {rc['train']['best_epoch']} "
                     f"| {rb['cost']['train_seconds']:,.0f} / {rc['cost']['train_seconds']:,.0f} |")
    lines.append("")
    for cmp in comparisons:
        name = f"{cmp['split']} {cmp['metric']}"
        if not cmp["n"]:
            lines.append(f"- {name}: no complete pair.")
            continue
        t = (f"paired t {cmp['t']:.2f} (df {cmp['df']}, two-sided p {cmp['p']:.3f})" if cmp["t"] is not None
             else "no t-test (fewer than two pairs, or identical differences)")
        lines.append(f"- {name}: {b} {cmp['baseline_mean']:.4f} ± {cmp['baseline_std']:.4f}, {c} "
                     f"{cmp['candidate_mean']:.4f} ± {cmp['candidate_std']:.4f} ({100 * cmp['relative']:+.1f}%), "
                     f"{c} ahead on {cmp['ahead']} of {cmp['n']} seeds; {t}.")
    held = [rc["constraint_valid"]["holds"] for rb, rc in pairs.values() if rc.get("constraint_valid")]
    if held:
        lines.append(f"- {c}'s fusion constraint held on validation in {sum(held)} of {len(held)} runs.")
    if differ:
        lines += ["", "Not the same for every seed (a pair's two runs agree on the shared settings; "
                  f"machine facts are {b}'s):", ""]
        for k, by_seed in differ.items():
            lines.append(f"- `{k}`: " + "; ".join(f"seed {s}: {v}" for s, v in by_seed.items()))
    if split_machines:
        lines += ["", "Pairs whose two runs were made on different machines:", ""]
        lines += [f"- seed {s}: {b} on {mb}; {c} on {mc}" for s, (mb, mc) in split_machines.items()]
    machines = {machine_line(rb["machine"]) for pair in pairs.values() for rb in pair if rb.get("machine")}
    if machines:
        lines += ["", "Machines of the runs:", ""] + [f"- {m}" for m in sorted(machines)]
    if missing:
        lines += ["", "Run files not found (their seeds are left out):", ""] + [f"- `{m}`" for m in missing]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset name of the runs (e.g. beauty)")
    p.add_argument("--rows", default="tiger,lwgr", help="baseline and candidate row slugs, as in the run file names")
    p.add_argument("--pair", action="append", required=True, metavar="BASE:CAND:SEEDS",
                   help="run names of the baseline and the candidate (<out>/NAME_runs) and the seeds paired from them")
    p.add_argument("--out", default=str(RESULTS_DIR))
    p.add_argument("--name", required=True, help="results file stem (<out>/NAME.md and .json)")
    args = p.parse_args(argv)
    rows = tuple(r.strip() for r in args.rows.split(","))
    if len(rows) != 2 or not all(rows):
        raise SystemExit(f"--rows expects two row slugs, baseline,candidate; got {args.rows!r}")
    out = Path(args.out)
    specs = [PairSpec.parse(s) for s in args.pair]
    pairs, missing = load_pairs(out, args.data, rows, specs)
    comparisons = [compare(pairs, split, metric) for split, metric in COMPARED]
    differ = between_pairs(pairs)
    split_machines = machines_within_pairs(pairs)
    header = run_header()
    (out / args.name).parent.mkdir(parents=True, exist_ok=True)  # a name may be "pairs/NAME"
    table = markdown(args.data, rows, pairs, comparisons, differ, split_machines, missing, header)
    payload = {**{k: header[k] for k in ("date", "command")}, "data": args.data, "rows": list(rows),
               "pairs": [vars(spec) for spec in specs], "comparisons": comparisons,
               "differ_between_seeds": {k: {str(s): v for s, v in by.items()} for k, by in differ.items()},
               "machines_within_pairs": {str(s): {rows[0]: mb, rows[1]: mc} for s, (mb, mc) in split_machines.items()},
               "missing_runs": missing}
    write_json_atomic(out / f"{args.name}.json", payload)
    write_text_atomic(out / f"{args.name}.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
