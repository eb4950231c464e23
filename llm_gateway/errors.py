"""The gateway's exception tree; each error knows the OpenAI-style response it becomes.

Clients are OpenAI SDKs, so every failure is reported with the status code and the error body
(``{"error": {"message", "type", "param", "code"}}``) that OpenAI's API uses for the same case,
which lets the SDK raise its usual exception classes::

    GatewayError                      500 server_error
    ├── ConfigError                   500 (operator mistake in the config file or environment)
    ├── InvalidRequest                400 invalid_request_error (malformed JSON, bad field)
    ├── PayloadTooLarge               413 invalid_request_error / request_too_large
    ├── AuthenticationFailed          401 invalid_request_error / invalid_api_key
    ├── ModelNotFound                 404 invalid_request_error / model_not_found
    ├── RateLimited                   429 requests|tokens / rate_limit_exceeded (+ Retry-After)
    └── UpstreamError                 the upstream's status (502 when it had none)
        ├── UpstreamTimeout           504 timeout
        └── UpstreamUnavailable       502 (connection refused, broken stream)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationFailed",
    "ConfigError",
    "GatewayError",
    "InvalidRequest",
    "ModelNotFound",
    "PayloadTooLarge",
    "RateLimited",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class GatewayError(Exception):
    """Base of every error the gateway reports to a client."""

    status_code = 500
    error_type = "server_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The OpenAI error body for this error."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def headers(self) -> dict[str, str]:
        return {}


class ConfigError(GatewayError):
    """The gateway's configuration is wrong (bad YAML, unknown provider, missing key)."""


class InvalidRequest(GatewayError):
    status_code = 400
    error_type = "invalid_request_error"


class PayloadTooLarge(GatewayError):
    status_code = 413
    error_type = "invalid_request_error"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than the limit of {limit} bytes.", code="request_too_large")


class AuthenticationFailed(GatewayError):
    status_code = 401
    error_type = "invalid_request_error"


class ModelNotFound(GatewayError):
    status_code = 404
    error_type = "invalid_request_error"

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )


class RateLimited(GatewayError):
    status_code = 429
    error_type = "requests"

    def __init__(self, message: str, *, retry_after: float, error_type: str = "requests") -> None:
        super().__init__(message, code="rate_limit_exceeded")
        self.retry_after = retry_after
        self.error_type = error_type

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(max(1, round(self.retry_after + 0.499)))}


class UpstreamError(GatewayError):
    """The model provider failed; ``status_code`` is the upstream's (502 when it gave none)."""

    status_code = 502
    error_type = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        error_type: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        if status_code is not None:
            self.status_code = status_code
        if error_type is not None:
            self.error_type = error_type
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Worth another attempt (same or next deployment): 408, 409, 429 and 5xx."""
        return self.status_code in (408, 409, 429) or self.status_code >= 500

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"retry-after": str(max(0, round(self.retry_after)))}


class UpstreamTimeout(UpstreamError):
    status_code = 504
    error_type = "timeout"


class UpstreamUnavailable(UpstreamError):
    status_code = 502
    error_type = "upstream_error"
