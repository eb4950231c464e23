"""The gateway's part of a run's trace: its server span gains the request's model, tokens and cost.

The tracer provider, the exporters and the FastAPI instrumentation are the tool services' own
(``tools.service_kit.telemetry``; the gateway's image copies that module), so a model step's
request continues the trace of the run that made it, and prompts and answers stay out of it.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

__all__ = ["record_usage"]


def record_usage(*, alias: str, deployment: str, prompt_tokens: int, completion_tokens: int, cost: float) -> None:
    """Put a request's model, tokens and cost on its server span (when one is recording)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(
            {
                gen_ai.GEN_AI_OPERATION_NAME: "chat",
                gen_ai.GEN_AI_REQUEST_MODEL: alias,
                gen_ai.GEN_AI_USAGE_INPUT_TOKENS: prompt_tokens,
                gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: completion_tokens,
                "toolmesh.deployment": deployment,
                "toolmesh.cost_usd": cost,
            }
        )
