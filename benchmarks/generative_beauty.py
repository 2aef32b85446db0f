"""Generative recommendation on Amazon Beauty and Scientific: TIGER, LWGR and its ablations.

Rows (one protocol, same semantic ids for every row of a dataset):

* ``TIGER`` -- semantic-id encoder-decoder with trie-constrained beam search;
* ``+ fixed-instruction knowledge`` -- ``lwgr_fixed``: KAR-style template knowledge, plain fusion;
* ``+ soft instructions, no constraint`` -- ``lwgr`` with ``constraint=False, gates=False``;
* ``LWGR`` -- soft instructions, per-user gates, Lagrangian fusion constraint.

Protocol: leave-one-out, full ranking over all items (items outside the final beams score
``-inf``), history items excluded, Recall/NDCG@{5,10}, mean ± std over seeds. For the
knowledge rows the validation constraint ``L_fused <= (1 + eps) L_free`` is checked; for
full LWGR (first seed) the nearline store's per-request latency with/without cache and the
quality effect of stale knowledge are measured. Every (dataset, row, seed) run is written to
``results/<name>_runs/`` when it finishes, so an interrupted benchmark resumes, and runs made
by separate commands (one row and seed each, one per core) add up to one table. A run's training
is checkpointed after every epoch (``common.run_checkpoint``, outside the repository): the same command
after an interruption (Ctrl-C, a killed process, a new session on the same machine) continues the
run from its last finished epoch, and the checkpoint is deleted once the run file is written.

    python -m agenticrs.benchmarks.generative_beauty --data beauty,scientific --seeds 0,1,2

The committed CPU-budget tables (8 epochs, bf16 autocast, dropout 0, validation every epoch;
the ``lwgr-minilm`` row on Scientific only, with the ``text`` extra installed) came from one
(dataset, row, seed) per command, two at a time on 2 cores:

    python -m agenticrs.benchmarks.generative_beauty --data DATA --seeds SEED --rows ROW --epochs 8 \\
        --threads 1 --name generative_DATA --set dropout=0 --train precision=bf16 --train eval_every=1 \\
        --serving-requests 100 --staleness-users 500

and ``--workers 2`` runs the same (dataset, row, seed) processes from one command:

    python -m agenticrs.benchmarks.generative_beauty --data beauty --seeds 0,1,2 --epochs 8 --threads 1 \\
        --workers 2 --name generative_beauty --set dropout=0 --train precision=bf16 --train eval_every=1 \\
        --serving-requests 100 --staleness-users 500

The tables were then assembled from the run files that exist, with the same options plus
``--report-only`` (trains nothing; the runs not made are named under the table).

Exploration tables change one setting of the LWGR row and compare it with the committed TIGER
runs, read (never retrained) from the main table's run directory with ``--reference``:

    python -m agenticrs.benchmarks.generative_beauty --data DATA --seeds SEED --rows tiger,lwgr \\
        --reference generative_DATA --name generative_DATA_kw0.5 --set knowledge_weight=0.5 \\
        --epochs 8 --threads 1 --set dropout=0 --train precision=bf16 --train eval_every=1 \\
        --serving-requests 100 --staleness-users 500

A table over more seeds keeps its new runs beside an existing table's with ``--runs`` (that
table is not rewritten), then reports every seed with ``--report-only``:

    python -m agenticrs.benchmarks.generative_beauty --data scientific --seeds 3,4 --rows tiger,fixed,lwgr \\
        --name generative_scientific_5seeds --runs generative_scientific --epochs 8 --threads 1 --workers 2 \\
        --set dropout=0 --train precision=bf16 --train eval_every=1 --serving-requests 100 --staleness-users 500

A confirmation on fresh seeds adds runs to existing run directories one (row, seed) at a time
(``--serving-seed 0`` skips the serving and staleness measurements, made on seed 0 already):

    python -m agenticrs.benchmarks.generative_beauty --data scientific --seeds 5 --rows tiger \\
        --runs generative_scientific --name generative_scientific_tiger_confirm --serving-seed 0 ...
    python -m agenticrs.benchmarks.generative_beauty --data scientific --seeds 5 --rows lwgr \\
        --set knowledge_weight=0.5 --reference generative_scientific --runs generative_scientific_kw0.5 \\
        --name generative_scientific_kw0.5_confirm --serving-seed 0 ...

(``...``: the main table's options; a run command's own one-seed table is a by-product), then
``--rows tiger,lwgr --report-only`` over the fresh seeds writes the table.

A smoke run on a subsample (numbers NOT comparable to papers):

    python -m agenticrs.benchmarks.generative_beauty --data scientific --seeds 0 \\
        --subsample-users 400 --epochs 2 --set embedding_dim=32 --name generative_smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from agenticrs.benchmarks.common import (
    RESULTS_DIR, data_slug, machine_line, run_checkpoint, run_header, write_json_atomic, write_text_atomic,
)
from agenticrs.benchmarks.recsys_beauty import mean_std, summarise

# TIGER (NeurIPS 2023) Table 1, Beauty: R@5, N@5, R@10, N@10.
PUBLISHED_TIGER_BEAUTY = (0.0454, 0.0321, 0.0648, 0.0384)


@dataclass(frozen=True)
class Row:
    label: str
    slug: str
    model: str
    model_config: dict[str, Any] = field(default_factory=dict)


ROWS: tuple[Row, ...] = (
    Row("TIGER", "tiger", "tiger"),
    Row("+ fixed-instruction knowledge", "fixed", "lwgr_fixed"),
    Row("+ soft instructions, no constraint", "soft-nocon", "lwgr", {"constraint": False, "gates": False}),
    Row("LWGR", "lwgr", "lwgr"),
)
EXTRA_ROWS: tuple[Row, ...] = (
    # The knowledge side read from a pretrained language model (all-MiniLM-L6-v2, the ``text``
    # extra) while the semantic ids stay TF-IDF: knowledge the ids do not already carry.
    Row("LWGR, MiniLM knowledge", "lwgr-minilm", "lwgr", {"knowledge_encoder": "hf:minilm"}),
    # Soft instructions beside the hand-written history template (as in the paper's prompt)
    # instead of in its place: the template's knowledge plus what the instructions extract.
    Row("LWGR, soft instructions + template", "lwgr-template", "lwgr", {"template_knowledge": True}),
    # The instructions and gates read the behaviour summary without a gradient into the encoder.
    Row("LWGR, detached behaviour", "lwgr-detach", "lwgr", {"detach_behaviour": True}),
    # Knowledge tokens carry only what the instructions read, not the instructions themselves.
    Row("LWGR, read-out only", "lwgr-readout", "lwgr", {"instruction_residual": False}),
    # The instructions choose per user how much of each history item's text to pool, in the
    # text encoder's own space (uniform at first: the fixed template's content).
    Row("LWGR, pooled read-out", "lwgr-pool", "lwgr", {"read": "pool"}),
    # ... and the gates and instructions read the behaviour without reshaping it.
    Row("LWGR, pooled read-out, detached behaviour", "lwgr-pool-detach", "lwgr",
        {"read": "pool", "detach_behaviour": True}),
    # Both read-outs side by side (attention led on Beauty, pooling on Scientific), each with
    # its own instructions; the gates and the constraint arbitrate. Knowledge weight 0.5 (chosen
    # on validation for the attention read-out), behaviour detached (chosen for pooling).
    Row("LWGR, both read-outs", "lwgr-both", "lwgr",
        {"read": "both", "knowledge_weight": 0.5, "detach_behaviour": True}),
)
"""Rows run only when ``--rows`` names them (optional extras, explorations)."""
# Training settings for a CPU budget; every row uses the same ones.
TRAIN: dict[str, Any] = {"epochs": 30, "lr": 1e-3, "batch_size": 256, "patience": 3, "eval_every": 2,
                         "valid_max_users": 2000, "eval_batch_size": 256, "ks": (5, 10, 20)}


def subsample(dataset: Any, users: int | None) -> Any:
    """The first ``users`` users (items, ids and text unchanged) -- for smoke runs only."""
    if not users or users >= dataset.n_users:
        return dataset
    from agenticrs.recsys.data.dataset import Dataset

    return Dataset.from_sequences([dataset.sequence(u) for u in range(users)], dataset.n_items,
                                  name=f"{dataset.name}[:{users} users]", item_text=dataset.item_text,
                                  item_ids=list(dataset.item_ids))


def run_one(row: Row, data: str, seed: int, args: argparse.Namespace, overrides: dict[str, Any],
            checkpoint: Path | None = None) -> dict[str, Any]:
    from agenticrs.recsys.data import load_dataset
    from agenticrs.recsys.knowledge.nearline import serving_latency, staleness_effect
    from agenticrs.recsys.training import TrainConfig, run_experiment

    dataset = subsample(load_dataset(data), args.subsample_users)
    train = {**TRAIN, **args.train_overrides, "seed": seed, "device": args.device, "progress": True,
             "checkpoint": str(checkpoint) if checkpoint else None}
    if args.epochs is not None:
        train["epochs"] = args.epochs
    if args.max_seconds is not None:
        train["max_seconds"] = args.max_seconds
    extras: dict[str, Any] = {}

    def after(model: Any, split: Any) -> None:
        extras["prep_seconds"] = getattr(model, "prep_seconds", 0.0)
        extras["semantic_ids"] = {"depth": model.ids.depth, "vocab": model.ids.vocab,
                                  "max_collisions": model.ids.max_collisions}
        if hasattr(model, "constraint_report"):
            extras["constraint_valid"] = model.constraint_report(split.valid)
        if row.slug == "lwgr" and seed == args.serving_seed:
            extras["serving"] = serving_latency(model, split.test, n_requests=args.serving_requests)
            extras["staleness"] = {str(k): v for k, v in staleness_effect(
                model, split.test, lags=(0, 1, 2, 4), ks=(10,), max_users=args.staleness_users).items()}

    config = {**row.model_config, **overrides_for(row, overrides)}
    train_config = TrainConfig(**train)
    res = run_experiment(dataset, row.model, config, train_config, after=after)
    out = res.to_dict()
    history = out["train"].pop("history")
    out["train"]["fusion_last_epoch"] = {k: v for k, v in history[-1].items() if k.startswith("lwgr/")}
    # The learning curve (training loss; validation score on the watched users where validated),
    # so a longer-budget run shows where the model stopped improving.
    out["train"]["curve"] = [{"epoch": int(h["epoch"]), "loss": h["train/loss"],
                              "valid_watched": h.get(f"valid/{train_config.valid_metric}")}
                             for h in history]
    speeds = [h["time/sequences_per_second"] for h in history if "time/sequences_per_second" in h]
    out.update(extras, label=row.label, data=dataset.name, seed=seed,
               sequences_per_second=statistics.median(speeds) if speeds else None)
    return out


def config_fields(row: Row) -> set[str]:
    from agenticrs.recsys.models import get_model

    return {f.name for f in dataclasses.fields(get_model(row.model).Config)}


def overrides_for(row: Row, overrides: dict[str, Any]) -> dict[str, Any]:
    """The ``--set`` overrides this row's model has (LWGR-only keys leave TIGER unchanged)."""
    fields = config_fields(row)
    return {k: v for k, v in overrides.items() if k in fields}


