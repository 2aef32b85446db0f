"""Paper autotrain: a method description becomes a program, trains against its baseline at equal
budgets over seeds, and ends as a comparison report.

A method description is markdown: a ``# Title``, free text, and optionally a **structured
section**, a fenced block whose info string is ``agenticrs-method``::

    ```agenticrs-method
    replace attention with filter causal=true     # every attention block becomes a filter block
    replace mlp with gated_mlp expansion=2        # fields given override the new kind's defaults
    set loss.kind=sampled_softmax loss.negatives=64 train.lr=0.002
    block filter causal=true                      # "block" lines together replace the whole block list
    block mlp expansion=1 activation=relu
    requires an item-item graph convolution       # a part the language cannot express
    ```

One statement a line, ``#`` comments. ``replace KIND with KIND2 [field=value ...]`` keeps each
replaced block's norm / residual / dropout; ``set PATH=VALUE ...`` sets program fields (``dim``,
``loss.kind``, ``train.lr``, ``inputs.time_gap``; values as in the language's text form);
``block KIND ...`` lines (as in the text form) replace the block list; ``requires TEXT`` declares a
component the method needs that the language does not have. Two translators turn a description
into a program: ``rules`` (:func:`translate_rules`, the structured section, deterministic) and
``llm`` (:func:`translate_llm`, a language model reads the free text, constrained to the language).

What cannot be translated is collected with its reason, never raised: an unknown block kind, an
unknown field, a value out of range, a ``requires`` line, a program that fails validation. A
method whose variant is not a valid program different from the baseline is reported as not
expressible, without training; a partially translated one is trained and flagged as partial.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from agenticrs.recsys.design import (
    BLOCKS,
    LIBRARY,
    DesignError,
    Loss,
    Program,
    ValueRangeError,
    canonical_dict,
    find_errors,
    from_dict,
    program_hash,
    to_dict,
    to_text,
)
from agenticrs.recsys.design.program import SECTIONS, defaults, section_dict

FENCE = "agenticrs-method"
_FENCE_RE = re.compile(r"^```+\s*" + re.escape(FENCE) + r"\s*$")


# ---------------------------------------------------------------------- reading
@dataclass(frozen=True)
class MethodDescription:
    """A parsed method file.

    Attributes:
        title: the first ``# `` heading (else the file name).
        text: the markdown without the structured block (what a language model reads).
        statements: ``(line number, statement)`` of the structured block, comments and blanks dropped
            (``None``: the file has no structured block).
        path: where it was read from.
    """

    title: str
    text: str
    statements: tuple[tuple[int, str], ...] | None
    path: str = ""


def parse_method(markdown: str, path: str = "") -> MethodDescription:
    """A :class:`MethodDescription` from markdown text.

    Raises:
        ValueError: an unclosed structured block, or two of them (names the line).
    """
    lines = markdown.splitlines()
    title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), Path(path).stem or "method")
    text_lines: list[str] = []
    statements: list[tuple[int, str]] | None = None
    i = 0
    while i < len(lines):
        if _FENCE_RE.match(lines[i].strip()):
            if statements is not None:
                raise ValueError(f"{path or 'method'}:{i + 1}: a second ```{FENCE} block; write one")
            statements, start = [], i + 1
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                stmt = lines[i].split("#", 1)[0].strip()
                if stmt:
                    statements.append((i + 1, stmt))
                i += 1
            if i == len(lines):
                raise ValueError(f"{path or 'method'}:{start}: the ```{FENCE} block is not closed")
        else:
            text_lines.append(lines[i])
        i += 1
    return MethodDescription(title, "\n".join(text_lines).strip(), tuple(statements) if statements is not None else None,
                             path)


def read_method(path: str | Path) -> MethodDescription:
    """:func:`parse_method` of a file (``FileNotFoundError`` names it)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"method description {str(p)!r} not found")
    return parse_method(p.read_text(encoding="utf-8"), str(p))


