"""Which callback URLs the mailbox may POST replies to.

A callback URL comes from the caller, so posting to it blindly would let anyone make
the service send requests into its own network (SSRF). Only URLs whose origin is on
the allow-list are accepted, at send time and again at each delivery (the list may
have changed since). URLs with user info are refused: ``http://127.0.0.1@evil.example``
is evil.example.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import CallbackNotAllowed

__all__ = ["AllowedOrigin", "check_callback_url", "parse_origins"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, kw_only=True)
class AllowedOrigin:
    scheme: str
    host: str
    port: int | None
    """None allows any port."""

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}" + (f":{self.port}" if self.port is not None else "")


def parse_origins(text: str) -> tuple[AllowedOrigin, ...]:
    """Parse the comma-separated setting; a malformed entry is an operator error (ValueError)."""
    origins = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        parts = urlsplit(entry)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"allowed callback origin {entry!r} must look like http://host or https://host:port")
        origins.append(AllowedOrigin(scheme=parts.scheme, host=parts.hostname.lower(), port=parts.port))
    return tuple(origins)


def check_callback_url(url: str, allowed: tuple[AllowedOrigin, ...]) -> str:
    """Return ``url`` when it may receive callbacks, else raise CallbackNotAllowed saying why."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise CallbackNotAllowed(f"callback_url {url!r} is not a valid URL") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise CallbackNotAllowed(f"callback_url {url!r} must be an absolute http or https URL")
    if parts.username is not None or parts.password is not None:
        raise CallbackNotAllowed("callback_url must not contain user info (user@host)")
    host = parts.hostname.lower()
    port = port if port is not None else _DEFAULT_PORTS[parts.scheme]
    for origin in allowed:
        if origin.scheme == parts.scheme and origin.host == host and origin.port in (None, port):
            return url
    names = ", ".join(str(origin) for origin in allowed) or "none"
    raise CallbackNotAllowed(
        f"callback_url origin {parts.scheme}://{host}:{port} is not allowed; allowed origins: {names}"
        " (set MAILBOX_CALLBACK_ALLOWED_ORIGINS)"
    )
