"""The deployment assets under deploy/ are valid, and every metric they query really exists.

- compose: ``docker-compose config`` (Debian package docker-compose) accepts deploy/compose.yaml,
  and its services have the shape the operating guide relies on;
- Prometheus: ``promtool check config``, ``promtool check rules`` and ``promtool test rules``
  (Debian package prometheus) pass, and every alert is tested firing and quiet;
- Grafana: the dashboards are well-formed and every query parses (promtool again);
- Kubernetes: every manifest parses (PyYAML) with the fields its kind requires, checked
  against the Kubernetes schemas too when the kubernetes-validate package is installed;
- the image: the Dockerfile's shape and the entrypoint's roles and secret files;
- and a real stack (gunicorn and ``dramatiq workers`` on PostgreSQL and Redis, driven into
  the situations the alerts are about) exports every metric a dashboard or an alert names.

A missing tool skips its test, except when CI is set: then it fails, naming the package.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from helpers import (
    BIN,
    INVALID_TCD,
    ROOT,
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    UNITS_CSV,
    VALID_TCD,
    call,
    free_port,
    http_up,
    running,
    wait_until,
)
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DATASOURCE_UID = "kntc-prometheus"

DEPLOY_DATABASE = "kntc_deploy_test"
DEPLOY_REDIS_DB = 10


# --- tools ---------------------------------------------------------------------------


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so this is a failure", pytrace=False)
    pytest.skip(message)


def need_tool(command: str, debian_package: str) -> str:
    path = shutil.which(command)
    if path is None:
        _missing(f"`{command}` is not installed: apt-get install -y {debian_package} (Debian package {debian_package})")
    assert path is not None
    return path


def need_module(module: str, pip_package: str) -> ModuleType:
    try:
        return __import__(module)
    except ImportError:
        _missing(
            f"Python module {module} is missing: add {pip_package} to the dev dependencies (pip install {pip_package})"
        )
        raise


def run(args: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run a command; fail with its whole output when it exits non-zero."""
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{output}"
    return done.stdout