# ---------------------------------------------------------------------- translating
@dataclass
class Translation:
    """A method translated into a program of the language.

    Attributes:
        program: the variant (``None``: nothing valid came out).
        translator: ``rules`` or ``llm:<model>``.
        applied: statements (or, for ``llm``, the changes) that made it into the program.
        untranslatable: ``{"line", "text", "reason"}`` of every part that did not.
        changes: ``path: baseline -> variant`` lines, the variant's difference from the baseline.
    """

    program: Program | None
    translator: str
    applied: list[str] = field(default_factory=list)
    untranslatable: list[dict[str, Any]] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    @property
    def expressible(self) -> bool:
        """A valid variant that differs from the baseline."""
        return self.program is not None and bool(self.changes)

    @property
    def partial(self) -> bool:
        return self.expressible and bool(self.untranslatable)

    def to_dict(self) -> dict[str, Any]:
        return {"translator": self.translator, "expressible": self.expressible, "partial": self.partial,
                "applied": self.applied, "untranslatable": self.untranslatable, "changes": self.changes,
                "program": canonical_dict(self.program) if self.program is not None else None,
                "program_text": to_text(self.program) if self.program is not None else None}


def program_changes(base: Program, variant: Program) -> list[str]:
    """Human-readable differences (``loss.kind: bce -> ce``; the block lists as kind sequences)."""
    a, b = canonical_dict(base), canonical_dict(variant)
    out = []
    for key in ("dim", "max_len", "init"):
        if a[key] != b[key]:
            out.append(f"{key}: {a[key]} -> {b[key]}")
    if a["blocks"] != b["blocks"]:
        def kinds(p: Program) -> str:
            return " | ".join(_block_text(x) for x in p.blocks)

        out.append(f"blocks: [{kinds(base)}] -> [{kinds(variant)}]")
    for name in SECTIONS:
        for k, v in b[name].items():
            if a[name].get(k) != v:
                out.append(f"{name}.{k}: {a[name].get(k)} -> {v}")
    return out


def _block_text(block: Any) -> str:
    d, dflt = section_dict(block), defaults(type(block))
    kind = d.pop("kind")
    extra = " ".join(f"{k}={v}" for k, v in d.items() if dflt.get(k) != v)
    return f"{kind} {extra}".strip()


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    head, _, rest = path.partition(".")
    if rest:
        if head not in SECTIONS:
            raise DesignError(f"unknown section {head!r}; sections: {', '.join(SECTIONS)}", path)
        data[head] = {**data[head], rest: value}
    else:
        if head in SECTIONS or head == "blocks":
            raise DesignError(f"{head!r} is a section; set one of its fields ({head}.FIELD=VALUE)", path)
        data[head] = value


_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)=("(?:[^"\\]|\\.)*"|\S+)')


def _value(token: str) -> Any:
    """A value as the language's text form writes it: true/false, int, float, "json string", bare word."""
    if token.startswith('"'):
        return json.loads(token)
    if token in ("true", "false"):
        return token == "true"
    for cast in (int, float):
        try:
            return cast(token)
        except ValueError:
            pass
    return token


def _pairs(text: str) -> dict[str, Any]:
    """``key=value ...`` (keys may be dotted paths); anything else is a :class:`DesignError`."""
    out: dict[str, Any] = {}
    rest = text.strip()
    while rest:
        m = _PAIR.match(rest)
        if m is None:
            raise DesignError(f"expected key=value, got {rest.split()[0]!r}")
        try:
            out[m.group(1)] = _value(m.group(2))
        except json.JSONDecodeError:
            raise DesignError(f"bad quoted string {m.group(2)}") from None
        rest = rest[m.end():].strip()
    return out


