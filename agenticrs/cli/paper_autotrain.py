"""``agenticrs paper-autotrain METHOD.md --data URI --baseline NAME --out DIR``: a paper's method,
translated into a program of the design language, trained against its baseline at equal
budgets over seeds; writes ``report.md`` and ``report.json`` and records everything in the
KnowledgeStore (see :mod:`agenticrs.policies.paper_autotrain` for the method file's form)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agenticrs.cli.errors import CLIError, check_at_least


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("paper-autotrain", help="a method description -> a program -> trained against its baseline "
                                               "-> a comparison report")
    p.add_argument("method", help="markdown method description (free text; optional ```agenticrs-method block)")
    p.add_argument("--data", default="synthetic:", help="dataset URI or name (default: the embedded synthetic data)")
    p.add_argument("--baseline", default="sasrec_ce",
                   help="library program to compare against: sasrec, sasrec_ce, bert4rec, gru4rec, fmlp, gmlp")
    p.add_argument("--seeds", type=int, default=3, help="training seeds; each trains baseline and variant (paired)")
    p.add_argument("--budget", type=float, default=None, metavar="S",
                   help="wall-clock seconds of every training run (equal for both arms; default: epochs only)")
    p.add_argument("--epochs", type=int, default=None, help="epochs of every run (default: the baseline's)")
    p.add_argument("--proposer", choices=("rules", "llm"), default=None,
                   help="translator: rules (the structured block) or llm (a model reads the free text); "
                        "default: rules when the file has a structured block, else llm")
    p.add_argument("--model", default="smollm2",
                   help="language model for --proposer llm: smollm2 (offline, agenticrs[llm]), http (an "
                        "OpenAI-compatible endpoint from AGENTICRS_LLM_BASE_URL/_MODEL/_API_KEY) or standin")
    p.add_argument("--knowledge", default=None, metavar="PATH",
                   help="KnowledgeStore to record in (default: OUT/knowledge.sqlite)")
    p.add_argument("--isolate", action="store_true",
                   help="train each run in a worker subprocess (a crash or hang cannot take the command down)")
    p.add_argument("--out", required=True, help="output folder (report.md, report.json)")
    p.set_defaults(func=run)


def paper_autotrain(method_path: str, data: str, baseline: str, out: str, *, seeds: int = 3,
                    budget: float | None = None, epochs: int | None = None, proposer: str | None = None,
                    model: str = "smollm2", knowledge: str | None = None, isolate: bool = False,
                    log: Any = None) -> dict[str, Any]:
    """The command as a function: returns the report dict (also written under ``out``)."""
    from agenticrs.envs.backends.live import LiveBackend
    from agenticrs.envs.core import Task
    from agenticrs.envs.knowledge import KnowledgeStore
    from agenticrs.policies import paper_autotrain as pa
    from agenticrs.policies.llm.writer import CallRecorder
    from agenticrs.policies.proposers.pipeline import BackendEvaluator
    from agenticrs.recsys.data import load_dataset

    check_at_least("--seeds", seeds)
    check_at_least("--epochs", epochs)
    if budget is not None and not budget > 0:
        raise CLIError(f"--budget must be > 0 seconds, got {budget}")
    try:
        method = pa.read_method(method_path)
        base = pa.baseline_program(baseline)
    except (FileNotFoundError, KeyError, ValueError) as e:
        raise CLIError(str(e).strip("'\"")) from None
    try:
        dataset = load_dataset(data)
    except (ValueError, FileNotFoundError, KeyError) as e:
        raise CLIError(f"--data {data}: {e}") from None
    proposer = proposer or ("rules" if method.statements is not None else "llm")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = KnowledgeStore(knowledge or out_dir / "knowledge.sqlite")
    run_id = store.start_run({"command": "paper-autotrain", "method": method.title, "data": data,
                              "baseline": baseline, "seeds": seeds, "proposer": proposer})
    recorder = CallRecorder(store, run_id, "paper-autotrain", dataset.name)
    if proposer == "rules":
        translation = pa.translate_rules(method, base, dataset.n_items)
    else:
        from agenticrs.policies.llm import LLMError, make_model

        try:
            lm = make_model(model)
            translation = pa.translate_llm(method, base, baseline, lm, dataset.n_items, recorder=recorder)
        except (LLMError, ValueError) as e:
            raise CLIError(f"--proposer llm --model {model}: {e}") from None
    settings = pa.AutotrainSettings(data=data, baseline=baseline, seeds=seeds, epochs=epochs, budget_s=budget)
    task = Task(dataset.name, data)
    # soft_budget=1: the trainer stops at --budget seconds; the hard timeout (isolated runs) allows 50% more.
    backend = LiveBackend(store, timeout_s=1.5 * budget if budget else None, soft_budget=1 / 1.5, isolate=isolate,
                          datasets={data: dataset}, setup_modules=("agenticrs.recsys.design",), run_id=run_id,
                          agent="paper-autotrain", env="paper-autotrain", reuse=())

    def progress(arm: str, seed: int, result: Any) -> None:
        if log is not None:
            value = result.test.get("ndcg@10", float("nan")) if result.ok else result.reason[:80]
            print(f"  seed {seed} {arm:8s} {result.status} test ndcg@10 {value} "
                  f"({result.cost.get('seconds', 0):.1f}s)", file=log, flush=True)

    try:
        report = pa.run_autotrain(method, settings, translation, BackendEvaluator(backend, task), recorder, progress)
    finally:
        backend.close()
    report["knowledge"] = {"path": str(store.path), "run_id": run_id}
    from agenticrs.benchmarks.common import run_header

    report["run"] = run_header(" ".join(["agenticrs", *sys.argv[1:]]) if log is not None else None)
    pa.write_report(report, out_dir)
    return report


def run(args: argparse.Namespace) -> int:
    report = paper_autotrain(args.method, args.data, args.baseline, args.out, seeds=args.seeds, budget=args.budget,
                             epochs=args.epochs, proposer=args.proposer, model=args.model, knowledge=args.knowledge,
                             isolate=args.isolate, log=sys.stderr)
    t = report["translation"]
    print(f"{report['method']['title']}: {report['status']} ({t['translator']})")
    for u in t["untranslatable"]:
        print(f"  not translatable: {u['text']}: {u['reason']}")
    head = report.get("comparison", {}).get("test/ndcg@10")
    if head:
        print(f"  test ndcg@10 baseline {head['baseline']['mean']:.4f} variant {head['variant']['mean']:.4f} "
              f"diff {head['diff']['mean']:+.4f} ± {head['diff']['std']:.4f} ({head['wins']}/{head['pairs']} seeds)")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0
