"""Which of the caller's environment each service of the local mesh receives.

``toolmesh up`` runs in a shell that may hold a provider key (``OPENAI_API_KEY``), the CLI's own
function key, or settings meant for one service. Handing the whole environment to every process
would put a provider key into the host and every tool, where a log line or a crash dump could
show it. So every variable has an owner, and only its owner receives it:

- ``TOOLMESH_GATEWAY_*`` (but ``TOOLMESH_GATEWAY_KEY``, the host's client key for the gateway),
  ``OPENAI_*`` and ``AZURE_OPENAI_*``: the gateway;
- ``NOTES_*``, ``ISSUES_*``, ``CALC_*``, ``MAILBOX_*``: that tool;
- every other ``TOOLMESH_*``: the durable host (the orchestrator app's and the host's settings);
- everything else (``PATH``, ``HOME``, ``OTEL_*``, ...) is shared, except a name that looks like a
  credential (``*_KEY``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``), which goes to the gateway only:
  the gateway's config may name any variable as a deployment's key.

The keys the mesh generates are added on top, each to the services that use it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["TOOL_SERVICES", "owner_of", "service_environment"]

TOOL_SERVICES = ("notes", "issues", "calc", "mailbox")
"""The tool services of the mesh, each ``tools.<name>.main:app`` with ``<NAME>_*`` settings."""
_CREDENTIAL = re.compile(r"(^|_)(API_?KEYS?|KEYS?|SECRETS?|TOKENS?|PASSWORD|PASSWD|CREDENTIALS?)(_|$)")
_GATEWAY_PREFIXES = ("TOOLMESH_GATEWAY_", "OPENAI_", "AZURE_OPENAI_")
_HOST_NAMES = frozenset({"TOOLMESH_GATEWAY_KEY", "LLM_GATEWAY_URL"})


def owner_of(variable: str) -> str | None:
    """The service a variable is meant for, or None when every service may have it."""
    name = variable.upper()
    if name in _HOST_NAMES:
        return "host"
    if name.startswith(_GATEWAY_PREFIXES):
        return "gateway"
    for tool in TOOL_SERVICES:
        if name.startswith(f"{tool.upper()}_"):
            return tool
    if name.startswith("TOOLMESH_"):
        return "host"
    return None


def _may_see(service: str, variable: str) -> bool:
    owner = owner_of(variable)
    if owner is not None:
        return owner == service
    return service == "gateway" or _CREDENTIAL.search(variable.upper()) is None


def service_environment(service: str, environ: Mapping[str, str], root: Path, own: Mapping[str, str]) -> dict[str, str]:
    """The environment of ``service``: what it may see of ``environ``, the checkout on the path, then ``own``."""
    env = {name: value for name, value in environ.items() if _may_see(service, name)}
    paths = [str(root), str(root / "orchestrator")]
    if environ.get("PYTHONPATH"):
        paths.append(environ["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(own)
    return env
