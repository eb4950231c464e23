"""docs/settings.md lists every setting each deployable reads, as its settings class declares it."""

from __future__ import annotations

import pytest

from tests.support import settings_table
from tests.support.settings_table import deployables, settings_of

PREFIXES = {
    "orchestrator app": "TOOLMESH_",
    "local durable host": "TOOLMESH_",
    "toolmesh CLI": "TOOLMESH_",
    "LLM gateway": "TOOLMESH_GATEWAY_",
}
# Names other software defines: a service's address as the registry reads it, the OpenAI SDK's.
FOREIGN = {"LLM_GATEWAY_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"}


@pytest.mark.parametrize("deployable", deployables(), ids=lambda d: d.name)
def test_each_setting_has_its_deployables_prefix_and_a_description(deployable: settings_table.Deployable) -> None:
    prefix = PREFIXES.get(deployable.name) or deployable.name.removeprefix("tool service ").upper() + "_"
    for setting in settings_of(deployable):
        assert setting.env.startswith(prefix) or setting.env in FOREIGN, f"{setting.env} lacks the prefix {prefix}"
        assert setting.description, f"{setting.env} has no docstring in {deployable.where}"
