"""/openapi.json covers every /api route with its methods and responses."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def template(rule: str) -> str:
    """Flask's ``/a/<code>`` or ``/a/<int:id>`` as OpenAPI's ``/a/{code}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def shape(path: str) -> str:
    """A path with its parameter names blanked: ``/a/{code}`` and ``/a/{id}`` are one route."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_api_route_is_documented(app: Flask, client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    paths = {shape(path): item for path, item in spec["paths"].items()}

    routes = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")]
    assert len(routes) >= 9
    for rule in routes:
        documented = paths.get(shape(template(rule.rule)))
        assert documented is not None, f"{rule.rule} is not in /openapi.json"
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            operation = documented.get(method.lower())
            assert operation is not None, f"{method} {rule.rule} is not in /openapi.json"
            assert operation["responses"], f"{method} {rule.rule} documents no responses"
            assert any(code.startswith("2") for code in operation["responses"])


def test_every_documented_path_exists_and_declares_its_parameters(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    routes = {shape(template(rule.rule)) for rule in app.url_map.iter_rules()}
    for path, item in spec["paths"].items():
        assert shape(path) in routes, f"{path} is documented but not served"
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, f"{method.upper()} {path} declares {declared}, its template has {names}"


def test_errors_and_bodies_point_at_components(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    submit = spec["paths"]["/api/v1/submissions"]["post"]
    assert submit["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SubmissionBody"
    }
    for code in ("400", "401", "403", "409", "413", "422"):
        assert submit["responses"][code]["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
    assert "Idempotency-Key" in {p["name"] for p in submit["parameters"]}
    assert {"SubmissionBody", "Problem", "PeriodBody", "LockExceptionBody", "LoginBody"} <= set(schemas)
