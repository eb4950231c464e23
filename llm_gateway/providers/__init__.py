"""Model providers: OpenAI-compatible and Azure upstreams, offline, scripted."""

from llm_gateway.providers.base import Answer, Provider, Usage

__all__ = ["Answer", "Provider", "Usage"]
