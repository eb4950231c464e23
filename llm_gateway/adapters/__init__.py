"""OpenAI wire format in and out: SSE events, completions and chunks built from local answers."""
