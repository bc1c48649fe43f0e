"""The Edge TPU form of a pooled text classifier, and a static check for it.

The Edge TPU has no GATHER, so a model that starts by looking words up runs
entirely on its host CPU. `export_edgetpu` splits a model whose
`CodebookEmbedding` is averaged over tokens into two `.tflite` files:

- `host_lookup.tflite` (CPU): int32 ids `(1, L)` -> float32 code histogram
  `(1, M * K)`, the mean over non-padding tokens of their multi-hot code
  indicators (GATHER of uint8 codes, ONE_HOT, SUM, DIV).
- `accelerator.tflite` (Edge TPU): int8 histogram `(1, M * K)` ->
  FULLY_CONNECTED with the codebooks as kernel (the mean embedding, since the
  sum of codebook rows is linear in the indicators) -> the layers after the
  pooling. Full int8, static shapes, batch 1.

`check_edgetpu` checks a `.tflite` file statically against the op list of the
deployment notes. See docs/edgetpu.md.
"""

import dataclasses
import json
import os

import keras
import numpy as np

from keras_dccl.export.export_options import check_ids
from keras_dccl.export.litert_runner import LiteRTRunner
from keras_dccl.export.tflite_file import TFLiteFile
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.atomic_file import atomic_path
from keras_dccl.utils.atomic_file import write_text_atomic

# The ops the Edge TPU compiler maps (see docs/edgetpu.md, which lists them
# with the other rules of the compiler). The compiler (edgetpu_compiler)
# is not available here and there is no device, so `check_edgetpu` is a
# static check against this list: it cannot prove that the compiler maps a
# model. GATHER, CAST, FLOOR_DIV / FLOOR_MOD and DEQUANTIZE are not on it.
EDGETPU_OPS = frozenset(
    {
        "FULLY_CONNECTED",
        "ADD",
        "MUL",
        "MEAN",
        "SUM",
        "SOFTMAX",
        "RESHAPE",
        "CONCATENATION",
        "TANH",
        "LOGISTIC",
        "RELU",
        "QUANTIZE",
    }
)
# int32 operands that are parameters of an op, not data flowing through it:
# (op, input position). The int32 bias of a quantized FULLY_CONNECTED is
# part of the int8 scheme (int8 x int8 products accumulate in int32).
_INT32_PARAMETERS = {
    ("FULLY_CONNECTED", 2),
    ("RESHAPE", 1),
    ("MEAN", 1),
    ("SUM", 1),
}
_INTEGER_8 = ("INT8", "UINT8")
_MAX_RANK = 4

POOLINGS = ("average",)
HOST_FILE = "host_lookup.tflite"
ACCELERATOR_FILE = "accelerator.tflite"
MANIFEST_FILE = "manifest.json"
_SUPPORTED = (
    "export_edgetpu supports a Sequential or Functional model with one "
    "integer input read by one CodebookEmbedding whose output goes only to a "
    "GlobalAveragePooling1D (channels_last, keepdims=False), and one output "
    "computed from the pooled vector alone"
)


@dataclasses.dataclass(frozen=True)
class EdgeTPUProblem:
    """One reason a `.tflite` file fails the static Edge TPU check.

    Attributes:
        op_index: Position of the operator in the main subgraph, or None
            for the model as a whole.
        op_name: The operator's name, e.g. "GATHER", or None.
        message: What is wrong, as one line.
    """

    op_index: int | None
    op_name: str | None
    message: str

    def __str__(self):
        if self.op_index is None:
            return self.message
        return f"op {self.op_index} ({self.op_name}): {self.message}"


