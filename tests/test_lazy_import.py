import subprocess
import sys
import textwrap

import pytest

# Runs in a fresh interpreter: the NumPy path (compress, the artifact, the
# readers and the CLI's compress, evaluate, info and --help) must leave
# TensorFlow and Keras unimported.
NUMPY_PATH_SCRIPT = textwrap.dedent(
    """
    import contextlib
    import io
    import os
    import sys

    import numpy as np

    import keras_dccl
    from keras_dccl import cli

    folder = sys.argv[1]
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((200, 6)).astype(np.float32)
    text = os.path.join(folder, "vectors.txt")
    with open(text, "w") as file:
        for index, row in enumerate(vectors):
            values = " ".join(f"{value:.6f}" for value in row)
            file.write(f"word{index} {values}\\n")
    words, read = keras_dccl.read_vectors(text)
    compressed = keras_dccl.compress(
        read, num_codebooks=2, codebook_size=4, verbose=1
    )
    artifact = os.path.join(folder, "api.npz")
    compressed.save(artifact)
    keras_dccl.CompressedTable.load(artifact).evaluate(read)
    output = os.path.join(folder, "cli.npz")
    with contextlib.redirect_stdout(io.StringIO()):
        codes = [
            cli.main(["compress", text, "-o", output, "-m", "2", "-k", "4"]),
            cli.main(["evaluate", output, text]),
            cli.main(["info", output]),
        ]
        try:
            cli.main(["--help"])
        except SystemExit:
            pass
    assert codes == [0, 0, 0], codes
    loaded = sorted(
        name for name in ("tensorflow", "keras") if name in sys.modules
    )
    print("loaded:", ",".join(loaded))
    """
)


def test_numpy_path_imports_neither_tensorflow_nor_keras(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", NUMPY_PATH_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "loaded:"


@pytest.mark.parametrize(
    "name, package",
    [
        ("CodebookEmbedding", "layers"),
        ("AdaptiveCodebookEmbedding", "layers"),
        ("compress", "compression"),
        ("compress_model", "models"),
        ("read_vectors", "readers"),
    ],
)
def test_shortcuts_are_the_names_of_their_package(name, package):
    import importlib

    import keras_dccl

    value = getattr(keras_dccl, name)
    module = importlib.import_module(f"keras_dccl.{package}")
    assert value is getattr(module, name)
    assert value.__name__ == name
    assert name in keras_dccl.__all__
    assert name in dir(keras_dccl)


@pytest.mark.parametrize(
    "old, new",
    [
        ("CompressedEmbedding", "keras_dccl.compressed_table.CompressedTable"),
        ("TemperatureSchedule", "keras_dccl.callbacks.TemperatureSchedule"),
        ("WordTokenizer", "keras_dccl.text.WordTokenizer"),
        ("load_glove_package", "keras_dccl.readers.load_glove_package"),
    ],
)
def test_moved_names_warn_and_still_work(old, new):
    import importlib

    import keras_dccl

    module, name = new.rsplit(".", 1)
    with pytest.warns(DeprecationWarning, match=f"use `{new}`"):
        value = getattr(keras_dccl, old)
    assert value is getattr(importlib.import_module(module), name)
    assert old not in keras_dccl.__all__


def test_each_public_name_has_one_path():
    import importlib

    import keras_dccl

    paths = {}
    for package in ("callbacks", "compression", "distribution", "export",
                    "layers", "models", "readers", "text"):  # fmt: skip
        module = importlib.import_module(f"keras_dccl.{package}")
        for name in module.__all__:
            assert getattr(module, name) is not None
            paths.setdefault(name, []).append(package)
    repeated = {name: where for name, where in paths.items() if len(where) > 1}
    assert not repeated
    # The top level holds only shortcuts of those names, and the artifact.
    artifact = {"CompressedTable", "ArtifactError", "__version__"}
    assert set(keras_dccl.__all__) - artifact <= set(paths)


def test_renamed_tflite_file_class_warns():
    import keras_dccl.export

    with pytest.warns(DeprecationWarning, match="TFLiteFile"):
        assert keras_dccl.export.TFLiteModel is keras_dccl.export.TFLiteFile


def test_unknown_name_raises_attribute_error():
    import keras_dccl

    with pytest.raises(AttributeError, match="no_such_name"):
        keras_dccl.no_such_name
