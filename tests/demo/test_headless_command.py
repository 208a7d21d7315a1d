"""`pvsync demo --headless` as a user starts it: the commands it prints work when pasted into a
shell, and stopping it (SIGTERM as systemd or `kill` does, SIGINT as Ctrl-C does) removes its
temporary folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.fixtures import PVSYNC

pytestmark = pytest.mark.loopback


def start_demo(tmp_path: Path) -> subprocess.Popen:
    # Its own temporary root, so the test finds the folder the demo made and nothing else.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PVSYNC_")}
    env["TMPDIR"] = str(tmp_path)
    return subprocess.Popen([str(PVSYNC), "demo", "--headless"], env=env, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def printed_lines(demo: subprocess.Popen) -> list[str]:
    lines = []
    while not lines or not lines[-1].startswith("  stop with"):
        line = demo.stdout.readline()
        assert line, f"the demo ended before saying how to stop it: {lines}"
        lines.append(line.rstrip("\n"))
    return lines


def stop(demo: subprocess.Popen, signum: int) -> int:
    demo.send_signal(signum)
    try:
        return demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()


def test_the_printed_commands_work_and_sigterm_removes_the_folder(tmp_path):
    demo = start_demo(tmp_path)
    try:
        lines = printed_lines(demo)
        [folder] = [path for path in tmp_path.iterdir() if path.name.startswith("pvsync-demo-")]
        commands = [line.split(": ", 1)[1] for line in lines if line.startswith(("  watch it with:", "  its health:"))]
        assert len(commands) == 2 and all(str(folder) in command for command in commands)
        # As pasted into a shell in another folder; --follow would wait forever, so a bounded read.
        log = subprocess.run(commands[0].replace("--follow", "-n 5"), shell=True, cwd="/", text=True,
                             capture_output=True, timeout=60, env={"PATH": os.environ["PATH"]})
        assert log.returncode == 0 and " INFO " in log.stdout, log.stderr
        status = subprocess.run(commands[1], shell=True, cwd="/", text=True, capture_output=True, timeout=60,
                                env={"PATH": os.environ["PATH"]})
        assert "Engine:   up (daemon" in status.stdout, status.stdout + status.stderr
    finally:
        code = stop(demo, signal.SIGTERM)
    assert code == 0
    assert not folder.exists(), "the demo's temporary folder is gone"


def test_ctrl_c_removes_the_folder(tmp_path):
    demo = start_demo(tmp_path)
    try:
        printed_lines(demo)
    finally:
        code = stop(demo, signal.SIGINT)
    assert code == 0
    assert [path for path in tmp_path.iterdir() if path.name.startswith("pvsync-demo-")] == []


@pytest.mark.skipif(not PVSYNC.exists(), reason="the console script is installed by uv sync")
def test_the_printed_command_is_this_installation(tmp_path):
    from core.demo.scenario import pvsync_command

    assert pvsync_command() == str(Path(sys.executable).with_name("pvsync"))