def check_edgetpu(path):
    """Checks a `.tflite` file statically against the Edge TPU op list.

    Reports every operator not in `EDGETPU_OPS`; every tensor an operator
    reads or writes that is not int8 / uint8 (except the int32 parameters of
    an op: the bias of FULLY_CONNECTED, the shape of RESHAPE, the axes of
    MEAN / SUM; and a float32 model input read by QUANTIZE, i.e.
    quantization at the model's input edge); every dynamic shape (-1 in the
    shape signature); every tensor of rank above 4; and every
    FULLY_CONNECTED output that is not 1-D (batch 1). DEQUANTIZE is not on
    the list, so a float output is reported too. Not checked: reduction axes
    of MEAN / SUM (the list excludes the batch axis) and whether the
    compiler maps one contiguous segment; the compiler is not available, so
    an empty result cannot prove that it maps the model.

    Args:
        path: A `.tflite` file.

    Returns:
        A list of `EdgeTPUProblem`, empty if the file passes.

    Raises:
        ValueError: If the file is not a TFLite flatbuffer.
        OSError: If it cannot be read.
    """
    model = TFLiteFile(path)
    model_inputs = {tensor.index for tensor in model.inputs}
    problems = []
    if not model.operators:
        problems.append(EdgeTPUProblem(None, None, "the model has no ops"))
    seen = set()
    for op_index, op in enumerate(model.operators):

        def report(message):
            problems.append(EdgeTPUProblem(op_index, op.name, message))

        if op.name not in EDGETPU_OPS:
            report(f"{op.name} is not supported by the Edge TPU compiler")
        operands = [(position, i) for position, i in enumerate(op.inputs)]
        operands += [(None, i) for i in op.outputs]
        for position, index in operands:
            if index in seen:
                continue
            seen.add(index)
            tensor = model.tensors[index]
            allowed = tensor.dtype in _INTEGER_8
            if tensor.dtype == "INT32":
                allowed = (op.name, position) in _INT32_PARAMETERS
            if op.name == "QUANTIZE" and position == 0:
                allowed = allowed or index in model_inputs
            if not allowed:
                report(
                    f"tensor '{tensor.name}' is {tensor.dtype}, not int8/uint8"
                )
            if -1 in tensor.shape_signature:
                report(
                    f"tensor '{tensor.name}' has a dynamic shape "
                    f"{tensor.shape_signature}"
                )
            if len(tensor.shape) > _MAX_RANK:
                report(
                    f"tensor '{tensor.name}' has rank {len(tensor.shape)} "
                    f"> {_MAX_RANK}"
                )
        if op.name == "FULLY_CONNECTED":
            output = model.tensors[op.outputs[0]]
            if any(dim != 1 for dim in output.shape_signature[:-1]):
                report(
                    f"output '{output.name}' has shape "
                    f"{output.shape_signature}, not 1-D (batch 1)"
                )
    return problems


def format_problems(problems):
    """One line per problem, or a line saying the check passes."""
    if not problems:
        return "passes the static Edge TPU check"
    return "\n".join(str(problem) for problem in problems)


