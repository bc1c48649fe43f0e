"""Training past one device, on virtual CPU devices, against one device.

A model holding `CodebookEmbedding` in both forms (frozen, and
`learn_codes=True`) and `AdaptiveCodebookEmbedding` trains for 6 steps on
fixed data in a subprocess: on jax over 4 devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=4`) with
`keras.distribution.DataParallel` and with `ModelParallel` on
`codebook_layout_map`; on TensorFlow over 2 logical CPU devices with
`tf.distribute.MirroredStrategy`. Each run starts from the weights of a run
on one device in the same process; the losses must agree within a relative
`LOSS_TOLERANCE` and every weight within `WEIGHT_TOLERANCE` (the measured
differences are float32 rounding, below 2e-7).
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_dccl.distribution import codebook_layout_map

TESTS = pathlib.Path(__file__).resolve().parent
LOSS_TOLERANCE = 1e-5
WEIGHT_TOLERANCE = 1e-5
VOCABULARY = 64
LENGTH = 6
ROWS = 32


def training_data():
    rng = np.random.default_rng(0)
    words = rng.integers(0, VOCABULARY, (ROWS, LENGTH)).astype("int32")
    return words, rng.normal(size=(ROWS, 1)).astype("float32")


def code_model(optimizer):
    """The three code embeddings, summed, pooled, then a dense layer."""
    import keras_dccl

    keras.utils.set_random_seed(0)
    ids = keras.Input((LENGTH,), dtype="int32")
    shape = dict(num_codebooks=4, codebook_size=8)
    embeddings = [
        keras_dccl.CodebookEmbedding(VOCABULARY, 8, **shape, seed=1),
        keras_dccl.CodebookEmbedding(
            VOCABULARY, 8, **shape, learn_codes=True, seed=2
        ),
        keras_dccl.AdaptiveCodebookEmbedding(
            VOCABULARY, 8, code_lengths=(0, 2, 4), codebook_size=8,
            target_bits_per_word=6.0, seed=3,
        ),
    ]  # fmt: skip
    summed = keras.layers.Add()([layer(ids) for layer in embeddings])
    pooled = keras.layers.GlobalAveragePooling1D()(summed)
    model = keras.Model(ids, keras.layers.Dense(1)(pooled))
    model.compile(optimizer, "mse")
    return model


def summary(model, losses):
    """What a subprocess reports of a trained model, as JSON."""
    return {
        "losses": [float(loss) for loss in losses],
        "weights": [np.asarray(w).tolist() for w in model.get_weights()],
        "paths": [variable.path for variable in model.weights],
    }


def run_script(script, backend, output, **environment):
    completed = subprocess.run(
        [sys.executable, "-c", script, str(output)],
        env={
            **os.environ,
            **environment,
            "KERAS_BACKEND": backend,
            "PYTHONPATH": os.pathsep.join(
                [
                    str(TESTS.parent),
                    str(TESTS),
                    os.environ.get("PYTHONPATH", ""),
                ]
            ),
        },
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(output.read_text())


def assert_same_training(single, distributed):
    np.testing.assert_allclose(
        distributed["losses"], single["losses"], rtol=LOSS_TOLERANCE
    )
    assert len(distributed["weights"]) == len(single["weights"])
    for path, got, expected in zip(
        distributed["paths"], distributed["weights"], single["weights"]
    ):
        np.testing.assert_allclose(
            got, expected, atol=WEIGHT_TOLERANCE, err_msg=path
        )
    # Training moved the weights: the comparison is not of initial values.
    assert single["losses"][-1] < single["losses"][0]


JAX_SCRIPT = """
import json
import sys

import keras
import numpy as np

import keras_dccl
from keras_dccl.distribution import codebook_layout_map
from test_distribution import code_model
from test_distribution import summary
from test_distribution import training_data
from test_distribution import VOCABULARY

words, targets = training_data()
initial = code_model("adam").get_weights()


def train(distribution):
    with distribution.scope():
        model = code_model(keras.optimizers.Adam(0.01))
        model.set_weights(initial)
        history = model.fit(
            words, targets, batch_size=16, epochs=3, shuffle=False, verbose=0
        )
    result = summary(model, history.history["loss"])
    result["devices"] = [
        len(variable.value.sharding.device_set) for variable in model.weights
    ]
    result["shard_shapes"] = [
        list(variable.value.addressable_shards[0].data.shape)
        for variable in model.weights
    ]
    return result


def distill(distribution):
    with distribution.scope():
        keras.utils.set_random_seed(0)
        ids = keras.Input((words.shape[1],), dtype="int32")
        table = keras.layers.Embedding(VOCABULARY, 8, name="words")
        pooled = keras.layers.GlobalAveragePooling1D()(table(ids))
        teacher = keras.Model(ids, keras.layers.Dense(2)(pooled))
        student = keras_dccl.compress_model(
            teacher, num_codebooks=2, codebook_size=16,
            recipe="residual_kmeans", verbose=0,
        )
        history = keras_dccl.distill(
            student, teacher, words, epochs=3, batch_size=8,
            validation_split=0.25, verbose=0,
        )
    result = summary(student, history["loss"] + history["val_loss"])
    codes = student.get_layer("words").codes.value
    result["devices"] = len(codes.sharding.device_set)
    return result


devices = keras.distribution.list_devices()
one_device = keras.distribution.DataParallel(devices=devices[:1])
data_parallel = keras.distribution.DataParallel(devices=devices)
mesh = keras.distribution.DeviceMesh((2, 2), ("batch", "model"), devices)
model_parallel = keras.distribution.ModelParallel(
    layout_map=codebook_layout_map(mesh), batch_dim_name="batch"
)
results = {
    "num_devices": len(devices),
    "single": train(one_device),
    "data_parallel": train(data_parallel),
    "model_parallel": train(model_parallel),
    "distill_single": distill(one_device),
    "distill_data_parallel": distill(data_parallel),
}
with open(sys.argv[1], "w") as file:
    json.dump(results, file)
