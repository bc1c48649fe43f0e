"""Faults that need a real `keras-dccl` process: signals, locks, native logs.

Each test starts Python (and some TensorFlow), so all are marked slow.
"""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from test_hardening_cli import make_tflite
from test_hardening_cli import snapshot
from test_hardening_cli import write_glove

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The prefix of a native (glog) log line: severity, date, time, thread.
NATIVE_PREFIX = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ")


def start(*argv, **kwargs):
    """Starts `python -m keras_dccl ARGV` on this checkout."""
    environment = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "keras_dccl", *map(str, argv)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job ignores SIGINT; Ctrl-C must reach Python.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **kwargs,
    )


def own_lines(err):
    """Standard error without TensorFlow's native log lines."""
    return [
        line
        for line in err.splitlines()
        if not NATIVE_PREFIX.match(line)
        and not line.startswith(("WARNING: All log messages", "To enable"))
    ]


@pytest.mark.slow
@pytest.mark.parametrize("delay", [1.0, 3.0])
def test_ctrl_c_while_tensorflow_imports(tmp_path, delay):
    # Case 8: check-edgetpu imports Keras and TensorFlow for several seconds.
    path = tmp_path / "model.tflite"
    path.write_bytes(make_tflite())
    process = start("check-edgetpu", path)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err + out
    assert own_lines(err) == ["keras-dccl: interrupted."]


@pytest.mark.slow
def test_tensorflow_start_up_log_is_printed_once(tmp_path):
    # Case 19: each native start-up line at most once.
    path = tmp_path / "model.tflite"
    path.write_bytes(make_tflite())
    process = start("check-edgetpu", path)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 1, err  # GATHER is not an Edge TPU op.
    assert "GATHER is not supported" in out
    messages = [NATIVE_PREFIX.sub("", line) for line in err.splitlines()]
    assert len(messages) == len(set(messages)), err
    assert err.count("absl::InitializeLog") <= 1


@pytest.mark.slow
def test_second_writer_is_refused_and_a_killed_run_resumes(tmp_path):
    # Case 16: a second `compress` of the same output is refused while the
    # first runs; after kill -9, its stale lock is taken over by --resume.
    rng = np.random.default_rng(0)
    vectors = write_glove(tmp_path / "v.txt", rng.standard_normal((6000, 16)))
    output = tmp_path / "out.npz"
    argv = ["compress", vectors, "-o", output, "-m", "8", "-k", "16", "-q"]
    first = start(*argv)
    checkpoint = tmp_path / "out.npz.checkpoint.npz"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and first.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # Frozen, so that it is still running (and holding its lock) however
    # fast this machine is.
    first.send_signal(signal.SIGSTOP)
    assert first.poll() is None, first.communicate()
    before = snapshot(tmp_path)
    second = start(*argv)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 2
    assert err.splitlines() == [
        f"keras-dccl: error: {output}.lock: process {first.pid} is writing "
        "the same output; wait for it to finish or stop it."
    ]
    assert "Starting over" not in out
    # The first run went on undisturbed: its checkpoint was not removed.
    assert checkpoint.exists() and before.keys() <= snapshot(tmp_path).keys()

    first.kill()
    first.communicate()
    assert (tmp_path / "out.npz.lock").exists()  # Left by the killed job.
    resumed = start(*argv[:-1], "--resume")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert f"Resuming from {checkpoint}" in out
    assert "Checked:" in out
    assert sorted(os.listdir(tmp_path)) == ["out.npz", "v.txt"]
