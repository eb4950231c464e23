"""The offline provider: a deterministic stand-in model that needs no network."""

from llm_gateway.providers.offline.model import OFFLINE_FINGERPRINT, OFFLINE_MODEL, OFFLINE_PREFIX, answer
from llm_gateway.providers.offline.provider import OfflineProvider

__all__ = ["OFFLINE_FINGERPRINT", "OFFLINE_MODEL", "OFFLINE_PREFIX", "OfflineProvider", "answer"]
