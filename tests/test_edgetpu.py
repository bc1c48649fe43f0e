import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_dccl import cli
from keras_dccl.export import TFLiteFile
from keras_dccl.export import check_edgetpu
from keras_dccl.export import export_edgetpu
from keras_dccl.export import export_litert
from keras_dccl.export import run_edgetpu_split
from keras_dccl.export.edgetpu import EDGETPU_OPS
from keras_dccl.export.edgetpu import format_problems
from keras_dccl.layers.codebook_embedding import CodebookEmbedding

LENGTH = 12
NUM_WORDS = 120
NUM_CLASSES = 4
TOPIC_WORDS = 10  # words 1 + 10 c ... 10 + 10 c mark class c; the rest noise


def token_data(rows, seed):
    """Ids (rows, LENGTH) with trailing padding, and topic labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, rows)
    ids = np.zeros((rows, LENGTH), np.int32)
    first_noise = 1 + NUM_CLASSES * TOPIC_WORDS
    for row, label in enumerate(labels):
        length = rng.integers(3, LENGTH + 1)
        ids[row, :length] = rng.integers(first_noise, NUM_WORDS, length)
        topic = rng.integers(0, TOPIC_WORDS, 2) + 1 + label * TOPIC_WORDS
        ids[row, rng.choice(length, 2, replace=False)] = topic
    return ids, labels


def classifier(mask_zero=True, seed=1):
    model = keras.Sequential()
    model.add(keras.Input((LENGTH,), dtype="int32"))
    model.add(
        CodebookEmbedding(NUM_WORDS, 16, 8, 16, mask_zero=mask_zero, seed=seed)
    )
    model.add(keras.layers.GlobalAveragePooling1D())
    model.add(keras.layers.Dense(16, activation="relu"))
    model.add(keras.layers.Dense(NUM_CLASSES, activation="softmax"))
    return model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small trained topic classifier and its Edge TPU split form."""
    keras.utils.set_random_seed(0)
    model = classifier()
    ids, labels = token_data(2000, seed=0)
    model.compile(
        keras.optimizers.Adam(0.02),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(ids, labels, batch_size=64, epochs=12, verbose=0)
    directory = tmp_path_factory.mktemp("edgetpu")
    export_edgetpu(model, directory, LENGTH, ids[:200])
    return model, directory


@pytest.fixture(scope="module")
def plain_export(trained, tmp_path_factory):
    model, _ = trained
    path = tmp_path_factory.mktemp("plain") / "plain.tflite"
    return export_litert(model, path, sequence_length=LENGTH, batch_size=1)


def test_accelerator_passes_and_is_full_int8(trained):
    _, directory = trained
    path = directory / "accelerator.tflite"
    assert check_edgetpu(path) == []
    assert format_problems([]) == "passes the static Edge TPU check"
    model = TFLiteFile(path)
    assert set(model.op_names) <= EDGETPU_OPS
    assert model.operators[0].name == "FULLY_CONNECTED"
    (histogram,) = model.inputs
    assert (histogram.dtype, histogram.shape_signature) == ("INT8", (1, 128))
    (output,) = model.outputs
    assert (output.dtype, output.shape_signature) == ("INT8", (1, 4))


def test_plain_export_fails_naming_gather(plain_export):
    problems = check_edgetpu(plain_export)
    assert any(
        problem.op_name == "GATHER"
        and problem.message
        == "GATHER is not supported by the Edge TPU compiler"
        for problem in problems
    )
    assert "(GATHER): GATHER is not supported" in format_problems(problems)


def test_float_model_fails_naming_float32(tmp_path):
    inputs = keras.Input((8,), batch_size=1)
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    path = str(tmp_path / "float.tflite")
    model.export(
        path,
        format="litert",
        input_signature=[tf.TensorSpec((1, 8), tf.float32)],
        verbose=False,
    )
    problems = check_edgetpu(path)
    assert problems
    assert all("is FLOAT32, not int8" in p.message for p in problems)
    assert {p.op_name for p in problems} == {"FULLY_CONNECTED"}


def test_dynamic_shape_fails_naming_the_shape(trained, tmp_path):
    model, _ = trained
    ids, _ = token_data(20, seed=1)
    path = export_litert(
        model,
        tmp_path / "dynamic.tflite",
        quantize="full_int8",
        sequence_length=LENGTH,
        representative_inputs=ids,
    )
    messages = [problem.message for problem in check_edgetpu(path)]
    assert f"has a dynamic shape (-1, {LENGTH})" in "\n".join(messages)


def test_split_matches_keras(trained):
    model, directory = trained
    ids, labels = token_data(500, seed=2)
    expected = model.predict(ids, verbose=0)
    assert (expected.argmax(axis=1) == labels).mean() > 0.9  # it learned
    result = run_edgetpu_split(directory, ids)
    assert result.shape == expected.shape
    # int8 histogram, codebooks, hidden layer and output (step 1 / 256):
    # probabilities stay within 0.05.
    assert np.abs(result - expected).max() < 0.05
    agreement = (result.argmax(axis=1) == expected.argmax(axis=1)).mean()
    assert agreement >= 0.98


def reference_histogram(ids, codes, codebook_size, mask_zero):
    """Mean multi-hot code indicator over the (non-padding) tokens."""
    num_codebooks = codes.shape[1]
    offsets = np.arange(num_codebooks) * codebook_size
    histograms = np.zeros((len(ids), num_codebooks * codebook_size))
    for row, sentence in enumerate(ids):
        tokens = sentence[sentence != 0] if mask_zero else sentence
        for token in tokens:
            histograms[row, offsets + codes[token]] += 1
        histograms[row] /= max(len(tokens), 1)
    return histograms.astype(np.float32)


def run_host(path, ids):
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (input_detail,) = interpreter.get_input_details()
    (output_detail,) = interpreter.get_output_details()
    results = []
    for row in ids:
        interpreter.set_tensor(input_detail["index"], row[None])
        interpreter.invoke()
        results.append(interpreter.get_tensor(output_detail["index"])[0])
    return np.array(results)


def test_host_histogram_is_exact(trained):
    model, directory = trained
    ids, _ = token_data(200, seed=3)
    ids[0] = 0  # padding only: zeros (Keras gives NaN)
    codes = model.layers[0].compute_codes()
    np.testing.assert_array_equal(
        run_host(directory / "host_lookup.tflite", ids),
        reference_histogram(ids, codes, 16, mask_zero=True),
    )


def test_host_histogram_without_mask_is_exact(tmp_path):
    model = classifier(mask_zero=False, seed=4)
    ids, _ = token_data(100, seed=4)
    export_edgetpu(model, tmp_path, LENGTH, ids[:20])
    codes = model.layers[0].compute_codes()
    np.testing.assert_array_equal(
        run_host(tmp_path / "host_lookup.tflite", ids),
        reference_histogram(ids, codes, 16, mask_zero=False),
    )
    assert check_edgetpu(tmp_path / "accelerator.tflite") == []


def test_manifest(trained):
    _, directory = trained
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["num_codebooks"] * manifest["codebook_size"] == 128
    (host_input,) = manifest["host"]["inputs"]
    assert (host_input["dtype"], host_input["shape"]) == ("int32", [1, 12])
    (host_output,) = manifest["host"]["outputs"]
    assert (host_output["dtype"], host_output["shape"]) == ("float32", [1, 128])
    (histogram,) = manifest["accelerator"]["inputs"]
    assert (histogram["dtype"], histogram["shape"]) == ("int8", [1, 128])
    assert histogram["scale"] > 0 and "zero_point" in histogram
    assert "not compiled" in manifest["note"]


def test_functional_model(tmp_path):
    ids_input = keras.Input((LENGTH,), dtype="int32")
    codebooks = keras.initializers.RandomUniform(-1, 1, seed=5)
    x = CodebookEmbedding(
        NUM_WORDS, 8, 4, 8, codebooks_initializer=codebooks, seed=5
    )(ids_input)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(3)(keras.layers.Dense(6, "relu")(x))
    model = keras.Model(ids_input, outputs)
    ids, _ = token_data(50, seed=5)
    export_edgetpu(model, tmp_path, LENGTH, ids)
    assert check_edgetpu(tmp_path / "accelerator.tflite") == []
    result = run_edgetpu_split(tmp_path, ids)
    expected = model.predict(ids, verbose=0)
    scale = np.abs(expected).max()
    assert np.abs(result - expected).max() < 0.05 * scale


def test_mean_embedding_model(tmp_path):
    # Nothing after the pooling: the accelerator is the FULLY_CONNECTED alone.
    codebooks = keras.initializers.RandomUniform(-1, 1, seed=6)
    model = keras.Sequential(
        [
            CodebookEmbedding(
                NUM_WORDS, 8, 4, 8, codebooks_initializer=codebooks, seed=6
            ),
            keras.layers.GlobalAveragePooling1D(),
        ]
    )
    model.build((None, LENGTH))
    ids, _ = token_data(50, seed=6)
    export_edgetpu(model, tmp_path, LENGTH, ids)
    accelerator = TFLiteFile(tmp_path / "accelerator.tflite")
    assert [op.name for op in accelerator.operators] == ["FULLY_CONNECTED"]
    assert check_edgetpu(tmp_path / "accelerator.tflite") == []
    result = run_edgetpu_split(tmp_path, ids)
    expected = model.predict(ids, verbose=0)
    scale = np.abs(expected).max()
    assert np.abs(result - expected).max() < 0.05 * scale


def unsupported_models():
    def functional(layer):
        ids_input = keras.Input((LENGTH,), dtype="int32")
        x = CodebookEmbedding(NUM_WORDS, 8, 4, 8, seed=5)(ids_input)
        return keras.Model(ids_input, keras.layers.Dense(2)(layer(x)))

    ids_input = keras.Input((LENGTH,), dtype="int32")
    x = CodebookEmbedding(NUM_WORDS, 8, 4, 8, seed=6)(ids_input)
    pooled = keras.layers.GlobalAveragePooling1D()(x)
    position = keras.ops.cast(ids_input, "float32")
    reads_ids = keras.Model(
        ids_input, keras.layers.Concatenate()([pooled, position])
    )
    plain_ids = keras.Input((LENGTH,), dtype="int32")
    plain = keras.layers.Embedding(NUM_WORDS, 8)(plain_ids)
    return {
        "max": functional(keras.layers.GlobalMaxPooling1D()),
        "per-token": functional(keras.layers.Dense(3)),
        "keepdims": functional(
            keras.layers.GlobalAveragePooling1D(keepdims=True)
        ),
        "reads ids": reads_ids,
        "no codebook": keras.Model(
            plain_ids, keras.layers.GlobalAveragePooling1D()(plain)
        ),
    }


def test_unsupported_models_raise(tmp_path):
    ids, _ = token_data(10, seed=7)
    for model in unsupported_models().values():
        with pytest.raises(ValueError, match="export_edgetpu supports a"):
            export_edgetpu(model, tmp_path, LENGTH, ids)


def test_layers_the_edgetpu_cannot_run_fail_the_export(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((LENGTH,), dtype="int32"),
            CodebookEmbedding(NUM_WORDS, 8, 4, 8, seed=9),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(4, activation="elu"),  # no int8 kernel
        ]
    )
    ids, _ = token_data(20, seed=9)
    with pytest.raises(ValueError, match="fails the static Edge TPU check"):
        export_edgetpu(model, tmp_path, LENGTH, ids)
    assert not (tmp_path / "manifest.json").exists()