def load_yaml(path: Path) -> Any:
    yaml = need_module("yaml", "pyyaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_documents(path: Path) -> list[Any]:
    yaml = need_module("yaml", "pyyaml")
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


# --- what the assets query -------------------------------------------------------------

PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool"}
PROMQL_KEYWORDS |= {"offset", "inf", "nan", "atan2"}
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords and labels left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\w+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        if text[match.end() :].lstrip().startswith("(") or word.lower() in PROMQL_KEYWORDS:
            continue
        names.add(word)
    return names


def test_metric_names_reads_promql() -> None:
    expr = (
        'sum by (le) (rate(kntc_http_request_duration_seconds_bucket{route="/a", le=~"1e3"}[$__rate_interval])) '
        "/ on () group_left () (2 * sum(rate(dramatiq_messages_total[5m] offset 1m)) or vector(0)) > 0.5e1 "
        'unless on (instance) absent(up{job="x"}) and sum(x_total) without (pid)'
    )
    assert metric_names(expr) == {
        "kntc_http_request_duration_seconds_bucket",
        "dramatiq_messages_total",
        "up",
        "x_total",
    }


def alert_rules() -> list[dict[str, Any]]:
    groups = load_yaml(PROMETHEUS / "rules.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold their panels


def dashboard_exprs() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) of every query."""
    return [
        (name, panel.get("title", ""), target["expr"])
        for name, board in dashboards().items()
        for panel in panels(board)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def referenced_metrics() -> dict[str, set[str]]:
    """Metric name -> where it is used, over every alert and dashboard query."""
    uses: dict[str, set[str]] = {}
    for rule in alert_rules():
        for name in metric_names(rule["expr"]):
            uses.setdefault(name, set()).add(f"alert {rule['alert']}")
    for board, title, expr in dashboard_exprs():
        for name in metric_names(expr):
            uses.setdefault(name, set()).add(f"{board}: {title}")
    return uses


def settings_variables() -> set[str]:
    """Every environment variable kntc/settings.py and deploy/gunicorn.conf.py read."""
    names: set[str] = set()
    for path in (ROOT / "kntc" / "settings.py", DEPLOY / "gunicorn.conf.py"):
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'env(?:iron)?\.(?:get|setdefault)\(\s*"([A-Za-z_]+)"', text))
        names |= set(re.findall(r'_int\(\s*env,\s*"([A-Za-z_]+)"', text))
    assert {"DATABASE_URL", "REDIS_URL", "KNTC_SIGNING_KEY", "KNTC_DB_JOB_CONCURRENCY", "KNTC_BIND"} <= names, names
    return names


# --- compose ---------------------------------------------------------------------------


def test_compose_file_validates_and_has_the_documented_shape() -> None:
    docker_compose = need_tool("docker-compose", "docker-compose")
    run([docker_compose, "-f", str(COMPOSE), "config", "-q"])
    resolved = need_module("yaml", "pyyaml").safe_load(run([docker_compose, "-f", str(COMPOSE), "config"]))
    services = resolved["services"]
    assert set(services) >= {"postgres", "redis", "migrate", "web", "worker", "scheduler", "prometheus", "grafana"}

    postgres = services["postgres"]
    assert "healthcheck" in postgres
    assert any(str(v.get("source", v) if isinstance(v, dict) else v).startswith("pgdata") for v in postgres["volumes"])

    redis_command = " ".join(services["redis"]["command"])
    for flag in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        assert flag in redis_command, f"redis must run with {flag}: {redis_command}"
    assert services["redis"].get("volumes"), "redis keeps its AOF on a volume"

    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert services[name]["image"] == services["migrate"]["image"], "one image for every role"
    assert services["web"]["command"] == ["web"]
    scheduler = services["scheduler"]
    assert scheduler["command"] == ["scheduler"] and scheduler["image"] == services["migrate"]["image"]
    assert scheduler["depends_on"]["migrate"]["condition"] == "service_completed_successfully"

    worker = services["worker"]
    assert worker["command"] == ["worker"]
    assert "container_name" not in worker and "ports" not in worker, "--scale worker=N needs no fixed name or host port"
    assert worker["environment"]["dramatiq_prom_port"] == "9191"
    assert worker["environment"]["dramatiq_prom_host"] == "0.0.0.0"

    # Every setting the code reads is configured, and the secrets come in as files.
    configured = set(worker["environment"]) | set(services["web"]["environment"])
    for secret in ("DATABASE_URL", "KNTC_SIGNING_KEY"):
        assert f"{secret}_FILE" in configured and secret not in configured, secret
    missing = settings_variables() - configured - {"DATABASE_URL", "KNTC_SIGNING_KEY", "PROMETHEUS_MULTIPROC_DIR"}
    assert not missing, f"not set in deploy/kntc.env or compose.yaml: {sorted(missing)}"
    assert {s["source"] for s in services["web"]["secrets"]} == {"database_url", "kntc_signing_key"}

    # The files Prometheus and Grafana mount exist (compose would make empty dirs of them).
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source.startswith("/"):
                assert Path(source).exists(), f"{name} mounts {source}, which does not exist"
    mounts = " ".join(map(str, services["prometheus"]["volumes"]))
    assert "rules.yml" in mounts and "prometheus.yml" in mounts


# --- Prometheus ------------------------------------------------------------------------


def test_prometheus_config_and_rules_pass_promtool() -> None:
    promtool = need_tool("promtool", "prometheus")
    run([promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS)
    run([promtool, "check", "rules", "rules.yml"], cwd=PROMETHEUS)

    config = load_yaml(PROMETHEUS / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    workers = jobs["kntc-workers"]["dns_sd_configs"]
    assert workers == [{"names": ["worker"], "type": "A", "port": 9191, "refresh_interval": "15s"}]
    assert jobs["kntc-web"]["metrics_path"] == "/metrics"
    compose_services = set(load_yaml(COMPOSE)["services"])
    for job in jobs.values():
        for sd in job.get("dns_sd_configs", []):
            assert set(sd["names"]) <= compose_services, f"{job['job_name']} looks up a name compose does not define"


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    promtool = need_tool("promtool", "prometheus")
    run([promtool, "test", "rules", "rules_test.yml"], cwd=PROMETHEUS)

    rules = alert_rules()
    assert len({r["alert"] for r in rules}) == len(rules), "alert names are unique"
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"].strip() and rule["annotations"]["description"].strip(), rule["alert"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(PROMETHEUS / "rules_test.yml")["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {r["alert"] for r in rules}
    assert names - fired == set(), f"never tested firing: {sorted(names - fired)}"
    assert names - quiet == set(), f"never tested quiet: {sorted(names - quiet)}"
    # Overdue petitions rising, per province (max over web replicas, which all export the same).
    overdue = next(r for r in rules if r["alert"] == "KntcOverduePetitionsRising")
    assert "kntc_overdue_petitions" in overdue["expr"] and "max by (province)" in overdue["expr"]


# --- Grafana ---------------------------------------------------------------------------


def test_dashboards_are_well_formed_and_their_queries_parse(tmp_path: Path) -> None:
    datasources = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert [d["uid"] for d in datasources] == [DATASOURCE_UID]
    assert datasources[0]["url"] == "http://prometheus:9090"
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "provider.yml")["providers"][0]
    grafana_mounts = load_yaml(COMPOSE)["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in grafana_mounts

    boards = dashboards()
    assert set(boards) == {"deadline-night.json", "workers.json", "records-and-overdue.json"}
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    for name, board in boards.items():
        assert board["title"].startswith("KNTC: ") and board["schemaVersion"] >= 36, name
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        for panel in panels(board):
            assert {"type", "title", "gridPos"} <= set(panel), f"{name}: {panel}"
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == DATASOURCE_UID, f"{name}: {panel['title']}"

    # Every query is valid PromQL: promtool parses them as recording rules.
    exprs = dashboard_exprs()
    recording: list[dict[str, str]] = []
    for i, (_, _, expr) in enumerate(exprs):
        parseable = expr
        for variable, value in GRAFANA_VARIABLES.items():
            parseable = parseable.replace(variable, value)
        recording.append({"record": f"dashboard:query_{i}", "expr": parseable})
    check = tmp_path / "dashboard_queries.yml"  # JSON is YAML
    check.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": recording}]}), encoding="utf-8")
    run([need_tool("promtool", "prometheus"), "check", "rules", str(check)])

    def used(board: str) -> set[str]:
        return {n for b, _, e in exprs if b == board for n in metric_names(e)}

    assert used("deadline-night.json") >= {
        "kntc_http_requests_total",
        "kntc_http_request_duration_seconds_bucket",
        "kntc_submissions_received_total",
        "kntc_queue_depth",
        "kntc_oldest_queued_submission_age_seconds",
        "kntc_worker_messages_total",
        "kntc_rate_limit_deferrals_total",
        "kntc_idempotent_replays_total",
        "kntc_enqueue_failures_total",
    }
    assert used("workers.json") >= {
        "dramatiq_messages_total",
        "dramatiq_message_duration_milliseconds_bucket",
        "dramatiq_messages_inprogress",
        "dramatiq_message_errors_total",
        "dramatiq_message_retries_total",
        "kntc_worker_message_duration_seconds_bucket",
        "kntc_outbox_relay_resent_total",
    }
    assert used("records-and-overdue.json") >= {
        "kntc_overdue_petitions",
        "kntc_stuck_petitions",
        "kntc_form_changes_pending",
    }
    texts = " ".join(p["options"]["content"] for p in panels(boards["deadline-night.json"]) if p["type"] == "text")
    assert "/api/v1/periods/{code}/completeness" in texts


# --- Kubernetes ------------------------------------------------------------------------


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) for doc in load_yaml_documents(path)]
    assert docs, "no manifests under deploy/k8s"
    return docs


def test_k8s_manifests_parse_with_their_required_fields() -> None:
    docs = k8s_documents()
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for source, doc in docs:
        assert isinstance(doc, dict), source
        assert doc.get("apiVersion") and doc.get("kind"), f"{source}: apiVersion and kind are required"
        if doc["kind"] != "Kustomization":
            assert doc.get("metadata", {}).get("name"), f"{source}: metadata.name is required"
            by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc

    kustomization = next(doc for _, doc in docs if doc["kind"] == "Kustomization")
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), f"kustomization lists {resource}, which does not exist"
    assert "secret.example.yaml" not in kustomization["resources"], "secret values are never applied from git"

    def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
        template = workload["spec"]["template"]
        found: list[dict[str, Any]] = template["spec"]["containers"]
        for container in found:
            assert container.get("name") and container.get("image"), container
        return found

    def references(container: dict[str, Any]) -> None:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in by_kind["ConfigMap"], source
            if "secretRef" in source:
                assert source["secretRef"]["name"] in by_kind["Secret"], source

    for name, deployment in by_kind["Deployment"].items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"Deployment {name}: the selector must match the pod labels"
        for container in containers(deployment):
            references(container)

    web = containers(by_kind["Deployment"]["kntc-web"])[0]
    assert web["args"] == ["web"]
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    service = by_kind["Service"]["kntc-web"]
    assert (
        service["spec"]["selector"].items()
        <= by_kind["Deployment"]["kntc-web"]["spec"]["template"]["metadata"]["labels"].items()
    )
    worker = containers(by_kind["Deployment"]["kntc-worker"])[0]
    assert worker["args"] == ["worker"]
    assert {p["containerPort"] for p in worker["ports"]} == {9191}

    scheduler = containers(by_kind["Deployment"]["kntc-scheduler"])[0]
    assert scheduler["args"] == ["scheduler"]
    assert {"KNTC_OVERDUE_INTERVAL_SECONDS", "KNTC_STUCK_DAYS"} <= set(by_kind["ConfigMap"]["kntc-config"]["data"])

    job = by_kind["Job"]["kntc-migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"Never", "OnFailure"}
    references(containers(job)[0])
    assert containers(job)[0]["args"] == ["migrate"]

    scaled = by_kind["ScaledObject"]["kntc-worker"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] in by_kind["Deployment"]
    assert scaled["spec"]["minReplicaCount"] >= 1, "the outbox relay runs in the workers"
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == "dramatiq:submissions"
    assert trigger["metadata"]["listLength"].isdigit()
    assert all(isinstance(v, str) for v in trigger["metadata"].values()), "KEDA trigger metadata values are strings"
    address_env = trigger["metadata"]["addressFromEnv"]
    assert address_env in by_kind["ConfigMap"]["kntc-config"]["data"]
    # Every queue with work that a pod more speeds up scales the workers: submissions, attachments, reports.
    triggers = scaled["spec"]["triggers"]
    assert [t["metadata"]["listName"] for t in triggers] == [
        "dramatiq:submissions", "dramatiq:attachments", "dramatiq:reports",
    ]  # fmt: skip
    for other in triggers:
        assert other["type"] == "redis" and other["metadata"]["listLength"].isdigit()
        assert all(isinstance(v, str) for v in other["metadata"].values())
        assert other["metadata"]["addressFromEnv"] == address_env

    for name, monitor in by_kind.get("PodMonitor", {}).items():
        pods = [
            d
            for d in by_kind["Deployment"].values()
            if monitor["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(pods) == 1, f"PodMonitor {name} selects one Deployment"
        assert pods[0]["spec"]["template"]["metadata"]["labels"][monitor["spec"]["jobLabel"]] == name

    # Every setting is in the ConfigMap or the Secret; ConfigMap values are strings.
    config = by_kind["ConfigMap"]["kntc-config"]["data"]
    assert all(isinstance(v, str) for v in config.values())
    secret = by_kind["Secret"]["kntc-secrets"]["stringData"]
    missing = settings_variables() - set(config) - set(secret) - {"PROMETHEUS_MULTIPROC_DIR"}
    assert not missing, f"not in the ConfigMap or the Secret: {sorted(missing)}"


def test_k8s_manifests_match_the_kubernetes_schemas() -> None:
    try:
        import kubernetes_validate
    except ImportError:
        pytest.skip("kubernetes-validate is not installed (optional dev dependency): structure checked above only")
    for _, doc in k8s_documents():
        if doc["apiVersion"].split("/")[0].endswith((".sh", ".com")) or doc["kind"] == "Kustomization":
            continue  # CRDs (KEDA, Prometheus Operator) and kustomize: no schema shipped
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


# --- the image -------------------------------------------------------------------------


def test_dockerfile_builds_a_non_root_multi_stage_image() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\w+)", text, re.MULTILINE)
    assert [alias for _, alias in stages] == ["builder", "runtime"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "requirements.lock" in text and "COPY --from=builder /opt/kntc /opt/kntc" in text
    user = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert user and not user[-1].startswith(("root", "0")), "the image runs as a non-root user"
    assert "COPY deploy/gunicorn.conf.py" in text
    for path in re.findall(r"^COPY\s+(?!--from)(\S+)\s", text, re.MULTILINE):
        if "$" not in path:
            assert (ROOT / path).exists(), f"the Dockerfile copies {path}, which does not exist"
    hadolint = shutil.which("hadolint") or shutil.which(str(BIN / "hadolint"))
    if hadolint:
        run([hadolint, str(DEPLOY / "Dockerfile")])


def test_entrypoint_reads_secret_files_and_refuses_a_web_without_a_key(tmp_path: Path) -> None:
    entrypoint = DEPLOY / "docker-entrypoint.sh"
    run(["sh", "-n", str(entrypoint)])
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n", encoding="utf-8")
    url = tmp_path / "database-url"
    url.write_text("postgresql+psycopg://kntc:s3cret@postgres:5432/kntc", encoding="utf-8")
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env = {**base, "KNTC_SIGNING_KEY_FILE": str(key), "DATABASE_URL_FILE": str(url)}

    printed = run(["sh", str(entrypoint), "env"], env=env)
    assert "DATABASE_URL=postgresql+psycopg://kntc:s3cret@postgres:5432/kntc" in printed
    assert "KNTC_SIGNING_KEY=-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----" in printed
    # A value set directly wins over the file.
    printed = run(["sh", str(entrypoint), "env"], env={**env, "DATABASE_URL": "sqlite://"})
    assert "DATABASE_URL=sqlite://\n" in printed

    refused = subprocess.run(["sh", str(entrypoint), "web"], env=base, capture_output=True, text=True, check=False)
    assert refused.returncode == 64 and "KNTC_SIGNING_KEY" in refused.stderr
    unreadable = {**base, "KNTC_SIGNING_KEY_FILE": str(tmp_path / "absent.pem")}
    refused = subprocess.run(
        ["sh", str(entrypoint), "env"], env=unreadable, capture_output=True, text=True, check=False
    )
    assert refused.returncode == 64 and "absent.pem" in refused.stderr


# --- a real stack exports every metric the assets query ---------------------------------


def _service_down(what: str, error: Exception) -> None:
    _missing(f"{what} is not reachable ({type(error).__name__}: {error})")


def _deploy_database() -> tuple[str, str, str]:
    """A fresh, empty database for this test: (SQLAlchemy URL, its conninfo, the admin conninfo)."""
    url = make_url(TEST_DATABASE_URL).set(database=DEPLOY_DATABASE)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DEPLOY_DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DEPLOY_DATABASE}"')
    except psycopg.OperationalError as error:
        _service_down(f"PostgreSQL at {admin}", error)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return url.render_as_string(hide_password=False), conninfo, admin


def _drop_deploy_database(admin: str) -> None:
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DEPLOY_DATABASE}" WITH (FORCE)')


def _sample_names(text: str) -> set[str]:
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def _value(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


@pytest.mark.slow
def test_every_metric_in_the_dashboards_and_alerts_is_exported(tmp_path: Path) -> None:
    uses = referenced_metrics()
    unexpected = {n for n in uses if n != "up" and not n.startswith(("kntc_", "dramatiq_"))}
    assert not unexpected, f"not metric names of this system (or the PromQL reader misread them): {unexpected}"
    wanted = set(uses) - {"up"}  # `up` is Prometheus's own

    redis_url = urlsplit(TEST_REDIS_URL)._replace(path=f"/{DEPLOY_REDIS_DB}").geturl()
    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        _service_down(f"Redis at {redis_url}", error)
    client.flushdb()
    database_url, conninfo, admin = _deploy_database()

    try:
        web_port, worker_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k.lower() != "prometheus_multiproc_dir"}
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            KNTC_DATA_DIR=str(tmp_path / "data"),
            PATH=f"{BIN}:{env.get('PATH', '')}",
            # One database job at a time, and a relay that re-sends after a second: the
            # blocked job below makes the limiters defer and the relay re-send.
            KNTC_DB_JOB_CONCURRENCY="1",
            KNTC_RELAY_DELAY_SECONDS="1",
            KNTC_RELAY_INTERVAL_SECONDS="1",
            dramatiq_prom_host="127.0.0.1",
            dramatiq_prom_port=str(worker_port),
            dramatiq_prom_db=str(tmp_path / "prom-workers"),
        )

        def kntc(*args: str) -> str:
            done = subprocess.run(
                [str(BIN / "kntc"), *args],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, f"kntc {' '.join(args)}: {done.stderr}"
            return done.stdout

        units = tmp_path / "units.csv"
        units.write_text(UNITS_CSV, encoding="utf-8")
        now = dt.datetime.now(dt.UTC)
        today = now.date()
        kntc("db", "upgrade")
        kntc("units", "import", str(units))
        token = kntc("accounts", "create", "--username", "deploy-bot", "--unit", "P01", "--role", "reporter", "--token")
        headers = {"Authorization": f"Bearer {token.strip()}"}
        common = ["--starts", str(today - dt.timedelta(days=90)), "--ends", str(today), "--grace", "48h"]
        for code, due in (("ONTIME", now + dt.timedelta(days=2)), ("LATE", now - dt.timedelta(hours=1))):
            kntc("periods", "create", "--code", code, "--due", due.isoformat(), *common, "--forms", "01/TCD")

        def submit(period: str, unit: str, figures: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
            body = {"period": period, "unit": unit, "form": "01/TCD", "figures": figures}
            extra = {"Idempotency-Key": key} if key else {}
            status, _, payload = call(web_port, "POST", "/api/v1/submissions", body, {**headers, **extra})
            return status, payload

        web_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom-web")}
        gunicorn = [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{web_port}"]
        gunicorn += ["--workers", "2", "web:create_app()"]
        workers = [str(BIN / "dramatiq"), "workers", "--processes", "1", "--threads", "2"]
        with ExitStack() as stack:
            web = stack.enter_context(running(gunicorn, web_env, tmp_path / "gunicorn.log"))
            wait_until(lambda: http_up(web_port), 60, "gunicorn answers", web)
            assert call(web_port, "GET", "/readyz")[0] == 200

            first_status, first = submit("ONTIME", "P01.X1", VALID_TCD, key="deploy-1")
            assert first_status == 202, first
            assert submit("ONTIME", "P01.X1", VALID_TCD, key="deploy-1") == (202, first)  # a replay
            assert submit("ONTIME", "P01.X1", VALID_TCD)[0] == 202  # version 2 of the same unit
            late_status, late = submit("LATE", "P01.X2", VALID_TCD)
            assert late_status == 202 and late["receipt"]["on_time"] is False, late
            assert submit("ONTIME", "P01.X2", INVALID_TCD)[0] == 202  # breaks identities: rejected
            assert submit("NO-SUCH-PERIOD", "P01.X2", VALID_TCD)[0] == 422

            # Hold the first submission's row: the worker that takes it waits, holding the
            # unit's and the global limiter's slots (the other thread defers), its outbox row
            # ages (the relay re-sends it), and the lock timeout (10 s) fails it (a retry).
            blocker = stack.enter_context(psycopg.connect(conninfo))
            blocker.execute("SELECT id FROM submissions WHERE id = %s FOR UPDATE", (uuid.UUID(first["id"]),))

            stack.enter_context(running(workers, env, tmp_path / "workers.log"))
            # A poison message with no retries left: dead-lettered at once.
            from dramatiq import Message
            from dramatiq.brokers.redis import RedisBroker

            poison_broker = RedisBroker(client=client)
            poison: Message[Any] = Message(
                queue_name="submissions",
                actor_name="process_submission",
                args=("not-a-submission-id",),
                kwargs={},
                options={"max_retries": 0},
            )
            poison_broker.enqueue(poison)

            def worker_metrics() -> str:
                try:
                    status, _, text = call(worker_port, "GET", "/")
                except OSError:
                    return ""
                return text if status == 200 else ""

            wait_until(
                lambda: _value(worker_metrics(), "kntc_worker_messages_total", outcome="failed") >= 1,
                60,
                "the blocked job fails on its lock timeout",
            )
            blocker.rollback()

            def decided() -> bool:
                with psycopg.connect(conninfo) as conn:
                    rows = conn.execute("SELECT status FROM submissions").fetchall()
                return len(rows) == 4 and all(status in ("accepted", "rejected") for (status,) in rows)

            wait_until(decided, 90, "every submission is decided")
            wait_until(
                lambda: _value(worker_metrics(), "dramatiq_message_rejects_total") >= 1,
                30,
                "the poison message is dead-lettered",
            )

            def web_metrics() -> str:
                status, _, text = call(web_port, "GET", "/metrics")
                assert status == 200
                return str(text)

            # Copies re-sent by the relay or deferred meanwhile drain as duplicates.
            wait_until(lambda: _value(web_metrics(), "kntc_queue_depth", queue="submissions") == 0, 60, "queue drains")
            web_text = web_metrics()
            worker_text = worker_metrics()
    finally:
        client.flushdb()
        client.close()
        _drop_deploy_database(admin)

    # The stack went through what the alerts are about.
    assert _value(web_text, "kntc_submissions_received_total", timeliness="late") == 1
    assert _value(web_text, "kntc_submissions_received_total", timeliness="on_time") == 3
    assert _value(web_text, "kntc_idempotent_replays_total") == 1
    assert _value(worker_text, "kntc_worker_messages_total", outcome="rejected") >= 1
    assert _value(worker_text, "kntc_rate_limit_deferrals_total") >= 1
    assert _value(worker_text, "kntc_outbox_relay_resent_total") >= 1
    assert _value(worker_text, "dramatiq_message_retries_total") >= 1

    exported = _sample_names(web_text) | _sample_names(worker_text)
    missing = {name: sorted(uses[name]) for name in wanted - exported}
    assert not missing, f"queried but not exported by the running stack: {missing}"
