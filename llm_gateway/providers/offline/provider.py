"""The offline model as a provider."""

from __future__ import annotations

from typing import Any

from llm_gateway.adapters.completions import LocalAnswer
from llm_gateway.providers.local import LocalProvider
from llm_gateway.providers.offline.model import answer

__all__ = ["OfflineProvider"]


class OfflineProvider(LocalProvider):
    kind = "offline"
    offline = True

    def __init__(self, *, label: str = "offline", timeout: float = 60.0) -> None:
        super().__init__(label=label, timeout=timeout)

    async def local_answer(self, body: dict[str, Any]) -> LocalAnswer:
        return answer(body)