def test_bad_arguments_raise(trained, tmp_path):
    model, directory = trained
    ids, _ = token_data(10, seed=8)
    cases = [
        (dict(pooling="none"), "`pooling` must be one of"),
        (dict(sequence_length=8), "`sequence_length` must match"),
        (dict(sequence_length=0), "`sequence_length` must be an integer"),
        (dict(representative_inputs=ids[:, :5]), "of shape \\(N, 12\\)"),
        (dict(representative_inputs=ids + 1000), "word ids in \\[0, 120\\)"),
        (dict(representative_inputs=ids * 0.5), "integer array"),
    ]
    for arguments, message in cases:
        arguments = {
            "sequence_length": LENGTH,
            "representative_inputs": ids,
            **arguments,
        }
        with pytest.raises(ValueError, match=message):
            export_edgetpu(model, tmp_path, **arguments)
    with pytest.raises(ValueError, match="word ids in"):
        run_edgetpu_split(directory, ids - 1)


def test_check_rejects_a_file_that_is_not_tflite(tmp_path):
    path = tmp_path / "not.tflite"
    path.write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        check_edgetpu(path)


def run_cli(capsys, *argv):
    code = cli.main(["check-edgetpu", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_check_edgetpu(trained, plain_export, tmp_path, capsys):
    _, directory = trained
    code, out, _ = run_cli(capsys, directory / "accelerator.tflite")
    assert (code, out) == (0, "passes the static Edge TPU check\n")

    code, out, _ = run_cli(capsys, plain_export)
    assert code == 1
    assert "GATHER is not supported by the Edge TPU compiler" in out
    assert len(out.splitlines()) == len(check_edgetpu(plain_export))

    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    for path in (bad, tmp_path / "missing.tflite"):
        code, out, err = run_cli(capsys, path)
        assert code == 2 and out == ""
        assert err.startswith("keras-dccl: error: ")
        assert len(err.splitlines()) == 1
