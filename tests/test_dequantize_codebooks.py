import shutil

import keras
import numpy as np
import pytest

from keras_dccl.export import LiteRTRunner
from keras_dccl.export import TFLiteFile
from keras_dccl.export import export_litert
from keras_dccl.export.dequantize_codebooks import fold_codebook_dequantize
from keras_dccl.layers.codebook_embedding import CodebookEmbedding

pytestmark = pytest.mark.tensorflow_only

# Large enough that the converter does not fold the widening itself.
ROWS, DIM = 256, 64


def convert(function, path):
    """Converts `function` of int32 indices (1, 5) to a `.tflite` file."""
    import tensorflow as tf

    function = tf.function(
        function, input_signature=[tf.TensorSpec((1, 5), tf.int32)]
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], function
    )
    path.write_bytes(converter.convert())
    return path


def run(path, ids):
    """The output of a file without a signature."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], ids)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def table_and_scales():
    rng = np.random.default_rng(0)
    table = rng.integers(-127, 128, (ROWS, DIM)).astype(np.int8)
    scales = rng.uniform(0.01, 0.1, (ROWS, 1)).astype(np.float32)
    return table, scales


def indices():
    return np.array([[0, 7, 13, 255, 7]], np.int32)


def test_widening_becomes_one_bit_identical_dequantize(tmp_path):
    import tensorflow as tf

    table, scales = table_and_scales()

    def lookup(ids):
        widened = tf.cast(tf.constant(table), tf.float32) * scales
        return tf.reduce_sum(tf.gather(widened, ids), axis=1)

    original = convert(lookup, tmp_path / "cast.tflite")
    folded = shutil.copy(original, tmp_path / "folded.tflite")
    assert fold_codebook_dequantize(folded) == 1

    before, after = TFLiteFile(original), TFLiteFile(folded)
    assert {"CAST", "MUL"} <= set(before.op_names)
    assert "DEQUANTIZE" in after.op_names
    assert not {"CAST", "MUL"} & set(after.op_names)
    (dequantize,) = [op for op in after.operators if op.name == "DEQUANTIZE"]
    source = after.tensors[dequantize.inputs[0]]
    assert source.dtype == "INT8" and source.shape == (ROWS, DIM)
    # One scale and one zero point a row.
    assert source.quantization_bytes == ROWS * (4 + 8)

    expected = (table.astype(np.float32) * scales)[indices()[0]].sum(0)
    got = run(folded, indices())
    np.testing.assert_array_equal(got, run(original, indices()))
    np.testing.assert_allclose(got[0], expected, rtol=1e-6)


def test_other_widenings_are_left_alone(tmp_path):
    import tensorflow as tf

    table, scales = table_and_scales()

    def after_gather(ids):
        # The gathered rows are widened: not a constant table.
        rows = tf.cast(tf.gather(tf.constant(table), ids), tf.float32)
        return tf.reduce_sum(rows * scales[:5], axis=1)

    def one_scale(ids):
        # One scale for the table: not the (rows, 1) of a per-row scale.
        widened = tf.cast(tf.constant(table), tf.float32) * 0.5
        return tf.reduce_sum(tf.gather(widened, ids), axis=1)

    for function in (after_gather, one_scale):
        path = convert(function, tmp_path / f"{function.__name__}.tflite")
        data = path.read_bytes()
        assert fold_codebook_dequantize(path) == 0
        assert path.read_bytes() == data


def export(tmp_path, num_codebooks, dim):
    layer = CodebookEmbedding(
        300, dim, num_codebooks=num_codebooks, codebook_size=16
    )
    ids = keras.Input((5,), dtype="int32")
    model = keras.Model(ids, layer(ids))
    path = export_litert(model, tmp_path / "m.tflite", sequence_length=5)
    return model, path


def test_exported_codebooks_are_dequantized_once(tmp_path):
    # 16,384 values: the smallest table widened before the gather.
    model, path = export(tmp_path, num_codebooks=16, dim=64)

    file = TFLiteFile(path)
    assert "MUL" not in file.op_names
    producers = {out: op for op in file.operators for out in op.outputs}
    gathers = [
        op
        for op in file.operators
        if op.name == "GATHER" and op.inputs[0] in producers
    ]
    (gather,) = gathers
    dequantize = producers[gather.inputs[0]]
    assert dequantize.name == "DEQUANTIZE"
    codebooks = file.tensors[dequantize.inputs[0]]
    assert codebooks.dtype == "INT8" and codebooks.shape == (16 * 16, 64)
    breakdown = file.size_breakdown()
    assert breakdown["codebooks"] == 16 * 16 * 64
    assert breakdown["scales"] == 16 * 16 * (4 + 8)
    got = LiteRTRunner(path)(indices())[0]
    np.testing.assert_allclose(got, model.predict(indices()), atol=0.05)


def test_small_codebooks_stay_int8(tmp_path):
    # 2,048 values: widened after the gather, so that the converter cannot
    # fold the widening into a float32 table.
    model, path = export(tmp_path, num_codebooks=4, dim=32)
    file = TFLiteFile(path)
    assert "DEQUANTIZE" not in file.op_names
    breakdown = file.size_breakdown()
    assert breakdown["codebooks"] == 4 * 16 * 32
    assert breakdown["scales"] == 4 * 4
    got = LiteRTRunner(path)(indices())[0]
    np.testing.assert_allclose(got, model.predict(indices()), atol=0.05)
