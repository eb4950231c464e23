"""Which agent of a network runs a task: deterministic rules first, else a routing model step.

Pure functions: the rules are read in order and the first whose keyword is in the task's text
(whole words, case-insensitive) or whose tag the run carries wins. The routing step sees the
agents' names and descriptions and answers ``{"agent": ..., "reason": ...}``; an answer that
names no agent of the network falls back to the network's first agent, and says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .agents import AgentSpec, NetworkSpec
from .planning import one_line, parse_json_object

__all__ = ["Route", "parse_route", "route_by_rules", "routing_messages"]


@dataclass(frozen=True, kw_only=True)
class Route:
    agent: str
    reason: str
    by: str
    """"rule", "model" or "fallback"."""


def _has_word(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(phrase.lower())}(?![A-Za-z0-9])", text.lower()) is not None


def route_by_rules(network: NetworkSpec, task: str, tags: list[str]) -> Route | None:
    for index, rule in enumerate(network.router.rules):
        word = next((k for k in rule.keywords if _has_word(task, k)), None)
        if word is not None:
            return Route(agent=rule.agent, reason=f"rule {index + 1}: the task mentions {word!r}", by="rule")
        tag = next((t for t in rule.tags if t in tags), None)
        if tag is not None:
            return Route(agent=rule.agent, reason=f"rule {index + 1}: the run is tagged {tag!r}", by="rule")
    return None


def routing_messages(
    objective: str, task: str, network: NetworkSpec, agents: dict[str, AgentSpec], note: str = ""
) -> list[dict[str, Any]]:
    """The routing step's prompt, in the step-marker form every model step uses."""
    system = (
        "[toolmesh:route]\nYou route one task of a larger objective to the agent best suited to do it. "
        "Read the agents' descriptions and answer with a JSON object "
        '{"agent": "<one of the agent names>", "reason": "<one sentence>"}.'
    )
    payload = {
        "objective": objective,
        "task": task,
        "network": network.name,
        "agents": [{"name": name, "description": agents[name].description} for name in network.agents],
    }
    if note:
        payload["note"] = note
    return [{"role": "system", "content": system}, {"role": "user", "content": json.dumps(payload, ensure_ascii=False)}]


def parse_route(content: str | None, network: NetworkSpec) -> Route:
    parsed = parse_json_object(content) or {}
    agent = parsed.get("agent")
    reason = one_line(str(parsed.get("reason") or ""), 300)
    if isinstance(agent, str) and agent in network.agents:
        return Route(agent=agent, reason=reason or "chosen by the routing model", by="model")
    fallback = network.agents[0]
    return Route(
        agent=fallback,
        reason=f"the routing answer {one_line(str(content), 120)!r} named no agent of the network; {fallback} takes it",
        by="fallback",
    )