"""

MIRRORED_SCRIPT = """
import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras
import numpy as np

from test_distribution import code_model
from test_distribution import summary
from test_distribution import training_data

words, targets = training_data()
initial = code_model("sgd").get_weights()


def train(strategy):
    # Each replica takes its half of a global batch and draws the same
    # Gumbel noise as the other replica: a global batch that repeats 8 rows
    # once per replica is the one-device batch of those 8 rows, noise
    # included.
    replicas = strategy.num_replicas_in_sync
    rows = np.arange(len(words)).reshape(-1, 8).repeat(replicas, axis=0)
    with strategy.scope():
        # SGD: TensorFlow's Adam updates its second moments per gathered
        # row, so repeated rows would change its step.
        model = code_model(keras.optimizers.SGD(0.1))
        model.set_weights(initial)
        history = model.fit(
            words[rows.ravel()],
            targets[rows.ravel()],
            batch_size=8 * replicas,
            epochs=3,
            shuffle=False,
            verbose=0,
        )
    result = summary(model, history.history["loss"])
    result["replicas"] = replicas
    # Every replica of every variable holds the same value.
    result["replica_spread"] = max(
        float(np.max(np.abs(np.asarray(value) - np.asarray(values[0]))))
        for values in (
            variable.value.values
            for variable in model.weights
            if hasattr(variable.value, "values")
        )
        for value in values
    ) if replicas > 1 else 0.0
    return result


results = {
    "single": train(tf.distribute.OneDeviceStrategy("/cpu:0")),
    "mirrored": train(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
}
with open(sys.argv[1], "w") as file:
    json.dump(results, file)
"""


@pytest.fixture(scope="module")
def jax_results(tmp_path_factory):
    output = tmp_path_factory.mktemp("jax") / "results.json"
    return run_script(
        JAX_SCRIPT,
        "jax",
        output,
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
    )


@pytest.mark.slow
def test_data_parallel_on_four_devices_matches_one_device(jax_results):
    assert jax_results["num_devices"] == 4
    distributed = jax_results["data_parallel"]
    # Every variable is replicated on the 4 devices.
    assert set(distributed["devices"]) == {4}
    assert_same_training(jax_results["single"], distributed)


@pytest.mark.slow
def test_model_parallel_shards_the_codes_and_matches_one_device(jax_results):
    distributed = jax_results["model_parallel"]
    shapes = dict(zip(distributed["paths"], distributed["shard_shapes"]))
    half = VOCABULARY // 2
    for path, shape in shapes.items():
        name = path.split("/", 1)[1]
        if name in ("codes", "embeddings", "length_logits"):
            # Split by word over the 2 devices of the "model" axis.
            assert shape[0] == half, path
        elif name == "decoder/codebooks":
            assert shape == [4 * 8, 8], path
    assert sum(path.endswith("/codes") for path in shapes) == 1
    assert_same_training(jax_results["single"], distributed)


@pytest.mark.slow
def test_distill_under_data_parallel_matches_one_device(jax_results):
    distributed = jax_results["distill_data_parallel"]
    assert distributed["devices"] == 4
    assert_same_training(jax_results["distill_single"], distributed)


@pytest.mark.slow
def test_mirrored_strategy_on_two_devices_matches_one_device(tmp_path):
    results = run_script(
        MIRRORED_SCRIPT, "tensorflow", tmp_path / "results.json"
    )
    assert results["mirrored"]["replicas"] == 2
    assert results["mirrored"]["replica_spread"] == 0.0
    assert_same_training(results["single"], results["mirrored"])


def test_codebook_layout_map():
    devices = [f"cpu:{index}" for index in range(4)]
    mesh = keras.distribution.DeviceMesh((2, 2), ("batch", "words"), devices)
    layout_map = codebook_layout_map(mesh, model_axis="words")
    expected = {
        "model/codebook_embedding/codes": ("words", None),
        "model/adaptive/lengths": ("words",),
        "model/codebook_embedding_1/embeddings": ("words", None),
        "model/adaptive/length_logits": ("words", None),
        "model/adaptive/embeddings": ("words", None),
        "model/codebook_embedding/decoder/codebooks": (None, None),
        "model/adaptive/fallback": (None,),
    }
    for path, axes in expected.items():
        assert layout_map[path].axes == axes, path
    # The encoder's dense layers: no entry, so ModelParallel replicates them.
    assert layout_map["model/adaptive/encoder/hidden_dense/kernel"] is None
    # Entries join an existing map on the same mesh.
    dense = keras.distribution.LayoutMap(mesh)
    dense[".*dense.*kernel"] = (None, "words")
    assert codebook_layout_map(mesh, "words", dense) is dense
    assert dense["model/head_dense/kernel"].axes == (None, "words")
    assert dense["model/codebook_embedding/codes"].axes == ("words", None)


def test_codebook_layout_map_bad_arguments():
    devices = [f"cpu:{index}" for index in range(2)]
    mesh = keras.distribution.DeviceMesh((2,), ("batch",), devices)
    with pytest.raises(ValueError, match="Received: model_axis='model'"):
        codebook_layout_map(mesh)
    other = keras.distribution.DeviceMesh((2,), ("model",), devices)
    with pytest.raises(ValueError, match="a LayoutMap on `device_mesh`"):
        codebook_layout_map(
            other, layout_map=keras.distribution.LayoutMap(mesh)
        )
