"""Shared fixtures: a keyring outside the data, the samples, a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from veil.cli import main
from veil.keys import init_keyring

ROOT = Path(__file__).resolve().parent.parent
SAMPLES_CSV = ROOT / "samples" / "shop"
SAMPLES_PARQUET = ROOT / "samples" / "shop-parquet"
SHOP_PROFILE = ROOT / "profiles" / "shop.yaml"


@pytest.fixture
def keyring(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "keyring.json"
    init_keyring(path)
    return path


@pytest.fixture(scope="module")
def keyfile(tmp_path_factory) -> Path:
    """A keyring file shared by a module's tests (made once per module)."""
    path = tmp_path_factory.mktemp("modulekeys") / "keyring.json"
    init_keyring(path)
    return path


@pytest.fixture(scope="module")
def spark(request):
    """A local[2] Spark session per test module (tests/spark_session.py), for modules that
    import pyspark (they skip without it, with the reason)."""
    from .spark_session import local_spark

    yield from local_spark(f"veil-{request.module.__name__.rsplit('.', 1)[-1]}", 2)


@pytest.fixture
def shop_csv(tmp_path) -> Path:
    """A private copy of the CSV samples (tests may damage it)."""
    dst = tmp_path / "shop"
    shutil.copytree(SAMPLES_CSV, dst)
    return dst


@pytest.fixture
def cli():
    """Invoke the CLI in-process; returns click's Result (stdout, stderr, exit_code)."""
    runner = CliRunner()

    def invoke(*args: str, env: dict | None = None):
        return runner.invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


def run_module(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m veil ...` in a subprocess (for exit codes and real process behaviour)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "veil", *map(str, args)], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=300)
