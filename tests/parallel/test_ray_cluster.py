"""The Ray backend against real multi-process clusters: two raylets, and a token-auth `ray start`.

Each test starts its own cluster (its own temp dir and port, so it never meets another Ray on
the machine) and stops every process it started, by pid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BR, write_plan

ray = pytest.importorskip("ray")  # the optional extra, not our code
pytestmark = pytest.mark.ray


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_tree(process: subprocess.Popen[str], descendants: list[int]) -> None:
    """Stop `ray start --block` (it stops its processes), then whatever of them is left."""
    import psutil

    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for pid in descendants:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            continue


def descendants_of(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


@pytest.fixture
def token_cluster(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`ray start --head` as a user runs it, where a token exists: token auth is on."""
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text(os.urandom(32).hex())
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RAY_AUTH", "RAY_ADDRESS"))
    }
    env["HOME"] = str(home)
    port = free_port()
    ray_cli = Path(sys.executable).parent / "ray"
    # Ray's socket paths must stay under 108 bytes: a short folder of our own, not tmp_path
    temp_dir = Path(tempfile.mkdtemp(prefix="br-ray-"))
    process = subprocess.Popen(
        [
            str(ray_cli),
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=1",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp_dir}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started: list[str] = []
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    for line in process.stdout:
        started.append(line)
        if "Ray runtime started" in line or time.monotonic() > deadline:
            break
    assert any("Ray runtime started" in line for line in started), "".join(started)
    assert any("Token authentication is enabled" in line for line in started), "".join(started)
    # keep reading what `ray start --block` says, so a full pipe can never stall it
    threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
    children = descendants_of(process.pid)
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        stop_tree(process, children + descendants_of(process.pid))
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_a_token_auth_cluster_names_the_setting_and_works_with_it(
    project: Path, token_cluster: tuple[str, dict[str, str]]
) -> None:
    address, env = token_cluster
    write_plan(project, "name: remote\ntasks:\n  - id: a\n    run: echo ran > a.out\n")

    refused = subprocess.run(
        [*BR, "run", "plan.yaml", "--backend", "ray", "--ray-address", address],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2, refused.stderr
    error = [line for line in refused.stderr.splitlines() if line.startswith("br: error:")]
    assert len(error) == 1 and "requires token authentication" in error[0]
    assert "RAY_AUTH_MODE=token" in error[0]
    assert not (project / "a.out").exists()

    works = subprocess.run(
        [*BR, "run", "plan.yaml", "--backend", "ray", "--ray-address", address, "--json"],
        cwd=project,
        env={**env, "RAY_AUTH_MODE": "token"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert works.returncode == 0, works.stderr
    assert json.loads(works.stdout)["tasks"]["succeeded"] == 1
    assert (project / "a.out").read_text() == "ran\n"


SPREAD_PLAN = """
name: spread
tasks:
""" + "".join(
    f'  - id: t{i}\n    run: echo "$RAY_RAYLET_PID" >> nodes.txt; sleep 2\n' for i in range(4)
)


def test_tasks_run_on_both_raylets_of_a_two_node_cluster(project: Path) -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        raylets = {node.all_processes["raylet"][0].process.pid for node in cluster.list_all_nodes()}
        assert len(raylets) == 2
        write_plan(project, SPREAD_PLAN)
        # two attempts in flight, one CPU per node: Ray must place them on different raylets
        result = subprocess.run(
            [
                *BR,
                "run",
                "plan.yaml",
                "--backend",
                "ray",
                "--ray-address",
                cluster.address,
                "--workers",
                "2",
                "--json",
            ],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["tasks"]["succeeded"] == 4
        ran_on = [int(line) for line in (project / "nodes.txt").read_text().split()]
        assert len(ran_on) == 4 and set(ran_on) == raylets
    finally:
        cluster.shutdown()
