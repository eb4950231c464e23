"""The messages step's answer, checked: every message gets a decision, and nothing unexpected happens."""

from __future__ import annotations

import json

from agent_loop.message_meaning import parse_meaning


def test_each_message_gets_the_models_decision() -> None:
    content = json.dumps(
        {
            "decisions": [
                {"id": "m1", "meaning": "task", "tasks": ["Email the team"]},
                {"id": "m2", "meaning": "stop"},
            ],
            "reply": "Will do; stopping after.",
        }
    )
    meaning = parse_meaning(content, ["m1", "m2"], {"m1": "email them", "m2": "stop"})
    assert [(d.message_id, d.meaning, d.tasks) for d in meaning.decisions] == [
        ("m1", "task", ["Email the team"]),
        ("m2", "stop", []),
    ]
    assert meaning.reply == "Will do; stopping after."


def test_a_message_left_out_or_given_an_unknown_meaning_is_only_noted() -> None:
    content = json.dumps({"decisions": [{"id": "m2", "meaning": "launch the rockets"}]})
    meaning = parse_meaning(content, ["m1", "m2"], {"m1": "hi", "m2": "go"})
    assert [d.meaning for d in meaning.decisions] == ["chat", "chat"]
    assert meaning.reply == ""


def test_a_task_without_tasks_takes_the_message_itself() -> None:
    content = '```json\n{"decisions": [{"id": "m1", "meaning": "plan"}], "reply": 5}\n```'
    meaning = parse_meaning(content, ["m1"], {"m1": "Write the summary first"})
    assert meaning.decisions[0].tasks == ["Write the summary first"]
    assert meaning.reply == ""


def test_an_answer_that_is_not_json_changes_nothing() -> None:
    meaning = parse_meaning("I'd rather not", ["m1"], {"m1": "hello"})
    assert [d.meaning for d in meaning.decisions] == ["chat"]


def test_tasks_per_message_are_bounded() -> None:
    content = json.dumps({"decisions": [{"id": "m1", "meaning": "task", "tasks": [f"t{i}" for i in range(50)]}]})
    assert len(parse_meaning(content, ["m1"], {"m1": "x"}).decisions[0].tasks) == 5
