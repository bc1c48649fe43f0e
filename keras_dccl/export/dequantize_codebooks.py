"""One DEQUANTIZE for the int8 codebooks, computed once, not once a call.

An exported code embedding widens its int8 codebooks to float32 on every
call (CAST, then MUL by each row's scale) and gathers float rows from the
result. TFLite's DEQUANTIZE does the same arithmetic, `q * scale`, from an
int8 tensor with per-row scales, and on a constant input the runtime runs
it once, when the interpreter is prepared, keeping the float32 table
(M * K * D * 4 bytes) for every later call. `fold_codebook_dequantize`
rewrites each such CAST and MUL pair of a file into that op: the outputs
are bit-identical, and a lookup is left with the gather and the sum.
"""

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from keras_dccl.export.tflite_file import builtin_code

_BUILTIN = schema.BuiltinOperator
# The version of DEQUANTIZE with an int8 input quantized per axis.
_PER_AXIS_VERSION = 5


def fold_codebook_dequantize(path):
    """Rewrites a `.tflite` file's int8 codebook widening in place.

    A CAST of a constant int8 table (R, D) whose one reader is a MUL by a
    constant float32 (R, 1) becomes a DEQUANTIZE of that table, which
    carries the R scales (zero points 0, axis 0). Any other graph is left
    as it is.

    Args:
        path: The `.tflite` file (not yet published: the exporter calls
            this on its temporary file).

    Returns:
        The number of tables rewritten.
    """
    with open(path, "rb") as file:
        model = schema.ModelT.InitFromPackedBuf(bytearray(file.read()), 0)
    folded = sum(_fold_subgraph(model, graph) for graph in model.subgraphs)
    if folded:
        import flatbuffers

        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        with open(path, "wb") as file:
            file.write(builder.Output())
    return folded


def _fold_subgraph(model, graph):
    readers = {}
    for op in graph.operators:
        for index in op.inputs:
            readers.setdefault(int(index), []).append(op)
    dropped = []
    for op in graph.operators:
        found = _codebook_widening(model, graph, op, readers)
        if found is None:
            continue
        table, multiply, scales = found
        quantization = schema.QuantizationParametersT()
        quantization.scale = [float(s) for s in scales.ravel()]
        quantization.zeroPoint = [0] * scales.size
        quantization.quantizedDimension = 0
        table.quantization = quantization
        op.opcodeIndex = _opcode_index(
            model, _BUILTIN.DEQUANTIZE, _PER_AXIS_VERSION
        )
        op.builtinOptionsType = schema.BuiltinOptions.NONE
        op.builtinOptions = None
        op.outputs = multiply.outputs
        dropped.append(multiply)
    graph.operators = [
        op for op in graph.operators if not any(op is d for d in dropped)
    ]
    return len(dropped)


def _codebook_widening(model, graph, cast, readers):
    """`(table, multiply, scales)` if `cast` starts the pattern, else None."""
    if _builtin(model, cast) != _BUILTIN.CAST:
        return None
    table = graph.tensors[cast.inputs[0]]
    users = readers.get(int(cast.outputs[0]), [])
    if (
        table.type != schema.TensorType.INT8
        or len(table.shape) != 2
        or not _stored(model, table)
        or len(users) != 1
        or _builtin(model, users[0]) != _BUILTIN.MUL
    ):
        return None
    multiply = users[0]
    options = multiply.builtinOptions
    if options is not None and options.fusedActivationFunction:
        return None
    others = [i for i in multiply.inputs if i != cast.outputs[0]]
    scales = None
    if len(others) == 1:
        scales = _constant(model, graph.tensors[others[0]])
    if scales is None or scales.shape != (table.shape[0], 1):
        return None
    return table, multiply, scales


def _builtin(model, op):
    return builtin_code(model.operatorCodes[op.opcodeIndex])


def _stored(model, tensor):
    """Whether the file holds the tensor's values (a constant)."""
    data = model.buffers[tensor.buffer].data
    return data is not None and len(data) > 0


def _constant(model, tensor):
    """A float32 tensor's stored values, shaped; otherwise None."""
    if tensor.type != schema.TensorType.FLOAT32 or not _stored(model, tensor):
        return None
    values = np.frombuffer(bytes(model.buffers[tensor.buffer].data), np.float32)
    return values.reshape(tuple(int(d) for d in tensor.shape))


def _opcode_index(model, builtin, version):
    for index, code in enumerate(model.operatorCodes):
        if builtin_code(code) == builtin and code.version == version:
            return index
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1
