"""The image's install step, done here: exactly what the Dockerfile's build stage copies, pip-installed into a
fresh virtualenv (the dependencies: the ones the tests run with, which the lock pins), runs `config` and
`s3copy` against the testbed without the testbed installed, and its `demo` says to run it from a checkout.
Where a Docker daemon answers, the image itself is built and run as well."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from testbed.s3 import S3Server
from tests.e2e.runbooks import PLACEHOLDERS
from tests.e2e.s3copy_runs import RUN_DEADLINE_S, tsv, user_env
from tests.fixtures.dockerfile import ROOT, replicate_build_context, stages

INSTALL_DEADLINE_S = 300.0
IMAGE = "kaltura-archiver:test"


@pytest.fixture(scope="module")
def image_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding kaltura-archiver as the image installs it; its `bin` directory."""
    base = tmp_path_factory.mktemp("image")
    context, venv = base / "src", base / "venv"
    context.mkdir()
    replicate_build_context(stages()[0], context)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=60)
    # the dependencies from this environment: its site-packages as a plain path, so none of its .pth files
    # (this checkout's editable install among them) take effect there
    (site_packages,) = venv.glob("lib/python*/site-packages")
    (site_packages / "tested-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "-c", context / "container" / "requirements.lock", context],
        capture_output=True, text=True, timeout=INSTALL_DEADLINE_S, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    return venv / "bin"


def run(command: list[str | Path], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=RUN_DEADLINE_S, check=False
    )


def test_the_install_holds_the_tool_and_not_the_testbed(image_install: Path, tmp_path: Path) -> None:
    found = run(
        [image_install / "python", "-c",
         "import importlib.util, jobs; print(jobs.__file__); print(importlib.util.find_spec('testbed'))"],
        {"PATH": "/usr/bin:/bin"}, tmp_path,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    where, testbed = found.stdout.split()
    assert Path(where).is_relative_to(image_install.parent)
    assert testbed == "None"


def test_the_install_runs_config_and_s3copy_against_the_testbed(
    image_install: Path, kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    sim = kaltura_sim_factory(entries=20, seed=8, max_size_mb=0.2)
    env = user_env(sim, s3_server, s3_bucket, **PLACEHOLDERS)
    cli = image_install / "kaltura-archiver"

    config = run([cli, "config"], env, tmp_path)
    assert config.returncode == 0, config.stderr[-2000:]
    checks = dict(line.split("\t", 1) for line in config.stdout.splitlines())
    assert all(not value.startswith("FAIL") for value in checks.values()), config.stdout
    assert checks["placeholder_video"].startswith(f"ok {PLACEHOLDERS['PLACEHOLDER_VIDEO']} (")

    copied = run([cli, "s3copy", "--unplayed_for", "3", "--execute"], env, tmp_path)
    assert copied.returncode == 0, copied.stderr[-2000:]
    rows, summary = tsv(copied.stdout)
    assert summary["archived"] > 0
    assert summary["total"] == len(rows)


def test_demo_in_the_install_says_to_run_it_from_a_checkout(image_install: Path, tmp_path: Path) -> None:
    demo = run([image_install / "kaltura-archiver", "demo"], {"PATH": "/usr/bin:/bin"}, tmp_path)
    assert demo.returncode == 2
    (line,) = demo.stderr.strip().splitlines()
    assert "does not ship" in line
    assert "run bin/demo in a checkout" in line


def docker_refusal() -> str | None:
    """Why the image cannot be built and run here, or None when it can."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60, check=False)
    if info.returncode != 0:
        return f"no Docker daemon answers ({' '.join(info.stderr.split())[:200]})"
    return None


@pytest.mark.slow
@pytest.mark.skipif(docker_refusal() is not None, reason=str(docker_refusal()))
def test_the_image_builds_and_runs_config_with_its_own_placeholders_as_a_non_root_user(
    kaltura_sim_factory: Any, s3_server: S3Server, s3_bucket: str
) -> None:
    built = subprocess.run(
        ["docker", "build", "--quiet", "--tag", IMAGE, ROOT],
        capture_output=True, text=True, timeout=INSTALL_DEADLINE_S, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    sim = kaltura_sim_factory(entries=5, seed=8, max_size_mb=0.1)
    env = {k: v for k, v in user_env(sim, s3_server, s3_bucket).items() if k.startswith(("KALTURA_", "AWS_"))}
    flags = [word for name, value in env.items() for word in ("--env", f"{name}={value}")]

    def docker_run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "run", "--rm", "--network", "host", *flags, *argv],
            capture_output=True, text=True, timeout=RUN_DEADLINE_S, check=False,
        )  # fmt: skip

    config = docker_run(IMAGE, "config")  # no PLACEHOLDER_*: the defaults must be the image's files
    assert config.returncode == 0, config.stdout + config.stderr[-2000:]
    user = docker_run("--entrypoint", "id", IMAGE, "-u")
    assert user.stdout.strip() == "10001"
    demo = docker_run(IMAGE, "demo")
    assert demo.returncode == 2
    assert "bin/demo" in demo.stderr
    health = docker_run("--env", "N_YEARS=3", IMAGE, "health.rc")
    assert health.returncode in (0, 1), health.stderr[-2000:]
