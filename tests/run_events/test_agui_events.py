"""The AG-UI events toolmesh builds by hand have exactly the shape of the protocol's own models."""

from __future__ import annotations

from typing import Any

from ag_ui.core import TextMessageContentEvent, ToolCallArgsEvent

from run_events import text_content, tool_call_args


def _wire(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def test_hand_built_delta_events_have_the_ag_ui_models_shape() -> None:
    made = text_content("m1", "Hello", 7)
    assert made == _wire(TextMessageContentEvent.model_validate(made)) and list(made)[0] == "type"
    made = tool_call_args("c1", '{"q"', 7)
    assert made == _wire(ToolCallArgsEvent.model_validate(made))
