"""``agenticrs envs``: the registered environments, their spaces and backends (from the registry)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from agenticrs.cli.errors import CLIError
from agenticrs.cli.table import format_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("envs", help="list the registered environments with their spaces and backends")
    p.add_argument("--json", action="store_true", help="print the registry as JSON (one object per env)")
    p.add_argument("--markdown", action="store_true",
                   help="print the README's env table (markdown, from the registry and the env docstrings)")
    p.set_defaults(func=run)


class UnknownEnvError(KeyError, CLIError):
    """An env id that is not registered; the message names the closest ids and the registered ones."""

    def __str__(self) -> str:
        return str(self.args[0])


def _unknown(env_id: str, candidates: list[str]) -> UnknownEnvError:
    import difflib

    from agenticrs.envs import registration

    close = difflib.get_close_matches(env_id, candidates, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    known = ", ".join(registration.list_env_ids()) or "none"
    return UnknownEnvError(f"unknown env {env_id!r}; {hint}registered: {known} (see `agenticrs envs`; "
                           f"your own ids must be registered before the command runs, e.g. by a plugin)")


def env_record(env_id: str) -> Any:
    """The :class:`~agenticrs.envs.registration.EnvRecord` of ``env_id``.

    Raises:
        UnknownEnvError: ``env_id`` is not registered (names the closest and the registered ids).
    """
    from agenticrs.envs import registration

    record = registration._ENVS.get(env_id)
    if record is None:
        raise _unknown(env_id, registration.list_env_ids())
    return record


def check_env_id(env_id: str) -> None:
    """Accept any id Gymnasium knows (agenticrs' and ids a user registered with ``gymnasium.register``).

    Raises:
        UnknownEnvError: naming the closest registered ids (difflib) and agenticrs' ids.
    """
    import gymnasium as gym

    if env_id not in gym.registry:
        raise _unknown(env_id, sorted(gym.registry))


def env_action_space(env_id: str) -> Any:
    """The action space of a registered env, built cheaply with its ``describe_kwargs``."""
    import gymnasium as gym

    record = env_record(env_id)
    env = gym.make(env_id, disable_env_checker=True, **record.describe_kwargs)
    try:
        return env.unwrapped.action_space
    finally:
        env.close()


def _summary(entry_point: str) -> str:
    """First line of the env class's docstring (its one-line spec)."""
    import importlib

    module, _, name = entry_point.partition(":")
    try:
        doc = getattr(importlib.import_module(module), name).__doc__ or ""
    except (ImportError, AttributeError):
        return ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def markdown_table(rows: list[dict[str, Any]], short: dict[str, str]) -> str:
    """The README's env table: id, what it does, action / observation spaces, canonical size, backends."""
    lines = ["| id | what | action space | canonical | observation | backends |", "|---|---|---|---|---|---|"]
    for r in rows:
        canonical = str(r.get("canonical_pairs", "-"))
        if "canonical_configs" in r:
            canonical = f"{r['canonical_configs']} configs / {canonical} pairs"
        cells = [f"`{r['id']}`", _summary(r["entry_point"]), f"`{short.get(r['id'], '-')}`", canonical,
                 f"`{r.get('observation_space', '-')}`", ", ".join(r["backends"]) or "-"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _describe_multi_agent(row: dict[str, Any], short: dict[str, str]) -> None:
    """Per-agent spaces of a multi-agent env, compactly: ``agent MultiDiscrete([..])`` and observation shapes."""
    import gymnasium as gym

    env = gym.make(row["id"], disable_env_checker=True, **env_record(row["id"]).describe_kwargs).unwrapped
    try:
        acts, obs = env.action_spaces, env.observation_spaces
        short[row["id"]] = "; ".join(f"{a} MultiDiscrete({acts[a].nvec.tolist()})" for a in env.possible_agents)
        box = next(iter(obs.values()))
        row["observation_space"] = (f"per agent Box({box.low.min()}, {box.high.max()}, "
                                    + ", ".join(f"{a} {obs[a].shape}" for a in env.possible_agents) + ")")
        row["agents"] = list(env.possible_agents)
    finally:
        env.close()


def run(args: argparse.Namespace) -> int:
    from agenticrs.envs.registration import list_envs

    rows = list_envs()
    short: dict[str, str] = {}
    for row in rows:
        if "error" not in row and env_record(row["id"]).multi_agent:
            _describe_multi_agent(row, short)
        elif "error" not in row:
            space = env_action_space(row["id"])
            nvec = getattr(space, "nvec", None)
            short[row["id"]] = f"MultiDiscrete({nvec.tolist()})" if nvec is not None else row["action_space"]
            if callable(getattr(space, "enumerate", None)):  # enumerable spaces: canonical configurations
                row["canonical_pairs"] = len(space.enumerate())
                if callable(getattr(space, "configs", None)):
                    row["canonical_configs"] = len(space.configs())
            if callable(getattr(space, "describe", None)):
                row["action_space_describe"] = space.describe()
    if args.json:
        print(json.dumps(rows, indent=1, default=str))
        return 0
    if args.markdown:
        print(markdown_table(rows, short))
        return 0
    if not rows:
        print("no environments registered")
        return 0
    table = []
    for r in rows:
        pairs = str(r.get("canonical_pairs", "-"))
        if "canonical_configs" in r:
            pairs = f"{r['canonical_configs']} configs / {pairs} pairs"
        table.append([r["id"], ", ".join(r["backends"]) or "-", short.get(r["id"], "-"), pairs,
                      r.get("observation_space", r.get("error", "-"))])
    print(format_table(["id", "backends", "action space", "canonical", "observation space"], table))
    print("\nentry points:")
    for r in rows:
        print(f"  {r['id']} = {r['entry_point']}")
    return 0
