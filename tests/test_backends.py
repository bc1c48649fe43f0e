"""Export from the jax and torch backends gives TensorFlow's LiteRT file.

A model holding both forms of `CodebookEmbedding` (frozen and
`learn_codes=True`) is trained for two epochs on fixed data in a jax (or torch)
process, which exports it with `export_litert` (converted in a TensorFlow
subprocess) and saves it. This process, on TensorFlow, loads the saved model
and exports it again: the two files must be the same bytes and give the same
outputs, and those must be the other backend's Keras outputs.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_dccl.export import LiteRTRunner
from keras_dccl.export import export_litert

REPO = pathlib.Path(__file__).resolve().parents[1]
BACKENDS = [
    "jax",
    pytest.param(
        "torch",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("torch") is None,
            reason="torch is not installed",
        ),
    ),
]
VOCABULARY = ["[PAD]", "[UNK]"] + [f"word{index}" for index in range(2, 50)]

TRAIN_AND_EXPORT = """
import sys

import keras
import numpy as np

import keras_dccl
from keras_dccl.export import export_litert

folder = sys.argv[1]
keras.utils.set_random_seed(0)
ids = keras.Input((4,), dtype="int32", name="ids")
embeddings = [
    keras_dccl.CodebookEmbedding(50, 8, num_codebooks=4, seed=1),
    keras_dccl.CodebookEmbedding(
        50, 8, num_codebooks=4, learn_codes=True, seed=2
    ),
]
summed = keras.layers.Add()([layer(ids) for layer in embeddings])
pooled = keras.layers.GlobalAveragePooling1D()(summed)
model = keras.Model(ids, keras.layers.Dense(2)(pooled))
model.compile(keras.optimizers.Adam(0.01), "mse")
rng = np.random.default_rng(0)
words = rng.integers(0, 50, (32, 4)).astype("int32")
model.fit(words, rng.normal(size=(32, 2)), batch_size=8, epochs=2, verbose=0)
vocabulary = ["[PAD]", "[UNK]"] + [f"word{index}" for index in range(2, 50)]
export_litert(
    model, f"{folder}/model.tflite", quantize="none", vocabulary=vocabulary
)
model.save(f"{folder}/model.keras")
np.save(f"{folder}/words.npy", words)
np.save(f"{folder}/outputs.npy", keras.ops.convert_to_numpy(model(words)))
"""


def backend_environment(backend):
    return {
        **os.environ,
        "KERAS_BACKEND": backend,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO), os.environ.get("PYTHONPATH", "")]
        ),
    }


def run_litert(path, words):
    runner = LiteRTRunner(path)
    return np.concatenate([runner(row[None])[0] for row in words])


@pytest.fixture(scope="module", params=BACKENDS)
def trained(request, tmp_path_factory):
    """The folder where a model trained on `request.param` was exported."""
    folder = tmp_path_factory.mktemp(f"trained_on_{request.param}")
    completed = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_EXPORT, str(folder)],
        env=backend_environment(request.param),
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return request.param, folder


@pytest.mark.slow
def test_export_from_backend_is_the_tensorflow_export(trained, tmp_path):
    backend, folder = trained
    assert keras.backend.backend() == "tensorflow"
    model = keras.saving.load_model(folder / "model.keras")
    export_litert(
        model, tmp_path / "model.tflite", quantize="none", vocabulary=VOCABULARY
    )
    assert (folder / "model.tflite").read_bytes() == (
        tmp_path / "model.tflite"
    ).read_bytes()
    assert (folder / "model.vocabulary.txt").read_text() == (
        tmp_path / "model.vocabulary.txt"
    ).read_text()
    words = np.load(folder / "words.npy")
    from_backend = run_litert(folder / "model.tflite", words)
    from_tensorflow = run_litert(tmp_path / "model.tflite", words)
    np.testing.assert_allclose(from_backend, from_tensorflow, atol=1e-6)
    # The file holds what was trained on the other backend.
    np.testing.assert_allclose(
        from_backend, np.load(folder / "outputs.npy"), atol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(words)),
        np.load(folder / "outputs.npy"),
        atol=1e-5,
    )


@pytest.mark.slow
def test_convert_script_converts_on_tensorflow_whatever_the_backend(
    trained, tmp_path
):
    backend, folder = trained
    vocabulary = tmp_path / "vocabulary.txt"
    vocabulary.write_text("".join(f"{token}\n" for token in VOCABULARY))
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO / "tflite" / "convert.py"),
            str(folder / "model.keras"),
            "-o",
            str(tmp_path / "converted.tflite"),
            "--quantize",
            "none",
            "--vocabulary",
            str(vocabulary),
        ],
        env=backend_environment(backend),
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert (tmp_path / "converted.tflite").read_bytes() == (
        folder / "model.tflite"
    ).read_bytes()


@pytest.mark.slow
def test_export_from_another_backend_reports_bad_arguments(monkeypatch):
    # The arguments are checked in the TensorFlow process; its ValueError
    # comes back with its message.
    from keras_dccl.export import cross_backend

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    ids = keras.Input((3,), dtype="int32")
    model = keras.Model(ids, keras.layers.Embedding(5, 2)(ids))
    with pytest.raises(ValueError, match="holds no CodebookEmbedding"):
        export_litert(model, "unused.tflite")
    with pytest.raises(ValueError, match="Received: model=str"):
        cross_backend.runs_on_tensorflow(export_litert)("model", "x.tflite")
