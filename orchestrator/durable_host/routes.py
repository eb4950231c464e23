"""ASP.NET route templates, as Azure Functions HTTP triggers use them, matched against paths.

Supported: literal segments (case-insensitive), ``{name}``, optional ``{name?}``, defaults
``{name=value}``, inline constraints ``{name:int}`` (also ``long``, ``bool``, ``guid``,
``alpha``, ``double``, ``float``, ``decimal``, ``datetime``; others accept any segment) and
catch-all ``{*rest}`` / ``{**rest}``, which must come last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from durable_host.errors import ConfigError

__all__ = ["RouteTemplate"]

_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
    "alpha": r"[A-Za-z]+",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "datetime": r"[^/]+",
}
_PARAM = re.compile(
    r"^\{(?P<star>\*{0,2})(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<cons>(?::[^}=?]+)*)"
    r"(?P<opt>\?)?(?:=(?P<default>[^}]*))?\}$"
)


@dataclass(frozen=True)
class RouteTemplate:
    """A compiled route template; ``match`` returns the route parameters or None."""

    template: str
    pattern: re.Pattern[str]
    defaults: tuple[tuple[str, str], ...]
    literal_count: int

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        text = template.strip().strip("/")
        parts: list[str] = []
        defaults: list[tuple[str, str]] = []
        literals = 0
        segments = text.split("/") if text else []
        for index, segment in enumerate(segments):
            found = _PARAM.match(segment)
            if found is None:
                if "{" in segment or "}" in segment:
                    raise ConfigError(f"route template {template!r}: unsupported segment {segment!r}")
                literals += 1
                parts.append("/" + re.escape(segment))
                continue
            name = found["name"]
            if found["star"]:
                if index != len(segments) - 1:
                    raise ConfigError(f"route template {template!r}: a catch-all must be the last segment")
                parts.append(f"(?:/(?P<{name}>.*))?")
                continue
            regex = r"[^/]+"
            for constraint in filter(None, (found["cons"] or "").split(":")):
                regex = _CONSTRAINTS.get(constraint.split("(")[0].lower(), regex)
            if found["default"] is not None:
                defaults.append((name, found["default"]))
            if found["opt"] or found["default"] is not None:
                parts.append(f"(?:/(?P<{name}>{regex}))?")
            else:
                parts.append(f"/(?P<{name}>{regex})")
        pattern = re.compile("^" + "".join(parts) + "/?$", re.IGNORECASE if literals else 0)
        return cls(template=template, pattern=pattern, defaults=tuple(defaults), literal_count=literals)

    def match(self, path: str) -> dict[str, str] | None:
        """Match a path relative to the route prefix (leading slash, or empty for the root)."""
        found = self.pattern.match(path if path.startswith("/") or not path else "/" + path)
        if found is None:
            return None
        params = dict(self.defaults)
        for key, value in found.groupdict().items():
            if value is not None:
                params[key] = unquote(value)
        return params
