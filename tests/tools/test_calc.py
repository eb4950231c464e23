"""The calc service over HTTP: exact arithmetic, safe parsing, unit conversion, bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.servers import RunningServer
from tests.tools.conftest import StartService, client


@pytest.fixture(scope="module")
def calc(start_service: StartService) -> RunningServer:
    return start_service("calc")


@pytest.fixture
def http(calc: RunningServer) -> httpx.Client:
    return client(calc)


def _evaluate(http: httpx.Client, expression: str) -> dict[str, Any]:
    response = http.post("/evaluate", json={"expression": expression})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("expression", "result"),
    [
        ("12 * 49.90", "598.8"),
        ("0.1 + 0.2", "0.3"),
        ("-2^2", "-4"),
        ("2^-2", "0.25"),
        ("2 ** 3 ** 2", "512"),
        ("(3 + 4.5) / 2", "3.75"),
        ("7 // 2 + 7 % 2", "4"),
        ("round(2.675, 2)", "2.68"),
        ("round(-2.5)", "-3"),
        ("sqrt(16/9) * 3", "4"),
        ("8^(1/3)", "2"),
        ("max(1, 2.5, -3) + min(4, 5) + abs(-1)", "7.5"),
        ("1_000 × 3 ÷ 4", "750"),
        ("1.5e3 + 2E-1", "1500.2"),
        ("2^200", str(2**200)),
    ],
)
def test_arithmetic_is_exact(http: httpx.Client, expression: str, result: str) -> None:
    body = _evaluate(http, expression)
    assert (body["result"], body["exact"], body["fraction"]) == (result, True, None)
    assert body["value"] == pytest.approx(float(result))


def test_repeating_decimal_is_rounded_and_gives_the_fraction(http: httpx.Client) -> None:
    body = _evaluate(http, "10 / 3")
    assert body["result"] == "3.33333333333333333333333333333"
    assert (body["exact"], body["fraction"]) == (False, "10/3")


def test_irrational_result_is_marked_inexact(http: httpx.Client) -> None:
    body = _evaluate(http, "sqrt(2)")
    assert body["result"].startswith("1.41421356237309504880168872") and body["exact"] is False
    assert body["fraction"] is None
    assert _evaluate(http, "ln(e^2)")["result"] == "2"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / (2 - 2)", "division by zero at position 2"),
        ("12 * ", "found the end of the expression at position 5"),
        ("2 $ 3", "unexpected character '$' at position 2"),
        ("(1 + 2", "expected ')'"),
        ("__import__('os')", "unexpected character"),
        ("open(1)", "unknown function 'open'"),
        ("x + 1", "unknown name 'x'"),
        ("sqrt(-4)", "no real value"),
        ("(-8)^(1/3)", "no real value"),
        ("9^9^9", "more than about 3,600 digits"),
        ("1e999999", "beyond ±1000"),
        ("round(1, 0.5)", "whole number"),
        ("min()", "min takes 1 to 100 argument(s), got 0"),
        ("(" * 150 + "1" + ")" * 150, "nested deeper than 100"),
        ("2" + "^2" * 200, "nested deeper than 100"),
    ],
)
def test_bad_expression_is_422_saying_what_and_where(http: httpx.Client, expression: str, message: str) -> None:
    response = http.post("/evaluate", json={"expression": expression})
    assert response.status_code == 422
    assert message in response.json()["detail"]


@pytest.mark.parametrize("body", [{"expression": 12}, {}, {"expression": ""}, {"expression": "1", "x": 1}])
def test_malformed_request_is_422(http: httpx.Client, body: dict[str, Any]) -> None:
    assert http.post("/evaluate", json=body).status_code == 422


@pytest.mark.parametrize(
    ("value", "source", "target", "result"),
    [
        ("10", "mile", "km", "16.09344"),
        (100, "degC", "degF", "212"),
        ("1", "lb", "kg", "0.45359237"),
        ("60", "mph", "km/h", "96.56064"),
        ("1.5", "kWh", "J", "5400000"),
        (37, "degC", "K", "310.15"),
    ],
)
def test_units_convert_in_decimals(http: httpx.Client, value: Any, source: str, target: str, result: str) -> None:
    response = http.post("/convert", json={"value": value, "from_unit": source, "to_unit": target})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == result
    assert response.json()["number"] == pytest.approx(float(result))


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("m", "s", "they measure different things"),
        ("furlongz", "m", "unknown unit 'furlongz'"),
        ("m)(", "m", "cannot read 'm)('"),
        ("m^99", "km^99", "power beyond"),
    ],
)
def test_bad_conversion_is_422_with_reason(http: httpx.Client, source: str, target: str, message: str) -> None:
    response = http.post("/convert", json={"value": "1", "from_unit": source, "to_unit": target})
    assert response.status_code == 422
    assert message in response.json()["detail"]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "abc", "1e400", None])
def test_non_finite_or_huge_value_is_422(http: httpx.Client, value: Any) -> None:
    response = http.post("/convert", json={"value": value, "from_unit": "m", "to_unit": "km"})
    assert response.status_code == 422


def test_oversized_expression_body_is_413(http: httpx.Client) -> None:
    response = http.post("/evaluate", json={"expression": "1+" * 20_000 + "1"})
    assert response.status_code == 413


def test_key_is_required(calc: RunningServer) -> None:
    response = client(calc, api_key=None).post("/evaluate", json={"expression": "1+1"})
    assert response.status_code == 401
