"""The offline model splits objectives into imperative tasks and decides when the loop is done."""

from __future__ import annotations

from typing import Any

from llm_gateway.providers.offline.planner import create_tasks, prioritize, split_objective


def test_split_on_then_commas_and_and_before_verbs() -> None:
    assert split_objective("Find notes about solar panels, then write a summary note and compute 12*7.") == [
        "Find notes about solar panels",
        "Write a summary note",
        "Compute 12*7",
    ]


def test_and_between_nouns_stays_one_task() -> None:
    assert split_objective("Write a note about salt and pepper") == ["Write a note about salt and pepper"]


def test_numbered_and_bulleted_lines_are_tasks() -> None:
    objective = '1. Create a note titled "Groceries"\n2) list all notes\n- delete the note'
    assert split_objective(objective) == [
        'Create a note titled "Groceries"',
        "List all notes",
        "Delete the note",
    ]


def test_sentences_are_tasks_and_filler_words_dropped() -> None:
    assert split_objective("Please research Rome. Then summarize it in a note; finally tell me the result") == [
        "Research Rome",
        "Summarize it in a note",
        "Tell me the result",
    ]


def test_part_without_verb_becomes_imperative() -> None:
    assert split_objective("The weather in Paris") == ["Work on: The weather in Paris"]


def test_duplicates_removed() -> None:
    assert split_objective("List notes. list notes") == ["List notes"]


def test_first_create_tasks_call_plans_and_caps() -> None:
    request: dict[str, Any] = {
        "objective": "Add a note, then list notes, then delete it",
        "last_task": None,
        "done_tasks": [],
        "pending_tasks": [],
        "max_new_tasks": 2,
    }
    assert create_tasks(request) == {"tasks": ["Add a note", "List notes"], "objective_met": False}


def test_later_calls_add_nothing_and_finish_when_nothing_pending() -> None:
    later = {
        "objective": "x",
        "last_task": {"task": "Add a note", "result": "ok"},
        "done_tasks": ["Add a note"],
        "max_new_tasks": 3,
    }
    assert create_tasks({**later, "pending_tasks": ["List notes"]}) == {"tasks": [], "objective_met": False}
    assert create_tasks({**later, "pending_tasks": []}) == {"tasks": [], "objective_met": True}


def test_empty_objective_is_met_at_once() -> None:
    assert create_tasks({"objective": "  ", "last_task": None, "done_tasks": [], "pending_tasks": []}) == {
        "tasks": [],
        "objective_met": True,
    }


def test_prioritize_keeps_given_order() -> None:
    tasks = [{"id": 3, "task": "b"}, {"id": 1, "task": "a"}, {"id": 7, "task": "c"}]
    assert prioritize({"objective": "x", "tasks": tasks}) == {"order": [3, 1, 7]}