def translate_rules(method: MethodDescription, base: Program, n_items: int | None = None) -> Translation:
    """The structured section applied to ``base`` (see the module docstring); never raises for
    the method's content."""
    out = Translation(None, "rules")
    if method.statements is None:
        out.untranslatable.append({"line": None, "text": "(whole method)",
                                   "reason": f"no ```{FENCE} section: the rule-based translator needs one "
                                             "(or use the llm translator on the free text)"})
        return out
    data = {**to_dict(base), "name": ""}
    new_blocks: list[dict[str, Any]] = []
    for line, stmt in method.statements:
        verb, _, rest = stmt.partition(" ")
        before = copy.deepcopy(data)  # a statement applies whole or not at all
        try:
            if verb == "requires":
                losses = ", ".join(dataclasses.fields(Loss)[0].metadata["choices"])
                raise DesignError(f"the method needs a component the design language does not have (block kinds: "
                                  f"{', '.join(BLOCKS)}; losses: {losses})")
            if verb == "replace":
                m = re.match(r"^(\w+)\s+with\s+(\w+)\s*(.*)$", rest.strip())
                if not m:
                    raise DesignError("expected: replace KIND with KIND2 [field=value ...]")
                old, new, fields = m.groups()
                for kind in (old, new):
                    if kind not in BLOCKS:
                        raise DesignError(f"block kind {kind!r} is not in the language; kinds: {', '.join(BLOCKS)}")
                if not any(b["kind"] == old for b in data["blocks"]):
                    raise DesignError(f"the baseline has no {old!r} block to replace")
                extra = _pairs(fields)
                data["blocks"] = [
                    {"kind": new, **{k: b[k] for k in ("norm", "residual", "dropout") if k in b}, **extra}
                    if b["kind"] == old else b for b in data["blocks"]]
            elif verb == "set":
                if not rest.strip():
                    raise DesignError("expected: set PATH=VALUE ...")
                for path, value in _pairs(rest).items():
                    _set(data, path, value)
            elif verb == "block":
                kind, _, fields = rest.strip().partition(" ")
                if kind not in BLOCKS:
                    raise DesignError(f"block kind {kind!r} is not in the language; kinds: {', '.join(BLOCKS)}")
                new_blocks.append({"kind": kind, **_pairs(fields)})
            else:
                raise DesignError(f"unknown statement {verb!r}; statements: replace, set, block, requires")
            # Structure, types, ranges and choices now (limits and combinations once, at the end:
            # a method may pass through an incompatible state, e.g. bidirectional blocks before cloze).
            ranges = [e for e in find_errors(from_dict(data)) if isinstance(e, ValueRangeError)]
            if ranges:
                raise ranges[0]
        except DesignError as e:
            out.untranslatable.append({"line": line, "text": stmt, "reason": str(e)})
            data = before
            continue
        out.applied.append(stmt)
    if new_blocks:
        data["blocks"] = new_blocks
        out.applied.append(f"block list: {len(new_blocks)} blocks")
    try:
        program = from_dict(data)
    except DesignError as e:
        out.untranslatable.append({"line": None, "text": "(program)", "reason": str(e)})
        return out
    return _finish(out, program, base, n_items)


def _finish(out: Translation, program: Program, base: Program, n_items: int | None) -> Translation:
    """Validate the variant; record its changes (or why it is not a usable variant)."""
    try:
        errors = find_errors(program, n_items=n_items)
    except RuntimeError as e:  # the parameter count builds the model
        errors = [DesignError(f"validation failed: {e}")]
    if errors:
        out.untranslatable += [{"line": None, "text": "(program)", "reason": f"invalid program: {e}"} for e in errors]
        return out
    out.program = program
    out.changes = program_changes(base, program)
    if not out.changes:
        out.untranslatable.append({"line": None, "text": "(program)",
                                   "reason": "the translated program is the baseline itself: nothing to compare"})
    return out


def translate_llm(method: MethodDescription, base: Program, baseline_name: str, model: Any,
                  n_items: int | None = None, seed: int = 0, max_attempts: int = 3, recorder: Any = None,
                  max_tokens: int = 384) -> Translation:
    """A language model reads the method's free text and writes the variant (constrained to the
    language's JSON Schema; parse / validate / repair within ``max_attempts`` calls)."""
    from agenticrs.policies.llm import load_prompt
    from agenticrs.policies.llm.writer import ProgramWriter, compact

    writer = ProgramWriter(model, n_items=n_items, max_attempts=max_attempts, record=recorder, max_tokens=max_tokens)
    values = {"baseline": baseline_name, "base": compact(base, Program()), "method": method.text[:4000]}
    result = writer.write(load_prompt("paper"), values, base, seed,
                          reject=lambda p: "the same program as the baseline"
                          if program_hash(p) == program_hash(base) else None)
    out = Translation(None, f"llm:{model.name}")
    if result.program is None:
        out.untranslatable.append({"line": None, "text": "(whole method)",
                                   "reason": f"no valid program in {len(result.attempts)} model calls: {result.error}"})
        return out
    out = _finish(out, result.program, base, n_items)
    out.applied = list(out.changes)
    return out


# ---------------------------------------------------------------------- comparing
def _mean_std(values: Sequence[float]) -> dict[str, float]:
    arr = np.asarray([v for v in values if v == v], dtype=float)
    if arr.size == 0:
        return {"mean": math.nan, "std": math.nan, "n": 0}
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0, "n": int(arr.size)}


