"""A run's approval overrides tighten, never loosen, what the spec requires and the registry always asks."""

from __future__ import annotations

from agent_loop.tooling import needs_approval
from openapi_engine import ConversionOptions, ToolFunction, load_and_convert
from tests.support.servers import REPO_ROOT

NOTES_SPEC = REPO_ROOT / "specs" / "notes.openapi.json"


def _functions(**options: object) -> dict[str, ToolFunction]:
    converted = load_and_convert(str(NOTES_SPEC), ConversionOptions(tool="notes", **options))  # type: ignore[arg-type]
    return {f.name: f for f in converted.functions}


def test_a_run_cannot_waive_an_approval_the_spec_requires() -> None:
    delete = _functions(approval="never")["deleteNote"]  # x-toolmesh-approval: required in the spec
    for overrides in ({"deleteNote": "never"}, {"notes": "never"}, {"deleteNote": "default", "notes": "never"}):
        assert needs_approval(delete, overrides), overrides


def test_a_run_cannot_waive_the_registrys_always() -> None:
    listing = _functions(approval="always")["listNotes"]
    creating = _functions(approval="never", approval_overrides={"createNote": "always"})["createNote"]
    for function in (listing, creating):
        assert needs_approval(function, {function.name: "never", "notes": "never"}), function.name


def test_a_run_may_tighten_anything_and_relax_only_the_safe_methods_policy() -> None:
    policy = _functions(approval="safe-methods")
    assert needs_approval(policy["createNote"], {})
    assert not needs_approval(policy["createNote"], {"createNote": "never"})
    assert not needs_approval(policy["listNotes"], {})
    assert needs_approval(policy["listNotes"], {"notes": "always"})
    assert needs_approval(_functions(approval="never")["getNote"], {"getNote": "always"})