def check_overrides(rows: list[Row], overrides: dict[str, Any]) -> None:
    """A ``--set`` key that no selected row's model has is a typo: name it before any run starts."""
    known = set().union(*(config_fields(r) for r in rows))
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise SystemExit(f"--set: unknown config field(s) {unknown} for rows {[r.slug for r in rows]}; "
                         f"valid: {sorted(known)}")


def baselines(out: Path, data: str) -> dict[str, dict[str, Any]]:
    """The recsys-core rows of the same dataset and protocol (``recsys_beauty --data DATA``), if run."""
    path = out / f"{data_slug(data)}.json"
    return json.loads(path.read_text()).get("rows", {}) if path.exists() else {}


METRICS = ("recall@5", "ndcg@5", "recall@10", "ndcg@10")


def fmt(s: dict[str, Any], k: str) -> str:
    return f"{s[k]['mean']:.4f} ± {s[k]['std']:.4f}"


def markdown(results: dict[str, dict[str, Any]], header: dict[str, Any], args: argparse.Namespace,
             missing: list[str] | None = None) -> str:
    """The results table; ``missing`` names the (dataset / row / seed) runs a ``--report-only`` table lacks."""
    m = header["machine"]
    lines = [
        "# Generative recommendation: TIGER, LWGR and ablations",
        "",
        f"Command: `{header['command']}`  ",
        f"Date: {header['date']}  ",
        f"Machine: {machine_line(m)}  ",
        "Protocol: leave-one-out, full ranking (items outside the beams score -inf), history items excluded, "
        "test metrics, mean ± std over seeds. Text encoder and semantic ids as in each row's config.  ",
        "Columns: train s = wall clock of training incl. validation; id prep s = item text encoding + semantic "
        "ids (cached on disk, so only the first run of a dataset pays it); ms/user = full-ranking test "
        "evaluation (beam search) per user; peak MB = process peak RSS on CPU (cumulative over the runs of one "
        "process) or CUDA peak allocation; params include buffers (frozen text vectors, id codes); best / run "
        "epochs = the epoch whose validation score was kept, per seed, and the epochs run (mean): a best epoch "
        "equal to the last means the model was still improving when the budget ended; valid N@10 = the kept "
        "epoch's NDCG@10 on every validation user (early stopping watches valid_max_users users only: "
        f"{'the first ones' if args.train_overrides.get('valid_subset', 'first') == 'first' else 'a seeded random sample'}), "
        "the score to choose settings on.",
    ]
    if args.subsample_users or args.epochs is not None or args.max_seconds is not None or args.set or args.train:
        lines.append(f"**Reduced run** (subsample_users={args.subsample_users}, epochs={args.epochs}, "
                     f"max_seconds={args.max_seconds}, model overrides={args.set}, training overrides={args.train}): "
                     "not comparable to published numbers.")
    if missing:
        lines.append(f"**Not run** (the table holds the seeds that were): {'; '.join(missing)}.")
    for data, rows in results.items():
        lines += ["", f"## {data}", "",
                  "| model | seeds | R@5 | N@5 | R@10 | N@10 | best / run epochs | train s | id prep s | ms/user | peak MB "
                  "| params | valid N@10 | valid L_fused / bound (holds) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for label, s in rows.items():
            con = s.get("constraint_valid")
            con_cell = (f"{con['loss_fused']:.3f} / {con['bound']:.3f} ({'yes' if con['holds_all'] else 'NO'})"
                        if con else "-")
            best = ",".join(str(e) for e in s["best_epochs"])
            lines.append(f"| {label} | {len(s['seeds'])} | " + " | ".join(fmt(s, k) for k in
                         METRICS)
                         + f" | {best} / {s['epochs']:.0f} | {s['train_seconds']:.0f} | {s['prep_seconds']:.0f} | {s['inference_ms_per_user']:.2f} "
                         f"| {s['peak_memory_mb']:.0f} | {int(s['params'])} | {fmt(s, 'valid_ndcg@10')} | {con_cell} |")
        for label, b in baselines(Path(args.out), data).items():
            lines.append(f"| {label} (baseline) | {len(b['seeds'])} | " + " | ".join(fmt(b, k) for k in METRICS)
                         + f" | - | {b['train_seconds']:.0f} | - | {b['inference_ms_per_user']:.2f} "
                         f"| {b['peak_memory_mb']:.0f} | {int(b['params'])} | - | - |")
        if data == "beauty":
            p = PUBLISHED_TIGER_BEAUTY
            lines.append(f"| TIGER (published) | - | {p[0]:.4f} | {p[1]:.4f} | {p[2]:.4f} | {p[3]:.4f} "
                         "| - | - | - | - | - | - | - | - |")
        if data == "beauty" and "TIGER" in rows:
            t = rows["TIGER"]["ndcg@10"]["mean"]
            lines += ["", f"TIGER vs its published NDCG@10 ({PUBLISHED_TIGER_BEAUTY[3]}): "
                      f"{100 * (t - PUBLISHED_TIGER_BEAUTY[3]) / PUBLISHED_TIGER_BEAUTY[3]:+.1f}%"]
        if "TIGER" in rows:
            lines += [""] + [f"{label} vs TIGER, NDCG@10: {vs}" for label, vs in versus_tiger(rows).items()]
        serving = rows.get("LWGR", {}).get("serving")
        if serving:
            lines += ["", f"Online serving (batch of one, full LWGR, seed {rows['LWGR']['serving_seed']}): "
                      f"cached {serving['cached_ms_median']:.2f} ms median / {serving['cached_ms_p95']:.2f} p95, "
                      f"uncached {serving['uncached_ms_median']:.2f} / {serving['uncached_ms_p95']:.2f} ms; "
                      f"nearline {serving['nearline_ms_per_user']:.2f} ms/user ({int(serving['requests'])} requests)."]
        stale = rows.get("LWGR", {}).get("staleness")
        if stale:
            lines += ["", f"Staleness (seed {rows['LWGR']['staleness_seed']}, first {args.staleness_users} test users; "
                      "the stored knowledge misses the "
                      "user's last k interactions, the request encodes the fresh history): "
                      + ", ".join(f"k={k}: N@10 {v['ndcg@10']:.4f}" for k, v in stale.items())]
    return "\n".join(lines + [""])


def versus_tiger(rows: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Each knowledge row's NDCG@10 against TIGER's on the seeds both rows ran: the change of the
    means over those seeds, and on how many of them the row was ahead (a paired count, so
    seed-to-seed noise shows). A row with fewer seeds is compared on its own seeds only."""
    tiger = rows["TIGER"]["ndcg@10_by_seed"]
    out = {}
    for label, s in rows.items():
        if label == "TIGER":
            continue
        row = s["ndcg@10_by_seed"]
        paired = sorted(set(tiger) & set(row))
        if not paired:
            out[label] = "no seed in common"
            continue
        t, w = statistics.fmean(tiger[k] for k in paired), statistics.fmean(row[k] for k in paired)
        ahead = sum(row[k] > tiger[k] for k in paired)
        out[label] = f"{100 * (w - t) / max(t, 1e-12):+.2f}% (ahead on {ahead} of {len(paired)} seeds)"
    return out


def dataset_list(values: list[str]) -> list[str]:
    """``["beauty,scientific", "synthetic:users=9,items=5"]`` -> three datasets (URIs are not split)."""
    out: list[str] = []
    for value in values:
        out += [value.strip()] if ":" in value else [d.strip() for d in value.split(",") if d.strip()]
    return out


def parse_set(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def train_overrides(items: list[str]) -> dict[str, Any]:
    """``--train key=value`` -> typed TrainConfig fields (a bad key or value names the field)."""
    from agenticrs.recsys.training.trainer import TrainConfig, build_train_config

    values = parse_set(items)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    if set(values) - known:
        raise SystemExit(f"--train: unknown training setting(s) {sorted(set(values) - known)}; valid: {sorted(known)}")
    try:
        config = build_train_config(values, **TRAIN)
    except ValueError as e:
        raise SystemExit(f"--train: {e}") from None
    return {k: getattr(config, k) for k in values}


def run_settings(run: dict[str, Any], ignore: tuple[str, ...] = ("seed", "device", "logdir", "progress")
                 ) -> dict[str, Any]:
    """A run file's model and training settings as flat ``model.X`` / ``train.X`` keys, with the
    fields in ``ignore`` (settings that do not change what is measured) left out of ``train``.
    A field added to a Config after the run was made counts as its default in that run."""
    from agenticrs.recsys.models import get_model
    from agenticrs.recsys.training.trainer import TrainConfig

    def defaults(cls: type) -> dict[str, Any]:
        return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}

    model = {**defaults(get_model(run["model"]).Config), **run["config"]["model"]}
    train = {**defaults(TrainConfig), **run["config"]["train"]}
    train = {k: list(v) if isinstance(v, tuple) else v for k, v in train.items() if k not in ignore}
    return {**{f"model.{k}": v for k, v in model.items()}, **{f"train.{k}": v for k, v in train.items()}}


def settings_diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The keys on which two ``run_settings`` differ (a key on one side only counts as None on the other)."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def same_config(runs: list[dict[str, Any]], where: str) -> None:
    """The seeds of one row must share their model and training settings (seed aside), or
    their mean would mix two protocols: refuse, naming the settings that differ."""
    first = run_settings(runs[0])
    for r in runs[1:]:
        diff = settings_diff(first, run_settings(r))
        if diff:
            raise SystemExit(f"{where}: seed {runs[0]['seed']} and seed {r['seed']} were run with different settings "
                             f"{diff}; rerun one of them (--force) or use another --name")


PASS_THROUGH = ("device", "epochs", "max_seconds", "subsample_users", "serving_requests", "staleness_users",
                "threads", "out", "name", "runs")
"""Options a ``--workers`` child gets exactly as the parent was given them."""


def child_command(args: argparse.Namespace, data: str, row: Row, seed: int) -> list[str]:
    """The command that runs one (dataset, row, seed) in its own process, without a table."""
    cmd = [sys.executable, "-m", "agenticrs.benchmarks.generative_beauty", "--data", data, "--rows", row.slug,
           "--seeds", str(seed), "--serving-seed", str(args.serving_seed), "--run-only"]
    for name in PASS_THROUGH:
        value = getattr(args, name)
        if value is not None:
            cmd += [f"--{name.replace('_', '-')}", str(value)]
    for item in args.set:
        cmd += ["--set", item]
    for item in args.train:
        cmd += ["--train", item]
    return cmd + (["--force"] if args.force else [])


def run_in_workers(args: argparse.Namespace, todo: list[tuple[str, Row, int, Path]]) -> None:
    """Run each missing (dataset, row, seed) as its own process, ``args.workers`` at a time.

    Each child writes its run file when it finishes and its output to ``<run file>.log``; a
    failed run is named (with its log) after the others finished, and nothing is averaged.
    """
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    def one(job: tuple[str, Row, int, Path]) -> str | None:
        data, row, seed, path = job
        log = path.with_suffix(".log")
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"== {data} / {row.label} / seed {seed} (log: {log})", flush=True)
        with open(log, "w") as f:
            rc = subprocess.call(child_command(args, data, row, seed), stdout=f, stderr=subprocess.STDOUT)
        if rc != 0 or not path.exists():
            return f"{data} / {row.label} / seed {seed} (exit {rc}, see {log})"
        r = json.loads(path.read_text())
        print(f"   {data} / {row.label} / seed {seed}: test ndcg@10 {r['test']['ndcg@10']:.4f} "
              f"({r['cost']['train_seconds']:.0f}s, {r['cost']['epochs']} epochs)", flush=True)
        return None

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        failed = [f for f in pool.map(one, todo) if f]
    if failed:
        raise SystemExit("runs failed, the table was not written:\n  " + "\n  ".join(failed))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", action="append", default=None,
                   help="dataset names, comma-separated (default beauty,scientific); a URI with ':' is taken whole "
                        "(its parameters contain commas); repeat --data for several URIs")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--rows", default=",".join(r.slug for r in ROWS), help="comma-separated row slugs")
    p.add_argument("--device", default="auto")
    p.add_argument("--epochs", type=int, default=None, help="override the epoch budget")
    p.add_argument("--max-seconds", type=float, default=None, help="training budget per run")
    p.add_argument("--subsample-users", type=int, default=None, help="first N users only (smoke runs)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="model config override, applied to every row whose model has the field")
    p.add_argument("--train", action="append", default=[], metavar="KEY=VALUE",
                   help="training setting override (TrainConfig field, e.g. precision=bf16), applied to every row")
    p.add_argument("--serving-requests", type=int, default=200)
    p.add_argument("--staleness-users", type=int, default=2000)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", default=str(RESULTS_DIR))
    p.add_argument("--name", default="generative", help="results file stem")
    p.add_argument("--runs", default=None, metavar="NAME",
                   help="keep the run files in <out>/NAME_runs instead of <out>/<name>_runs: a table over more "
                        "seeds adds its runs to an existing table's directory without rewriting that table")
    p.add_argument("--force", action="store_true", help="rerun runs that already have results")
    p.add_argument("--reference", default=None, metavar="NAME",
                   help="read the TIGER row's runs from <out>/NAME_runs and never train them: an exploration "
                        "table (say, another knowledge_weight) is then compared with the committed TIGER runs")
    p.add_argument("--workers", type=int, default=1,
                   help="run the missing (dataset, row, seed) runs as this many parallel processes "
                        "(use with --threads 1 on a CPU), then write the table")
    p.add_argument("--report-only", action="store_true",
                   help="train nothing: write the table from the run files that exist, naming the missing ones")
    p.add_argument("--serving-seed", type=int, default=None, help=argparse.SUPPRESS)  # default: the first seed
    p.add_argument("--run-only", action="store_true", help=argparse.SUPPRESS)  # a --workers child: no table
    args = p.parse_args(argv)
    if args.workers < 1:
        raise SystemExit(f"--workers must be >= 1, got {args.workers}")
    if args.report_only and (args.force or args.run_only or args.workers > 1):
        raise SystemExit("--report-only trains nothing: it cannot be combined with --force, --workers or --run-only")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.seed_list = [int(s) for s in args.seeds.split(",")]
    if args.serving_seed is None:
        args.serving_seed = min(args.seed_list)
    wanted = [s.strip() for s in args.rows.split(",")]
    known = ROWS + EXTRA_ROWS
    rows = [r for r in known if r.slug in wanted]
    if len(rows) != len(wanted):
        raise SystemExit(f"unknown row(s) {sorted(set(wanted) - {r.slug for r in known})}; rows: {[r.slug for r in known]}")
    overrides = parse_set(args.set)
    check_overrides(rows, overrides)
    args.train_overrides = train_overrides(args.train)
    out = Path(args.out)
    runs_dir = out / f"{args.runs or args.name}_runs"
    shown = sys.argv[1:] if argv is None else argv
    header = run_header("python -m agenticrs.benchmarks.generative_beauty " + " ".join(shlex.quote(a) for a in shown))
    datasets = dataset_list(args.data or ["beauty,scientific"])

    def run_path(data: str, row: Row, seed: int) -> Path:
        return (reference(row) or runs_dir) / f"{data_slug(data)}-{row.slug}-seed{seed}.json"

    def reference(row: Row) -> Path | None:
        """The runs directory a --reference row is read from (None: this table's own)."""
        return out / f"{args.reference}_runs" if args.reference and row.slug == "tiger" else None

    missing: list[str] = []  # runs without a run file that this command does not train (--report-only, --reference)
    if args.workers > 1:  # seed-major, so an interrupted benchmark has whole seeds rather than whole rows
        todo = [(d, r, s, run_path(d, r, s)) for s in args.seed_list for d in datasets for r in rows
                if not reference(r) and (args.force or not run_path(d, r, s).exists())]
        run_in_workers(args, todo)
        args.force = False  # the children just ran them
    results: dict[str, dict[str, Any]] = {}
    for data in datasets:
        results[data] = {}
        for row in rows:
            runs = []
            for seed in args.seed_list:
                path, ref = run_path(data, row, seed), reference(row)
                if path.exists() and (ref or not args.force):  # --force never retrains a reference run
                    runs.append(json.loads(path.read_text()))
                    continue
                if args.report_only or ref:
                    missing.append(f"{data} / {row.label} / seed {seed}")
                    continue
                with run_checkpoint(path, fresh=args.force) as checkpoint:
                    print(f"== {data} / {row.label} / seed {seed}"
                          + (f" (resuming {checkpoint})" if checkpoint.exists() else ""), flush=True)
                    r = run_one(row, data, seed, args, overrides, checkpoint)
                    r["date"], r["machine"] = header["date"], header["machine"]
                    write_json_atomic(path, r)
                print(f"   test ndcg@10 {r['test']['ndcg@10']:.4f} recall@10 {r['test']['recall@10']:.4f} "
                      f"({r['cost']['train_seconds']:.0f}s, {r['cost']['epochs']} epochs)", flush=True)
                runs.append(r)
            if args.run_only or not runs:
                continue
            same_config(runs, f"{data} / {row.label}")
            s = summarise(runs) | {"model": row.model, "model_config": {**row.model_config, **overrides_for(row, overrides)}}
            s["prep_seconds"] = statistics.fmean(r.get("prep_seconds", 0.0) for r in runs)
            s["best_epochs"] = [r["train"]["best_epoch"] for r in runs]
            s["ndcg@10_by_seed"] = {str(r["seed"]): r["test"]["ndcg@10"] for r in runs}
            # The kept epoch re-scored on all validation users: what a hyper-parameter may be chosen on.
            s["valid_ndcg@10"] = mean_std([r["valid"]["ndcg@10"] for r in runs])
            cons = [r["constraint_valid"] for r in runs if r.get("constraint_valid")]
            if cons:
                s["constraint_valid"] = {k: statistics.fmean(c[k] for c in cons)
                                         for k in ("loss_free", "loss_fused", "bound", "open_gate_share")}
                s["constraint_valid"]["holds_all"] = all(c["holds"] for c in cons)
            for r in runs:  # seeds ascending: report the first seed that measured serving
                for key in ("serving", "staleness"):
                    if r.get(key) and key not in s:
                        s[key], s[f"{key}_seed"] = r[key], r["seed"]
            results[data][row.label] = s
    if args.run_only:
        return 0
    payload = {**header, "train": {k: list(v) if isinstance(v, tuple) else v for k, v in TRAIN.items()},
               "args": {k: v for k, v in vars(args).items()
                        if k not in ("seed_list", "train_overrides", "serving_seed", "run_only")},
               "missing_runs": missing, "results": results}
    write_json_atomic(out / f"{args.name}.json", payload)
    table = markdown(results, header, args, missing)
    write_text_atomic(out / f"{args.name}.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
