"""specs/agents.yaml: each entry validated alone, the built-in default agent, how an agent shapes a run."""

from __future__ import annotations

from pathlib import Path

import yaml

from agent_loop.agents import DEFAULT_AGENT, AgentConfig, apply_agent, load_agent_config, parse_agent_config
from agent_loop.routing import parse_route, route_by_rules
from agent_loop.run_request import RunRequest

REPO = Path(__file__).parents[2]


def test_the_shipped_agents_file_is_valid() -> None:
    config = load_agent_config(REPO / "specs" / "agents.yaml")
    assert config.problems == []
    assert {"customer_support", "technical_support", DEFAULT_AGENT} <= set(config.agents)
    assert config.networks["support"].agents == ["customer_support", "technical_support"]


def test_a_missing_file_means_only_the_built_in_agent(tmp_path: Path) -> None:
    config = load_agent_config(tmp_path / "absent.yaml")
    assert list(config.agents) == [DEFAULT_AGENT] and config.problems == []


def test_a_bad_entry_fails_alone_with_a_message_naming_the_field() -> None:
    config = parse_agent_config(
        {
            "agents": {
                "good": {"description": "Fine."},
                "bad": {"description": "Bad.", "budgets": {"max_tool_calls_per_task": 0}},
                "default": {"description": "Mine."},
                "9lives": {"description": "Bad name."},
                "scalar": "not a mapping",
            },
            "networks": {
                "ok": {"agents": ["good"]},
                "uses_bad": {"agents": ["good", "bad"]},
                "stray_rule": {"agents": ["good"], "router": {"rules": [{"agent": "other", "keywords": ["x"]}]}},
                "empty_rule": {"agents": ["good"], "router": {"rules": [{"agent": "good"}]}},
            },
        }
    )
    assert set(config.agents) == {"good", DEFAULT_AGENT} and set(config.networks) == {"ok"}
    problems = {(p.kind, p.name): p.message for p in config.problems}
    assert "budgets.max_tool_calls_per_task" in problems[("agent", "bad")]
    assert "built-in" in problems[("agent", "default")]
    assert "name" in problems[("agent", "9lives")]
    assert "mapping" in problems[("agent", "scalar")]
    assert "'bad' is invalid" in problems[("network", "uses_bad")]
    assert "not one of the network's agents" in problems[("network", "stray_rule")]
    assert "keywords or tags" in problems[("network", "empty_rule")]


def test_a_broken_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text("agents: [unclosed")
    config = load_agent_config(path)
    assert config.problems[0].kind == "file" and "does not parse" in config.problems[0].message
    assert list(config.agents) == [DEFAULT_AGENT]


def test_the_config_round_trips_through_history() -> None:
    config = load_agent_config(REPO / "specs" / "agents.yaml")
    again = AgentConfig.from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict())))
    assert again.to_dict() == config.to_dict()


def test_an_agent_narrows_the_run_but_never_widens_its_budgets() -> None:
    config = parse_agent_config(
        {
            "agents": {
                "a": {
                    "description": "A.",
                    "tools": ["calc", "createNote"],
                    "model": "small",
                    "budgets": {"max_tool_calls_per_task": 2, "max_tokens": 10_000_000 // 4},
                    "approval": {"createNote": "always", "calc": "never"},
                }
            }
        }
    )
    request = RunRequest.model_validate(
        {"objective": "x", "budgets": {"max_tokens": 50_000}, "approval": {"calc": "always"}}
    )
    shaped = apply_agent(request, config.agents["a"])
    assert shaped.tools == ["calc", "createNote"] and shaped.model == "small"
    assert shaped.budgets.max_tool_calls_per_task == 2 and shaped.budgets.max_tokens == 50_000
    assert shaped.approval == {"createNote": "always", "calc": "always"}  # the run's own override wins
    assert apply_agent(request.model_copy(update={"model": "big"}), config.agents["a"]).model == "big"


def test_rules_route_by_whole_word_or_run_tag_before_the_model() -> None:
    config = parse_agent_config(
        {
            "agents": {"a": {"description": "A."}, "b": {"description": "B."}},
            "networks": {
                "n": {
                    "agents": ["a", "b"],
                    "router": {"rules": [{"agent": "b", "keywords": ["crash"], "tags": ["vip"]}]},
                }
            },
        }
    )
    network = config.networks["n"]
    assert route_by_rules(network, "The app CRASH on start", []).agent == "b"  # type: ignore[union-attr]
    assert route_by_rules(network, "crashed", []) is None  # whole words only
    assert route_by_rules(network, "hello", ["vip"]).reason == "rule 1: the run is tagged 'vip'"  # type: ignore[union-attr]
    assert parse_route('{"agent": "a", "reason": "fits"}', network).by == "model"
    fallback = parse_route('{"agent": "z"}', network)
    assert fallback.agent == "a" and fallback.by == "fallback" and "named no agent" in fallback.reason