def compare(baseline: Sequence[Any], variant: Sequence[Any], metrics: Sequence[str]) -> dict[str, Any]:
    """Per metric and split: mean ± std of each arm and of the seed-paired difference, the relative
    change, wins, and a paired t-test (``scipy.stats.ttest_rel``; needs 2+ pairs)."""
    from scipy import stats

    out: dict[str, Any] = {}
    for split in ("valid", "test"):
        for metric in metrics:
            a = [getattr(r, split).get(metric, math.nan) if r.ok else math.nan for r in baseline]
            b = [getattr(r, split).get(metric, math.nan) if r.ok else math.nan for r in variant]
            pairs = [(x, y) for x, y in zip(a, b) if x == x and y == y]
            diff = [y - x for x, y in pairs]
            entry: dict[str, Any] = {"baseline": _mean_std(a), "variant": _mean_std(b), "diff": _mean_std(diff),
                                     "wins": sum(d > 0 for d in diff), "pairs": len(pairs)}
            base_mean = entry["baseline"]["mean"]
            entry["relative"] = entry["diff"]["mean"] / base_mean if base_mean and base_mean == base_mean else math.nan
            if len(pairs) >= 2 and np.std(diff) > 0:
                entry["p_paired_t"] = float(stats.ttest_rel([y for _, y in pairs], [x for x, _ in pairs]).pvalue)
            else:
                entry["p_paired_t"] = math.nan
            out[f"{split}/{metric}"] = entry
    return out


def _cost(results: Sequence[Any]) -> dict[str, Any]:
    return {k: _mean_std([float(r.cost.get(k, math.nan)) for r in results])
            for k in ("seconds", "train_seconds", "params", "epochs")}


@dataclass
class AutotrainSettings:
    """How baseline and variant are trained (equal for both).

    Attributes:
        data: the dataset URI (``load_dataset``).
        baseline: a library program name (``sasrec``, ``sasrec_ce``, ``bert4rec``, ``gru4rec``, ``fmlp``, ``gmlp``).
        seeds: training seeds; each seed trains both arms (paired).
        epochs: epochs of every run (``None``: the baseline's).
        budget_s: wall-clock seconds of every training run (``None``: epochs only).
        metrics: metrics reported (the first is the headline).
    """

    data: str
    baseline: str = "sasrec_ce"
    seeds: int = 3
    epochs: int | None = None
    budget_s: float | None = None
    metrics: tuple[str, ...] = ("ndcg@10", "recall@10")


def baseline_program(name: str) -> Program:
    if name not in LIBRARY:
        raise KeyError(f"unknown baseline {name!r}; baselines (library programs): {', '.join(LIBRARY)}")
    return LIBRARY[name]


