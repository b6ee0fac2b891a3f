"""The deployment files of deploy/ (shown on the documentation's deployment pages) are
true: their worker commands parse, their stop timeouts outlast the grace period, their
probes reach the health endpoints, and the Dockerfile's steps build a working image
(without Docker: each step run in a folder standing in for the image's root)."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from taskbasket.cli.running import worker as worker_command
from tests.helpers import ROOT, wait_for

DEPLOY = ROOT / "deploy"


def worker_options(argv: list[str]) -> dict[str, Any]:
    """The options ``taskbasket worker`` would run with, parsed by the real command."""
    assert os.path.basename(argv[0]) == "taskbasket" and argv[1] == "worker", argv
    context = worker_command.make_context("worker", list(argv[2:]))
    return dict(context.params)


def test_the_systemd_unit_stops_with_sigterm_after_the_grace_period() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / "taskbasket-worker.service")
    service = unit["Service"]
    options = worker_options(shlex.split(service["ExecStart"]))
    assert service["KillSignal"] == "SIGTERM"
    assert service["KillMode"] == "mixed"  # SIGTERM to the worker; it ends its children
    assert int(service["TimeoutStopSec"]) >= options["grace_period"] + 10
    assert options["health_port"] is not None
    assert service["Restart"] == "always"


def kubernetes() -> dict[str, dict[str, Any]]:
    docs = yaml.safe_load_all((DEPLOY / "kubernetes" / "worker.yaml").read_text())
    return {doc["kind"]: doc for doc in docs}


def test_the_deployment_outlasts_the_grace_period_and_probes_the_health_endpoints() -> None:
    manifests = kubernetes()
    deployment = manifests["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    options = worker_options(container["args"])
    assert pod["terminationGracePeriodSeconds"] >= options["grace_period"] + 10
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == options["metrics_port"] and options["metrics_host"] == "0.0.0.0"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= options["wait_for_store"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    external = hpa["metrics"][0]["external"]["metric"]
    rule = yaml.safe_load((DEPLOY / "kubernetes" / "prometheus-adapter-rule.yaml").read_text())
    assert rule["externalRules"][0]["name"]["as"] == external["name"]
    assert "taskbasket_tasks" in rule["externalRules"][0]["metricsQuery"]  # the real gauge
    assert external["selector"]["matchLabels"]["queue"] in options["queues"].split(",")


def dockerfile_steps() -> list[tuple[str, str]]:
    text = (DEPLOY / "docker" / "Dockerfile").read_text().replace("\\\n", " ")
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            steps.append((instruction.upper(), rest.strip()))
    return steps


@pytest.mark.slow
@pytest.mark.timeout(900)  # a real pip install of taskbasket and its extras
def test_the_dockerfiles_steps_build_an_image_whose_worker_runs(tmp_path: Path) -> None:
    """Each step of the Dockerfile, run for real in ``tmp_path`` as the image's root: the
    venv, the pip install of taskbasket with its extras, the app, and then the CMD."""
    root = tmp_path / "image"
    root.mkdir()
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "python").symlink_to(sys.executable)  # the base image's python

    def inside(value: str) -> str:  # absolute image paths, under the stand-in root
        return re.sub(r"(?<![\w.])/(opt|build|app)\b", lambda m: f"{root}/{m.group(1)}", value)

    env = {"PATH": f"{shims}:/usr/bin:/bin", "HOME": str(tmp_path)}
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONFIG_FILE"):
        if key in os.environ:
            env[key] = os.environ[key]
    workdir = root
    command: list[str] = []
    for instruction, rest in dockerfile_steps():
        if instruction == "FROM":
            version = re.search(r"python:(\d+)\.(\d+)", rest)
            assert version and (int(version[1]), int(version[2])) >= (3, 11), rest
        elif instruction == "ENV":
            for key, _, value in (pair.partition("=") for pair in shlex.split(rest)):
                env[key] = inside(value.replace("$PATH", env["PATH"]))
        elif instruction == "RUN":
            run = subprocess.run(inside(rest), shell=True, cwd=workdir, env=env,
                                 capture_output=True, text=True, timeout=600)
            assert run.returncode == 0, f"RUN {rest}\n{run.stdout}\n{run.stderr}"
        elif instruction == "COPY":
            *sources, target = shlex.split(rest)
            destination = Path(inside(target))
            for source in sources:
                path = ROOT / source
                if path.is_dir():
                    shutil.copytree(path, destination, dirs_exist_ok=True)
                else:
                    into = destination / path.name if target.endswith("/") else destination
                    into.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(path, into)
        elif instruction == "WORKDIR":
            workdir = Path(inside(rest))
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "CMD":
            import json

            command = json.loads(rest)
        else:
            assert instruction in ("USER", "STOPSIGNAL", "EXPOSE"), instruction
    assert Path(env["VIRTUAL_ENV"], "bin", "taskbasket").exists()
    options = worker_options(command)
    options_port = options["metrics_port"]
    # the image's CMD, on a free port, with a store in the image: it starts and stops on
    # SIGTERM (docker stop) with status 0
    command[command.index("--metrics-port") + 1] = "0"
    env["TASKBASKET_URL"] = f"sqlite:///{tmp_path / 'tasks.db'}"
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "started:" in log.read_text() or proc.poll() is not None, 60,
                 "the image's worker to start")
        assert proc.poll() is None, log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert options_port == 9100