def export_edgetpu(
    model,
    directory,
    sequence_length,
    representative_inputs,
    pooling="average",
):
    """Writes the Edge TPU split form of a pooled text classifier.

    The model must read ids with one `CodebookEmbedding` and average its
    output over tokens with a `GlobalAveragePooling1D` (which skips padding
    when the embedding has `mask_zero=True`); the layers after the pooling
    may be anything that converts to int8 builtin ops. Writes, in
    `directory`:

    - `host_lookup.tflite`, for the CPU: int32 ids `(1, sequence_length)` ->
      float32 `(1, M * K)` code histogram, the mean of the multi-hot code
      indicators over the non-padding tokens (all tokens without
      `mask_zero`). An input of padding only gives zeros, where Keras gives
      NaN. The codes are stored as uint8, one byte per code.
    - `accelerator.tflite`, for the Edge TPU: int8 histogram `(1, M * K)` ->
      FULLY_CONNECTED with the codebooks as kernel, no bias -> the layers
      after the pooling; int8 output. Full-integer quantization calibrated
      on `representative_inputs` passed through the host part. It passes
      `check_edgetpu` (the export fails otherwise).
    - `manifest.json`: both parts' files, tensor names, dtypes, shapes and
      int8 quantization, and the sizes M, K, D, V.

    Per-token models (multi-hot `(1, L, M * K)` -> FULLY_CONNECTED) are not
    supported: that FULLY_CONNECTED has a 2-D output, which the Edge TPU
    does not map.

    Args:
        model: A built Sequential or Functional `keras.Model` as above.
        directory: Where to write the three files (created if needed).
        sequence_length: Integer. The fixed number of ids per input.
        representative_inputs: Integer array `(N, sequence_length)` of real
            inputs, to calibrate the int8 ranges.
        pooling: "average", the only pooling supported.

    Returns:
        The path of `manifest.json`.
    """
    import tensorflow as tf

    if pooling not in POOLINGS:
        raise ValueError(
            f"`pooling` must be one of {POOLINGS}: per-token models need a "
            "FULLY_CONNECTED with a 2-D output, which the Edge TPU does not "
            f"map. Received: pooling={pooling!r}"
        )
    sequence_length = check_integer("sequence_length", sequence_length)
    embedding, rest = _split(model, sequence_length)
    codes = embedding.compute_codes()
    codebooks = embedding.compute_codebooks()
    num_codebooks, codebook_size, output_dim = codebooks.shape
    samples = check_ids(
        "representative_inputs",
        representative_inputs,
        (sequence_length,),
        len(codes),
    )
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    host_path = os.path.join(directory, HOST_FILE)
    accelerator_path = os.path.join(directory, ACCELERATOR_FILE)
    builtins = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}

    ids = keras.Input((sequence_length,), batch_size=1, dtype="int32")
    histogram = _CodeHistogram(
        codes, codebook_size, embedding.mask_zero, name="code_histogram"
    )(ids)
    with atomic_path(host_path) as temporary:
        keras.Model(ids, histogram, name="host_lookup").export(
            temporary,
            format="litert",
            input_signature=[
                tf.TensorSpec((1, sequence_length), tf.int32, name="ids")
            ],
            target_spec=builtins,
            verbose=False,
        )
    host = LiteRTRunner(host_path)
    histograms = [host(row[None])[0] for row in samples]

    width = num_codebooks * codebook_size
    histogram = keras.Input((width,), batch_size=1, name="code_histogram")
    projection = keras.layers.Dense(output_dim, use_bias=False, name="mean")
    accelerator = keras.Model(
        histogram, rest(projection(histogram)), name="accelerator"
    )
    projection.set_weights([codebooks.reshape(width, output_dim)])

    def representative_dataset():
        for row in histograms:
            yield [row]

    with atomic_path(accelerator_path) as temporary:
        accelerator.export(
            temporary,
            format="litert",
            input_signature=[
                tf.TensorSpec((1, width), tf.float32, name="code_histogram")
            ],
            optimizations=[tf.lite.Optimize.DEFAULT],
            representative_dataset=representative_dataset,
            target_spec={
                "supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            },
            inference_input_type=tf.int8,
            inference_output_type=tf.int8,
            verbose=False,
        )
    problems = check_edgetpu(accelerator_path)
    if problems:
        raise ValueError(
            f"{accelerator_path} fails the static Edge TPU check "
            f"({len(problems)} problems; run `keras-dccl check-edgetpu` on "
            f"it), first: {problems[0]}"
        )
    manifest = {
        "format": "keras-dccl edgetpu split",
        "num_words": len(codes),
        "num_codebooks": int(num_codebooks),
        "codebook_size": int(codebook_size),
        "output_dim": int(output_dim),
        "sequence_length": sequence_length,
        "mask_zero": bool(embedding.mask_zero),
        "host": _describe(host, HOST_FILE),
        "accelerator": _describe(
            LiteRTRunner(accelerator_path), ACCELERATOR_FILE
        ),
        "note": (
            "accelerator.tflite passes a static check against the Edge TPU "
            "op list; it was not compiled with edgetpu_compiler nor run on "
            "an Edge TPU."
        ),
    }
    manifest_path = os.path.join(directory, MANIFEST_FILE)
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return manifest_path


def run_edgetpu_split(directory, ids):
    """Runs the two parts written by `export_edgetpu` on the CPU.

    Each row of `ids` goes through `host_lookup.tflite`; its histogram is
    quantized to the accelerator's int8 input, run through
    `accelerator.tflite` (with the LiteRT CPU kernels, not on an Edge TPU)
    and the int8 output dequantized.

    Args:
        directory: A directory written by `export_edgetpu`.
        ids: Integer array `(N, sequence_length)` of word ids.

    Returns:
        A float32 array `(N, ...)` of the model's outputs.
    """
    directory = os.fspath(directory)
    with open(os.path.join(directory, MANIFEST_FILE), encoding="utf-8") as f:
        manifest = json.load(f)
    ids = check_ids(
        "ids", ids, (manifest["sequence_length"],), manifest["num_words"]
    )
    host = LiteRTRunner(os.path.join(directory, manifest["host"]["file"]))
    accelerator = LiteRTRunner(
        os.path.join(directory, manifest["accelerator"]["file"])
    )
    return np.concatenate([accelerator(host(row[None])[0])[0] for row in ids])


class _CodeHistogram(keras.layers.Layer):
    """ids (1, L) -> mean multi-hot code indicator (1, M * K), float32."""

    def __init__(self, codes, codebook_size, mask_zero, **kwargs):
        super().__init__(**kwargs)
        self._code_values = codes
        self.codebook_size = codebook_size
        self.mask_zero = mask_zero
        self.autocast = False

    def build(self, input_shape=None):
        self.codes = self.add_weight(
            name="codes",
            shape=self._code_values.shape,
            dtype="uint8",
            initializer="zeros",
            trainable=False,
        )
        self.codes.assign(self._code_values)

    def call(self, inputs):
        import tensorflow as tf

        ids = tf.cast(inputs, tf.int32)
        codes = tf.cast(tf.gather(self.codes, ids), tf.int32)
        indicators = tf.one_hot(codes, self.codebook_size, dtype=tf.float32)
        length, num_codebooks = ids.shape[1], self._code_values.shape[1]
        indicators = tf.reshape(
            indicators, (-1, length, num_codebooks * self.codebook_size)
        )
        # Padding does not count with mask_zero. Without it every id counts:
        # `ids >= 0` rather than a constant, because the converter turns a
        # division by a constant into a product by its (rounded) reciprocal.
        if self.mask_zero:
            tokens = tf.cast(tf.not_equal(ids, 0), tf.float32)
        else:
            tokens = tf.cast(tf.greater_equal(ids, 0), tf.float32)
        totals = tf.reduce_sum(indicators * tf.expand_dims(tokens, 2), 1)
        counts = tf.reduce_sum(tokens, axis=1, keepdims=True)
        return totals / tf.maximum(counts, 1.0)

    def compute_output_shape(self, input_shape):
        width = self._code_values.shape[1] * self.codebook_size
        return (input_shape[0], width)


def _describe(runner, file):
    """The manifest entry of one part: its tensors, with int8 parameters."""

    def tensor(detail):
        entry = {
            "name": detail["name"],
            "dtype": np.dtype(detail["dtype"]).name,
            "shape": [int(dim) for dim in detail["shape"]],
        }
        if entry["dtype"] == "int8":
            scale, zero_point = detail["quantization"]
            entry["scale"] = float(scale)
            entry["zero_point"] = int(zero_point)
        return entry

    return {
        "file": file,
        "inputs": [tensor(d) for d in runner.interpreter.get_input_details()],
        "outputs": [tensor(d) for d in runner.interpreter.get_output_details()],
    }


def _split(model, sequence_length):
    """`(embedding, rest)`: the CodebookEmbedding and a model from the
    pooled vector to the outputs, or a ValueError naming the reason."""

    def unsupported(reason):
        return ValueError(f"{_SUPPORTED}. Received: {reason}")

    if not isinstance(model, keras.Model) or not model.built:
        raise unsupported(f"model={type(model).__name__} (not built)")
    # A Sequential model keeps its graph in a Functional; layers keep the
    # nodes of every graph they were called in, so only this graph's count.
    graph = getattr(model, "_functional", model)
    if not hasattr(graph, "_nodes_by_depth"):
        raise unsupported("a model without a graph (start it with an Input)")
    nodes = [node for depth in graph._nodes_by_depth.values() for node in depth]
    embeddings = [
        node for node in nodes if isinstance(node.operation, CodebookEmbedding)
    ]
    if len(embeddings) != 1:
        raise unsupported(
            f"{len(embeddings)} CodebookEmbedding layers at the top level"
        )
    (embedding,) = embeddings
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise unsupported("a model with several inputs or outputs")
    (ids,) = graph.inputs
    if embedding.input_tensors[0] is not ids:
        raise unsupported("a CodebookEmbedding that does not read the input")
    if len(ids.shape) != 2 or ids.shape[1] not in (None, sequence_length):
        raise ValueError(
            f"`sequence_length` must match the model input {ids.shape}. "
            f"Received: sequence_length={sequence_length}"
        )
    vectors = embedding.output_tensors[0]
    consumers = [
        node
        for node in nodes
        if any(tensor is vectors for tensor in node.input_tensors)
    ]
    names = [node.operation.__class__.__name__ for node in consumers]
    if names != ["GlobalAveragePooling1D"]:
        raise unsupported(f"the embedding feeds {names}")
    (pooling,) = consumers
    layer = pooling.operation
    if layer.data_format != "channels_last" or layer.keepdims:
        raise unsupported(
            f"data_format={layer.data_format!r}, keepdims={layer.keepdims}"
        )
    pooled = pooling.output_tensors[0]
    if graph.outputs[0] is pooled:  # the mean embedding is the output
        return embedding.operation, lambda vectors: vectors
    try:
        rest = keras.Model(pooled, graph.outputs, name="after_pooling")
    except ValueError as error:
        raise unsupported(f"layers after the pooling ({error})") from None
    return embedding.operation, rest
