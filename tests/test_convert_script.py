"""Tests of `tflite/convert.py`, run in-process (one case as a subprocess)."""

import importlib.util
import os
import re
import subprocess
import sys
import types

import keras
import numpy as np
import pytest

import keras_dccl
from keras_dccl.export import TFLiteFile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tflite", "convert.py")
NUM_WORDS, DIM, NUM_CODEBOOKS, CODEBOOK_SIZE, LENGTH = 300, 16, 4, 16, 8
# Two 4-bit codes per byte.
CODES_BYTES = NUM_WORDS * NUM_CODEBOOKS // 2


def load_script():
    spec = importlib.util.spec_from_file_location("convert", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def convert():
    return load_script()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small artifact, models built on it, and representative ids."""
    directory = tmp_path_factory.mktemp("convert")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((NUM_WORDS, DIM)).astype("float32")
    compressed = keras_dccl.compress(
        vectors, NUM_CODEBOOKS, CODEBOOK_SIZE, "residual_kmeans", verbose=0
    )
    compressed.save(directory / "artifact.npz")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras_dccl.CodebookEmbedding.from_compressed(compressed),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(4),
        ]
    )
    model.save(directory / "model.keras")
    ids = keras.Input((LENGTH,), dtype="int32")
    pooled = keras.layers.GlobalAveragePooling1D()(
        keras_dccl.CodebookEmbedding.from_compressed(compressed)(ids)
    )
    fixed = keras.Model(ids, keras.layers.Dense(4)(pooled))
    fixed.save(directory / "fixed_length.keras")
    adaptive = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras_dccl.AdaptiveCodebookEmbedding(
                NUM_WORDS, DIM, learn_codes=False, seed=0
            ),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(4),
        ]
    )
    adaptive.save(directory / "adaptive.keras")
    (directory / "vocabulary.txt").write_text(
        "[PAD]\n[UNK]\n" + "".join(f"w{i}\n" for i in range(NUM_WORDS - 2))
    )
    plain = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(NUM_WORDS, DIM),
            keras.layers.GlobalAveragePooling1D(),
        ]
    )
    plain.save(directory / "plain.keras")
    representative = rng.integers(0, NUM_WORDS, (128, LENGTH))
    np.save(directory / "ids.npy", representative)
    np.save(directory / "too_large.npy", representative + NUM_WORDS)
    (directory / "text.keras").write_text("not a model")
    (directory / "text.txt").write_text("not a model")
    np.savez(directory / "arrays.npz", codes=np.zeros((2, 2)))
    return directory


def run(convert, capsys, *argv):
    code = convert.main([str(argument) for argument in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def reported_bytes(out, name):
    lines = [line.split() for line in out.splitlines()]
    row = next(line for line in lines if line[:1] == [name])
    return int(row[1].replace(",", ""))


@pytest.mark.parametrize(
    "quantize, extra",
    [
        ("int8", ()),
        ("float16", ()),
        ("none", ("--batch-size", 4)),
        ("full_int8", ("--representative", "ids.npy", "--sequence-length", 8)),
    ],
)
def test_model(convert, capsys, files, quantize, extra):
    extra = [files / a if str(a).endswith(".npy") else a for a in extra]
    output = files / f"model_{quantize}.tflite"
    code, out, err = run(
        convert, capsys,
        files / "model.keras", "-o", output, "--quantize", quantize, *extra,
    )  # fmt: skip
    assert code == 0, out + err
    assert "max abs difference" in out and ": ok" in out
    assert "FAILED" not in out
    assert reported_bytes(out, "codes") == CODES_BYTES
    assert reported_bytes(out, "total") == os.path.getsize(output)
    assert "float32 table (300 x 16): 19,200 bytes" in out
    if quantize == "full_int8":
        assert "argmax agreement" in out
    assert TFLiteFile(output).inputs[0].dtype == "INT32"


@pytest.mark.parametrize("quantize", ["int8", "float16", "none"])
def test_artifact(convert, capsys, files, quantize):
    output = files / f"lookup_{quantize}.tflite"
    code, out, err = run(
        convert, capsys,
        files / "artifact.npz", "-o", output, "--quantize", quantize,
        "--sequence-length", LENGTH, "--batch-size", 1,
    )  # fmt: skip
    assert code == 0, out + err
    assert "max abs difference" in out and ": ok" in out
    assert reported_bytes(out, "codes") == CODES_BYTES
    assert reported_bytes(out, "codebooks") > 0
    assert TFLiteFile(output).inputs[0].shape_signature == (1, LENGTH)


def test_adaptive_model_and_codebook_pairs(convert, capsys, files):
    output = files / "adaptive.tflite"
    code, _, err = run(convert, capsys, files / "adaptive.keras", "-o", output)
    assert code == 2 and "pass `vocabulary=`" in err
    code, out, err = run(
        convert, capsys, files / "adaptive.keras", "-o", output,
        "--quantize", "none", "--vocabulary", files / "vocabulary.txt",
    )  # fmt: skip
    # The check feeds the file the renumbered ids: outputs match.
    assert code == 0, out + err
    assert ": ok" in out and "FAILED" not in out
    written = (files / "adaptive.vocabulary.txt").read_text().split("\n")
    assert written[:2] == ["[PAD]", "[UNK]"] and len(written) == NUM_WORDS + 1
    output = files / "pairs.tflite"
    code, out, err = run(
        convert, capsys, files / "model.keras", "-o", output,
        "--codebook-pairs",
    )  # fmt: skip
    assert code == 0, out + err
    assert reported_bytes(out, "codebooks") == NUM_CODEBOOKS // 2 * 256 * DIM


def test_script_end_to_end(files, tmp_path):
    output = tmp_path / "lookup.tflite"
    result = subprocess.run(
        [sys.executable, SCRIPT, str(files / "artifact.npz"), "-o", output],
        capture_output=True,
        text=True,
        cwd=ROOT,
        # The script's folder comes first on sys.path, not the checkout:
        # import this checkout's keras_dccl, not an installed copy.
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert result.returncode == 0, result.stderr
    assert "max abs difference" in result.stdout
    assert "scales" in result.stdout and output.exists()


def test_help_explains_every_flag(convert, capsys):
    with pytest.raises(SystemExit) as exit_info:
        convert.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--output", "--quantize", "--target", "--sequence-length",
        "--batch-size", "--representative", "--tolerance", "Tolerances",
        "full_int8 0.1",
    ):  # fmt: skip
        assert flag in out


def test_bad_input(convert, capsys, files):
    cases = {
        "no such file": ["missing.keras"],
        "expected a .keras model": ["text.txt"],
        "not a loadable Keras model": ["text.keras"],
        "not a keras-dccl artifact": ["arrays.npz"],
        "holds no CodebookEmbedding": ["plain.keras"],
        "needs `representative_inputs`": [
            "model.keras", "--quantize", "full_int8",
        ],
        "has a dynamic length": [
            "model.keras", "--target", "edgetpu",
            "--representative", "ids.npy",
        ],
        "does not match the model input length": [
            "fixed_length.keras", "--sequence-length", 12,
        ],
        r"must be a non-empty integer array of shape \(N, 12\)": [
            "model.keras", "--sequence-length", 12,
            "--representative", "ids.npy",
        ],
        r"word ids in \[0, 300\)": [
            "model.keras", "--representative", "too_large.npy",
        ],
        "needs a Keras model, not an artifact": [
            "artifact.npz", "--target", "edgetpu",
        ],
        "no float ops to quantize": [
            "artifact.npz", "--quantize", "full_int8",
        ],
        "runs full_int8 graphs only": [
            "fixed_length.keras", "--target", "edgetpu", "--quantize", "int8",
        ],
    }  # fmt: skip
    for message, (name, *flags) in cases.items():
        flags = [files / f if str(f).endswith(".npy") else f for f in flags]
        output = files / "bad.tflite"
        code, _, err = run(convert, capsys, files / name, "-o", output, *flags)
        assert code == 2, message
        assert err.count("\n") == 1, err
        assert err.startswith("convert.py: error: "), err
        assert re.search(message, err), err
        assert not output.exists()


def test_validation_failure_exits_1(convert, capsys, files):
    output = files / "strict.tflite"
    code, out, _ = run(
        convert, capsys, files / "model.keras", "-o", output,
        "--tolerance", 0,
    )  # fmt: skip
    assert code == 1
    assert "FAILED" in out and output.exists()


def test_hyphenated_quantize_is_a_deprecated_alias(convert, capsys, files):
    output = files / "alias.tflite"
    code, out, err = run(
        convert, capsys, files / "model.keras", "-o", output,
        "--quantize", "dynamic-int8",
    )  # fmt: skip
    assert code == 0, out + err
    assert err == (
        "convert.py: warning: --quantize dynamic-int8 is deprecated, use "
        "--quantize dynamic_int8\n"
    )
    assert "(dynamic_int8)" in out and ": ok" in out


def test_edgetpu_not_importable(convert, capsys, files, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_dccl.export.edgetpu", None)
    code, _, err = run(
        convert, capsys,
        files / "fixed_length.keras", "-o", files / "tpu",
        "--target", "edgetpu", "--representative", files / "ids.npy",
    )  # fmt: skip
    assert code == 2
    assert "export_edgetpu, which is not importable" in err
    assert err.count("\n") == 1


def test_edgetpu_calls_export_edgetpu(convert, capsys, files, monkeypatch):
    calls = []

    def export_edgetpu(model, directory, **kwargs):
        calls.append((model, directory, kwargs))
        raise ValueError("stop here")

    module = types.ModuleType("keras_dccl.export.edgetpu")
    module.export_edgetpu = export_edgetpu
    monkeypatch.setitem(sys.modules, "keras_dccl.export.edgetpu", module)
    code, _, err = run(
        convert, capsys,
        files / "model.keras", "-o", files / "tpu", "--target", "edgetpu",
        "--sequence-length", LENGTH, "--representative", files / "ids.npy",
    )  # fmt: skip
    assert code == 2 and "stop here" in err
    ((model, directory, kwargs),) = calls
    assert isinstance(model, keras.Model)
    assert directory == str(files / "tpu")
    assert kwargs["sequence_length"] == LENGTH
    assert kwargs["representative_inputs"].shape == (128, LENGTH)


def test_edgetpu_end_to_end(convert, capsys, files):
    pytest.importorskip("keras_dccl.export.edgetpu")
    output = files / "tpu_model"
    code, out, err = run(
        convert, capsys,
        files / "fixed_length.keras", "-o", output, "--target", "edgetpu",
        "--representative", files / "ids.npy",
    )  # fmt: skip
    assert code == 0, out + err
    assert "host_lookup.tflite" in out and "accelerator.tflite" in out
    assert "argmax agreement" in out and "FAILED" not in out