def run_autotrain(method: MethodDescription, settings: AutotrainSettings, translation: Translation,
                  evaluator: Any, recorder: Any = None, progress: Any = None) -> dict[str, Any]:
    """Train baseline and variant over the seeds (when the variant is expressible) and build the
    report dict. ``evaluator(program, fidelity, seed) -> TrialResult`` (a ``BackendEvaluator``)."""
    base = baseline_program(settings.baseline)
    epochs = settings.epochs or base.train.epochs

    def equal(p: Program) -> Program:  # equal budgets: the same epochs for both arms
        return dataclasses.replace(p, name="", train=dataclasses.replace(p.train, epochs=epochs))

    report: dict[str, Any] = {
        "method": {"title": method.title, "path": method.path, "structured": method.statements is not None},
        "settings": {**dataclasses.asdict(settings), "epochs": epochs},
        "baseline": {"name": settings.baseline, "program": canonical_dict(equal(base)),
                     "program_text": to_text(equal(base))},
        "translation": translation.to_dict(),
        "status": "not expressible",
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if recorder is not None:
        recorder.note({"event": "translation", "title": method.title, **translation.to_dict()})
    if not translation.expressible:
        return report
    variant = equal(translation.program)
    report["variant"] = {"program": canonical_dict(variant), "program_text": to_text(variant),
                         "program_hash": program_hash(variant)}
    runs: dict[str, list[Any]] = {"baseline": [], "variant": []}
    for seed in range(settings.seeds):
        for arm, program in (("baseline", equal(base)), ("variant", variant)):
            result = evaluator(program, 1.0, seed)
            runs[arm].append(result)
            if recorder is not None:
                recorder.result(program, {"arm": arm, "seed": seed, "status": result.status, "reason": result.reason,
                                          "valid": dict(result.valid), "test": dict(result.test),
                                          "cost": dict(result.cost)})
            if progress is not None:
                progress(arm, seed, result)
    report["runs"] = {arm: [{"seed": r.seed, "status": r.status, "reason": r.reason, "valid": dict(r.valid),
                             "test": dict(r.test), "cost": dict(r.cost)} for r in rs] for arm, rs in runs.items()}
    report["comparison"] = compare(runs["baseline"], runs["variant"], settings.metrics)
    report["cost"] = {arm: _cost(rs) for arm, rs in runs.items()}
    failed = [r for rs in runs.values() for r in rs if not r.ok]
    report["status"] = ("partially translated" if translation.partial else "translated") + \
        (f"; {len(failed)} of {2 * settings.seeds} runs failed" if failed else "")
    return report


# ---------------------------------------------------------------------- writing
def _fmt(stat: dict[str, float], digits: int = 4) -> str:
    if not stat or stat.get("n", 0) == 0:
        return "-"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def report_markdown(report: dict[str, Any]) -> str:
    """The report as markdown (what ``report.md`` holds)."""
    m, s, t = report["method"], report["settings"], report["translation"]
    lines = [f"# Paper autotrain: {m['title']}", "",
             f"Method: `{m['path']}`; data `{s['data']}`; baseline `{s['baseline']}`; {s['seeds']} seeds; "
             f"{s['epochs']} epochs per run" + (f", {s['budget_s']:g} s budget per run" if s.get("budget_s") else "")
             + f"; translator `{t['translator']}`. Status: **{report['status']}**. {report['created']}.", ""]
    run = report.get("run")
    if run:
        from agenticrs.benchmarks.common import machine_line

        lines += [f"Command: `{run['command']}`  ", f"Machine: {machine_line(run['machine'])}.", ""]
    lines += ["## Translation", ""]
    if t["translator"].startswith("llm"):
        lines += ["A language model wrote the variant from the free text; nothing checks that it is faithful to "
                  "the method. Read the changes below against the method before reading the results.", ""]
    if t["changes"]:
        lines += ["Changes from the baseline:", ""] + [f"- `{c}`" for c in t["changes"]] + [""]
    if t["untranslatable"]:
        lines += ["Not translatable:", ""]
        for u in t["untranslatable"]:
            where = f"line {u['line']}: " if u.get("line") else ""
            lines.append(f"- {where}`{u['text']}` — {u['reason']}")
        lines.append("")
    if "variant" in report:
        lines += ["Variant program:", "", "```", report["variant"]["program_text"].rstrip(), "```", "",
                  "Baseline program:", "", "```", report["baseline"]["program_text"].rstrip(), "```", ""]
    if "comparison" in report:
        lines += ["## Results (mean ± std over seeds; difference = variant − baseline, paired by seed)", "",
                  "| metric | baseline | variant | difference | relative | wins | paired t p |",
                  "|---|---|---|---|---|---|---|"]
        for key, e in report["comparison"].items():
            rel = f"{100 * e['relative']:+.1f}%" if e["relative"] == e["relative"] else "-"
            p = f"{e['p_paired_t']:.3f}" if e["p_paired_t"] == e["p_paired_t"] else "-"
            lines.append(f"| {key} | {_fmt(e['baseline'])} | {_fmt(e['variant'])} | {_fmt(e['diff'])} | {rel} | "
                         f"{e['wins']}/{e['pairs']} | {p} |")
        lines += ["", "| cost (mean ± std per run) | baseline | variant |", "|---|---|---|"]
        for k in ("train_seconds", "seconds", "params", "epochs"):
            lines.append(f"| {k} | {_fmt(report['cost']['baseline'][k], 1)} | {_fmt(report['cost']['variant'][k], 1)} |")
        fails = [(arm, r) for arm, rs in report["runs"].items() for r in rs if r["status"] != "ok"]
        if fails:
            lines += ["", "Failed runs:", ""] + [f"- {arm} seed {r['seed']}: {r['status']}: {r['reason']}"
                                                 for arm, r in fails]
    else:
        lines += ["## Results", "", "Not trained: the method could not be expressed as a program different from "
                  "the baseline (see above)."]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """``report.json`` and ``report.md`` under ``out`` (created); returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / "report.json", out / "report.md"
    js.write_text(json.dumps(report, indent=1, sort_keys=False, default=str) + "\n")
    md.write_text(report_markdown(report))
    return js, md


__all__ = ["AutotrainSettings", "FENCE", "MethodDescription", "Translation", "baseline_program", "compare",
           "parse_method", "program_changes", "read_method", "report_markdown", "run_autotrain", "translate_llm",
           "translate_rules", "write_report"]
