"""Bad input and faults on the command line: each exits non-zero with one line.

Every case checks the exit code, that standard error is one line naming
the problem (no traceback), and that no input or existing output changed.
Each runs `python -m keras_dccl` in a process of its own, except the few
that patch the code or trace this process's memory (`in_process=True`); the
cases that need signals or a slow start (Ctrl-C while TensorFlow imports,
its native log, a second writer, kill -9) are in
`test_hardening_processes.py`.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from keras_dccl import cli
from keras_dccl.compressed_table import CompressedTable
from keras_dccl.compression import local_search
from keras_dccl.export import tflite_file

FLAGS = ["-m", "4", "-k", "8", "-q"]


def write_glove(path, vectors, words=None, prefix=b""):
    words = words or [f"word{index}" for index in range(len(vectors))]
    lines = [
        f"{word} " + " ".join(f"{value:.6g}" for value in row)
        for word, row in zip(words, vectors)
    ]
    path.write_bytes(prefix + ("\n".join(lines) + "\n").encode("utf-8"))
    return path


@pytest.fixture
def glove_file(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((300, 6)).astype(np.float32)
    return write_glove(tmp_path / "vectors.txt", vectors)


def snapshot(folder):
    """Name -> SHA-256 of every file under `folder`."""
    return {
        os.path.relpath(os.path.join(root, name), folder): hashlib.sha256(
            open(os.path.join(root, name), "rb").read()
        ).hexdigest()
        for root, _, names in os.walk(folder)
        for name in names
    }


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(capsys, *argv, in_process=False):
    """Runs the CLI: `(exit code, stdout, stderr)`.

    In a process of its own (`python -m keras_dccl`, as a user runs it), or
    with `in_process=True` in this one, for the cases that patch the code
    or trace this process's memory.
    """
    argv = [str(argument) for argument in argv]
    if in_process:
        code = cli.main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    result = subprocess.run(
        [sys.executable, "-m", "keras_dccl", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=600,
    )
    return result.returncode, result.stdout, result.stderr


def assert_refused(capsys, folder, argv, pattern, code=2):
    """Runs the CLI; checks the exit code, one error line, no file changed."""
    before = snapshot(folder)
    status, out, err = run(capsys, *argv)
    assert status == code, (out, err)
    assert err.count("\n") == 1 and err.startswith("keras-dccl: error: "), err
    assert "Traceback" not in err + out
    assert re.search(pattern, err), err
    assert snapshot(folder) == before
    return err


def test_output_that_is_the_input_is_refused(glove_file, tmp_path, capsys):
    # Case 1: the same file, through a symbolic link and a hard link.
    os.symlink(glove_file, tmp_path / "link.txt")
    os.link(glove_file, tmp_path / "hard.txt")
    assert_refused(
        capsys,
        tmp_path,
        ["compress", glove_file, "-o", glove_file, *FLAGS],
        r"vectors.txt: is the input file; writing there would destroy it",
    )
    for output in [tmp_path / "link.txt", tmp_path / "hard.txt"]:
        assert_refused(
            capsys,
            tmp_path,
            ["compress", glove_file, "-o", output, *FLAGS],
            r"is the input file .*vectors.txt; writing there would destroy",
        )
    vocabulary = tmp_path / "words.txt"
    vocabulary.write_text("a\nb\n")
    np.save(tmp_path / "table.npy", np.ones((2, 3), np.float32))
    assert_refused(
        capsys,
        tmp_path,
        ["compress", tmp_path / "table.npy", "--vocabulary", vocabulary]
        + ["-o", vocabulary, *FLAGS],
        "words.txt: is the input file; writing there would destroy it",
    )


def test_byte_order_mark_is_skipped(tmp_path, capsys):
    # Case 2, through the CLI: the first word is "word0", not "\ufeffword0".
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((40, 3)).astype(np.float32)
    path = write_glove(tmp_path / "bom.txt", vectors, prefix=b"\xef\xbb\xbf")
    output = tmp_path / "out.npz"
    code, _, err = run(capsys, "compress", path, "-o", output, *FLAGS)
    assert code == 0, err
    assert CompressedTable.load(output).vocabulary[0] == "word0"


class Interrupt(KeyboardInterrupt):
    pass


def interrupt_compress(monkeypatch, capsys, argv):
    """Runs the CLI, pressing Ctrl-C at the search's third codebook update."""
    original = local_search.least_squares_codebooks
    calls = []

    def least_squares_codebooks(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise Interrupt()
        return original(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(
            local_search, "least_squares_codebooks", least_squares_codebooks
        )
        code, _, err = run(capsys, *argv, in_process=True)
    assert code == 130
    assert err.strip().splitlines() == [
        "keras-dccl: interrupted; run the same command with --resume to "
        "continue from the last checkpoint."
    ]


def test_resume_refuses_a_changed_input(tmp_path, monkeypatch, capsys):
    # Case 3: one row changed out of 3000, between the rows that a sample of
    # every len // 1000-th row would hash.
    rng = np.random.default_rng(0)
    path = write_glove(tmp_path / "v.txt", rng.standard_normal((3000, 4)))
    output = tmp_path / "out.npz"
    argv = ["compress", path, "-o", output, *FLAGS]
    interrupt_compress(monkeypatch, capsys, argv)
    lines = path.read_text().splitlines()
    lines[1000] = "word1000 " + " ".join(["0.5"] * 4)
    path.write_text("\n".join(lines) + "\n")
    assert_refused(
        capsys, tmp_path, [*argv, "--resume"], "belongs to another job"
    )


def rewrite_checkpoint(path, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    arrays = change(arrays)
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def bogus_stage(arrays):
    state = json.loads(arrays["__state__"].item())
    state["stage"] = "bogus"
    return dict(arrays, __state__=np.array(json.dumps(state)))


@pytest.mark.parametrize(
    "change",
    [
        bogus_stage,
        lambda arrays: {k: v for k, v in arrays.items() if k != "codes"},
        lambda arrays: {k: v for k, v in arrays.items() if k != "__checksum__"},
    ],
    ids=["stage", "codes", "checksum"],
)
def test_resume_refuses_an_edited_checkpoint(
    glove_file, tmp_path, monkeypatch, capsys, change
):
    # Case 4.
    output = tmp_path / "out.npz"
    argv = ["compress", glove_file, "-o", output, *FLAGS]
    interrupt_compress(monkeypatch, capsys, argv)
    rewrite_checkpoint(tmp_path / "out.npz.checkpoint.npz", change)
    assert_refused(
        capsys,
        tmp_path,
        [*argv, "--resume"],
        r"out.npz.checkpoint.npz: not a valid keras-dccl checkpoint "
        r"\((checksum mismatch|missing __checksum__).*Delete it",
    )


@pytest.fixture
def artifact(glove_file, tmp_path, capsys):
    output = tmp_path / "out.npz"
    code, _, err = run(capsys, "compress", glove_file, "-o", output, *FLAGS)
    assert code == 0, err
    return output


def test_edited_metrics_are_caught(artifact, tmp_path, capsys):
    # Case 5: the checksum covers the metadata.
    with np.load(artifact, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    header = json.loads(arrays["metadata"].item())
    header["extra"]["mean_distance"] = 0.0001
    arrays["metadata"] = np.array(json.dumps(header))
    with open(artifact, "wb") as file:
        np.savez(file, **arrays)
    assert_refused(capsys, tmp_path, ["info", artifact], "checksum mismatch")


def test_absurdly_long_word_is_refused_at_read_time(tmp_path, capsys):
    # Case 6.
    path = tmp_path / "long.txt"
    path.write_text("a" * 5_000_000 + " 1 2\nb 3 4\n")
    assert_refused(
        capsys,
        tmp_path,
        ["compress", path, "-o", tmp_path / "out.npz", *FLAGS],
        r"long.txt:1: The word 'a{20}\.\.\.' is 5,000,000 bytes long",
    )


def make_tflite(opcode_index=0, subgraph_input=0, operator_input=0):
    """A one-GATHER flatbuffer, built without TensorFlow."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT()
    model.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = 36  # GATHER
    model.operatorCodes = [code]
    model.buffers = [schema.BufferT()]
    tensors = []
    for name in ("ids", "out"):
        tensor = schema.TensorT()
        tensor.shape = np.array([1, 4], np.int32)
        tensor.type = schema.TensorType.INT8
        tensor.name = name
        tensors.append(tensor)
    operator = schema.OperatorT()
    operator.opcodeIndex = opcode_index
    operator.inputs = [operator_input]
    operator.outputs = [1]
    subgraph = schema.SubGraphT()
    subgraph.tensors = tensors
    subgraph.inputs = [subgraph_input]
    subgraph.outputs = [1]
    subgraph.operators = [operator]
    model.subgraphs = [subgraph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"opcode_index": 7}, "operator 0 uses opcode index 7, but there"),
        ({"subgraph_input": 99999}, "subgraph inputs name tensor 99999, but"),
        ({"operator_input": 5}, "operator 0 names tensor 5, but there are 2"),
    ],
)
def test_flatbuffer_indices_are_checked(tmp_path, capsys, changes, message):
    # Case 7: TFLiteFile (check-edgetpu reads the file through it).
    path = tmp_path / "model.tflite"
    path.write_bytes(make_tflite(**changes))
    with pytest.raises(ValueError, match=message):
        tflite_file.TFLiteFile(path)
    assert tflite_file.TFLiteFile(_write(tmp_path, make_tflite())).op_names
    assert_refused(
        capsys, tmp_path, ["check-edgetpu", path], "not a valid TFLite model"
    )


def _write(folder, data):
    path = folder / "valid" / "model.tflite"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def test_ctrl_c_says_interrupted_without_a_traceback(
    glove_file, tmp_path, monkeypatch, capsys
):
    # Case 8 in this process: an interrupt anywhere in a command (here while
    # the vectors are read, before any checkpoint exists).
    def interrupted_read(arguments):
        raise KeyboardInterrupt()

    monkeypatch.setattr(cli, "_read", interrupted_read)
    code, out, err = run(
        capsys, "compress", glove_file, "-o", tmp_path / "o.npz", *FLAGS,
        in_process=True,
    )  # fmt: skip
    assert (code, err) == (130, "keras-dccl: interrupted.\n")
    assert not os.path.exists(tmp_path / "o.npz.lock")


def test_table_of_exactly_k_rows(tmp_path, capsys):
    # Case 9: 16 rows, K=16, 1 row held out for validation.
    rng = np.random.default_rng(0)
    path = write_glove(tmp_path / "v.txt", rng.standard_normal((16, 4)))
    assert_refused(
        capsys,
        tmp_path,
        ["compress", path, "-o", tmp_path / "o.npz", "-m", "2", "-k", "16"],
        r"v.txt: `vectors` needs at least codebook_size=16 rows besides "
        r"the 1 held out by validation_split=0.05. Received: 16 rows",
    )
    code, _, err = run(
        capsys, "compress", path, "-o", tmp_path / "o.npz", "-m", "2", "-k",
        "16", "--validation-split", "0", "-q",
    )  # fmt: skip
    assert code == 0, err


def test_values_whose_squares_overflow(tmp_path, capsys):
    # Case 10: finite float32 values near 1e36, refused before any work.
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((300, 6)) * 1e36
    path = write_glove(tmp_path / "huge.txt", vectors)
    assert_refused(
        capsys,
        tmp_path,
        ["compress", path, "-o", tmp_path / "o.npz", *FLAGS],
        r"huge.txt: `vectors` holds values up to [\d.]+e\+36 in magnitude; "
        "beyond .*, squared distances overflow float32",
    )


def test_files_of_the_wrong_kind(glove_file, artifact, tmp_path, capsys):
    # Case 11: the message says what the file is not, never "pickled".
    renamed = tmp_path / "renamed.npz"
    renamed.write_bytes(glove_file.read_bytes())
    output = tmp_path / "other.npz"
    cases = [
        (
            ["compress", glove_file, "--format", "npy", "-o", output],
            r"vectors.txt: Not a .npy array file: it does not start with "
            r"the .npy signature \(it looks like text",
        ),
        (["info", renamed], r"renamed.npz: not an .npz archive .*text file"),
        (["info", glove_file], r"vectors.txt: not an .npz archive"),
        (
            ["compress", artifact, "-o", output],
            r"out.npz: This is a zip \(.npz\) file, not a text or word2vec",
        ),
        (["evaluate", renamed, glove_file], r"renamed.npz: not an .npz"),
    ]
    for argv, pattern in cases:
        err = assert_refused(capsys, tmp_path, argv, pattern)
        assert "pickle" not in err


def test_output_that_is_a_directory(glove_file, tmp_path, capsys):
    # Case 12: refused before reading, nothing written into the directory.
    (tmp_path / "folder").mkdir()
    for output in [".", tmp_path / "folder"]:
        assert_refused(
            capsys,
            tmp_path,
            ["compress", glove_file, "-o", output, *FLAGS],
            "is a directory; give the artifact's file name",
        )
    assert_refused(
        capsys,
        tmp_path,
        ["compress", glove_file, "-o", tmp_path / "missing" / "o.npz"],
        "the folder .*missing does not exist",
    )


def test_info_on_a_directory(tmp_path, capsys):
    # Case 13.
    assert_refused(
        capsys, tmp_path, ["info", tmp_path], "is a directory, not an .npz"
    )


def test_extra_member_is_not_read(artifact, tmp_path, capsys):
    # Case 14: 256 MiB of zeros deflated to about 256 KB, beside the format's
    # members; `info` reads only the members it defines.
    import tracemalloc

    with zipfile.ZipFile(artifact, "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("extra.npy", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(256):
                member.write(chunk)
    assert os.path.getsize(artifact) < 2 << 20
    tracemalloc.start()
    try:
        code, out, err = run(capsys, "info", artifact, in_process=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0, err
    assert "words:             300" in out
    assert peak < 16 << 20


def test_member_declaring_more_than_its_shape_is_refused(
    artifact, tmp_path, capsys
):
    # Case 14: a defined member (the codes) inflating to 64 MiB is refused
    # from its declared size, before it is inflated.
    with np.load(artifact, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["codes"] = np.zeros((64 << 20, 1), np.uint8)
    with open(artifact, "wb") as file:
        np.savez_compressed(file, **arrays)
    assert_refused(
        capsys,
        tmp_path,
        ["info", artifact],
        r"array 'codes' declares 67,108,9\d\d bytes, more than the",
    )


def test_codes_larger_than_the_floats_are_refused(glove_file, tmp_path, capsys):
    # Case 15: 1000 codes of 3 bits = 3000 bits against 6 floats (192 bits).
    assert_refused(
        capsys,
        tmp_path,
        ["compress", glove_file, "-o", tmp_path / "o.npz", "-m", "1000"]
        + ["-k", "8"],
        r"= 3000 bits of codes per word is no smaller than the 6 float32 "
        r"values they replace: nothing would be saved. "
        r"Received: num_codebooks=1000",
    )


def test_live_lock_refuses_a_second_writer(
    artifact, glove_file, tmp_path, capsys
):
    # Case 16 in this process: a lock held by a running process.
    holder = subprocess.Popen([sys.executable, "-c", "input()"], stdin=-1)
    try:
        (tmp_path / "out.npz.lock").write_text(f"{holder.pid}\n")
        assert_refused(
            capsys,
            tmp_path,
            ["compress", glove_file, "-o", artifact, *FLAGS],
            rf"out.npz.lock: process {holder.pid} is writing the same output",
        )
    finally:
        holder.communicate(b"\n")
    # Its process ended: the lock is stale and taken over.
    code, _, err = run(capsys, "compress", glove_file, "-o", artifact, *FLAGS)
    assert code == 0, err
    assert not (tmp_path / "out.npz.lock").exists()


def test_progress_off_a_terminal_is_plain_and_labelled(
    glove_file, tmp_path, capsys
):
    # Cases 17 and 18: standard output is captured here, not a terminal.
    output = tmp_path / "out.npz"
    code, out, err = run(
        capsys, "compress", glove_file, "-o", output, "-m", "4", "-k", "8"
    )
    assert code == 0, err
    assert "\x1b" not in out + err and "\r" not in out + err and "\b" not in out
    progress = [line for line in out.splitlines() if line.startswith("iter")]
    assert 1 <= len(progress) <= 12  # The first, every tenth, the last.
    assert all(" - val_distance: " in line for line in progress)
    assert (
        "at most; val_distance: mean distance over the 15 held-out rows:" in out
    )
    distance = CompressedTable.load(output).metadata["mean_distance"]
    assert f"mean_distance (all rows): {json.dumps(distance)}" in out


def test_progress_bar_off_a_terminal_prints_occasional_lines():
    # Case 17: 200 updates leave 11 plain lines (steps 1, 20, 40, ..., 200).
    import io

    from keras_dccl.compression.progress_bar import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(200, unit_name="epoch", stream=stream)
    for step in range(1, 201):
        bar.update(step, [("loss", 1.0 / step)])
    lines = stream.getvalue().splitlines()
    steps = [int(line.split()[1].split("/")[0]) for line in lines]
    assert steps == [1, *range(20, 201, 20)]
    assert lines[-1].startswith("epoch 200/200 - loss: 0.0050 - ")
