"""ASP.NET route templates as the host matches them."""

from __future__ import annotations

import pytest

from durable_host.errors import ConfigError
from durable_host.routes import RouteTemplate


def test_plain_parameters_match_one_segment_each() -> None:
    route = RouteTemplate.parse("runs/{id}/events/{name}")
    assert route.match("/runs/42/events/Approval") == {"id": "42", "name": "Approval"}
    assert route.match("/runs/42/events") is None
    assert route.match("/runs/42/events/a/b") is None


def test_literals_match_case_insensitively_and_values_are_decoded() -> None:
    route = RouteTemplate.parse("Runs/{id}")
    assert route.match("/runs/a%20b") == {"id": "a b"}


def test_optional_and_default_parameters() -> None:
    optional = RouteTemplate.parse("orchestrators/{name}/{id?}")
    assert optional.match("/orchestrators/x") == {"name": "x"}
    assert optional.match("/orchestrators/x/7") == {"name": "x", "id": "7"}
    defaulted = RouteTemplate.parse("page/{n=1}")
    assert defaulted.match("/page") == {"n": "1"}
    assert defaulted.match("/page/3") == {"n": "3"}


def test_inline_constraints_filter_values() -> None:
    route = RouteTemplate.parse("items/{id:int}")
    assert route.match("/items/12") == {"id": "12"}
    assert route.match("/items/twelve") is None
    assert RouteTemplate.parse("flags/{on:bool}").match("/flags/True") == {"on": "True"}
    assert RouteTemplate.parse("x/{g:guid}").match("/x/not-a-guid") is None


def test_catch_all_takes_the_rest_of_the_path() -> None:
    route = RouteTemplate.parse("static/{*path}")
    assert route.match("/static/css/site.css") == {"path": "css/site.css"}
    assert route.match("/static") == {}


def test_empty_template_matches_the_root_only() -> None:
    route = RouteTemplate.parse("")
    assert route.match("") == {}
    assert route.match("/") == {}
    assert route.match("/x") is None


def test_bad_templates_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="catch-all"):
        RouteTemplate.parse("{*rest}/more")
    with pytest.raises(ConfigError, match="unsupported segment"):
        RouteTemplate.parse("a{b}c")
