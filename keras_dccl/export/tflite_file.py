"""Reads a `.tflite` file's operators and tensors, without TensorFlow."""

import dataclasses
import os

from ai_edge_litert import schema_py_generated as schema

_TYPE_NAMES = {
    value: name
    for name, value in vars(schema.TensorType).items()
    if not name.startswith("_")
}
_OP_NAMES = {
    value: name
    for name, value in vars(schema.BuiltinOperator).items()
    if not name.startswith("_")
}


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One tensor of the main subgraph.

    Attributes:
        index: Position in the subgraph's tensor list.
        name: The converter's name for it.
        dtype: TFLite type name, e.g. "INT8", "UINT8", "FLOAT32".
        shape: Static shape (a dynamic dimension reads 1 here).
        shape_signature: Shape with -1 for dynamic dimensions.
        constant_bytes: Bytes of constant data stored in the file (0 for
            activations and inputs).
        quantization_bytes: Bytes of its quantization parameters: 4 a
            scale and 8 a zero point (0 for a tensor without them).
    """

    index: int
    name: str
    dtype: str
    shape: tuple
    shape_signature: tuple
    constant_bytes: int
    quantization_bytes: int = 0


@dataclasses.dataclass(frozen=True)
class OperatorInfo:
    """One operator: "GATHER", "FULLY_CONNECTED", ..., or "CUSTOM:<name>"."""

    name: str
    inputs: tuple
    outputs: tuple


class TFLiteFile:
    """The main subgraph of a `.tflite` file, as plain Python data.

    Reads the file's operators, tensors and sizes to inspect it (it runs
    nothing: `LiteRTRunner` does). Called `TFLiteModel` before 0.2; that
    name stays an alias for one release.

    Attributes:
        path: The file.
        file_bytes: The file's size.
        tensors: List of `TensorInfo`.
        operators: List of `OperatorInfo`, in execution order.
        inputs, outputs: Lists of the model's input and output `TensorInfo`.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        with open(self.path, "rb") as file:
            data = file.read()
        try:
            model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
            subgraph = model.subgraphs[0]
        except Exception as error:
            raise ValueError(
                f"{self.path}: not a TFLite flatbuffer ({error})."
            ) from None
        problem = _index_problem(model, subgraph)
        if problem:
            raise ValueError(
                f"{self.path}: not a valid TFLite model: {problem}."
            )
        self.file_bytes = len(data)
        self.tensors = [
            _tensor_info(index, tensor, model.buffers)
            for index, tensor in enumerate(subgraph.tensors or [])
        ]
        codes = model.operatorCodes or []
        self.operators = [
            OperatorInfo(
                _op_name(codes[op.opcodeIndex]),
                tuple(int(i) for i in op.inputs if i >= 0),
                tuple(int(i) for i in op.outputs),
            )
            for op in subgraph.operators or []
        ]
        self.inputs = [self.tensors[i] for i in subgraph.inputs]
        self.outputs = [self.tensors[i] for i in subgraph.outputs]

    @property
    def op_names(self):
        """Sorted set of the operator names used."""
        return sorted({op.name for op in self.operators})

    def constant_bytes(self):
        """Bytes of all constant tensors (weights) in the file."""
        return sum(tensor.constant_bytes for tensor in self.tensors)

    def size_breakdown(self):
        """Bytes of the embedding parts of the file, found by graph position.

        "codes": integer tables gathered by the model's integer inputs;
        "codebooks": the tables gathered by codes (through a DEQUANTIZE for
        float16 and for int8 codebooks); "scales": constants multiplied
        into gathered codebook rows, and the codebooks' own quantization
        scales and zero points; "rest": everything else in the file (other
        weights, graph, metadata).
        """
        producers = {
            output: op for op in self.operators for output in op.outputs
        }
        parts = {"codes": set(), "codebooks": set(), "scales": set()}
        for op in self.operators:
            if op.name != "GATHER":
                continue
            table = self.tensors[op.inputs[0]]
            if table.constant_bytes == 0 and table.index in producers:
                source = producers[table.index]
                if source.name == "DEQUANTIZE":
                    table = self.tensors[source.inputs[0]]
            if not table.constant_bytes:
                continue
            if table.dtype == "UINT8" or (
                table.dtype in ("INT16", "INT32") and not _is_codebook(self, op)
            ):
                parts["codes"].add(table.index)
            else:
                parts["codebooks"].add(table.index)
                parts["scales"].update(_scales_after(self, op))
        sizes = {
            name: sum(self.tensors[i].constant_bytes for i in indices)
            for name, indices in parts.items()
        }
        sizes["scales"] += sum(
            self.tensors[i].quantization_bytes for i in parts["codebooks"]
        )
        sizes["rest"] = self.file_bytes - sum(sizes.values())
        return sizes


def _index_problem(model, subgraph):
    """Describes the first index of the main subgraph out of range, if any."""
    num_tensors = len(subgraph.tensors or [])
    num_codes = len(model.operatorCodes or [])

    def bad(indices, optional=False):
        lowest = -1 if optional else 0
        indices = () if indices is None else indices
        return next(
            (int(i) for i in indices if not lowest <= i < num_tensors), None
        )

    for name in ("inputs", "outputs"):
        index = bad(getattr(subgraph, name))
        if index is not None:
            return (
                f"subgraph {name} name tensor {index}, but there are "
                f"{num_tensors} tensors"
            )
    for position, op in enumerate(subgraph.operators or []):
        if not 0 <= op.opcodeIndex < num_codes:
            return (
                f"operator {position} uses opcode index {op.opcodeIndex}, "
                f"but there are {num_codes} opcodes"
            )
        if not len(op.outputs if op.outputs is not None else ()):
            return f"operator {position} has no outputs"
        index = bad(op.inputs, optional=True)
        if index is None:
            index = bad(op.outputs)
        if index is not None:
            return (
                f"operator {position} names tensor {index}, but there are "
                f"{num_tensors} tensors"
            )
    return None


def _is_codebook(model, gather):
    """A GATHER whose indices are computed (codes + offsets), not inputs."""
    indices = model.tensors[gather.inputs[1]]
    return indices not in model.inputs and not any(
        indices.index in op.outputs and op.name == "CAST"
        for op in model.operators
    )


def _scales_after(model, gather):
    """Constant tensors of MULs fed by `gather` (directly or through CAST)."""
    frontier = set(gather.outputs)
    for op in model.operators:
        if op.name == "CAST" and frontier & set(op.inputs):
            frontier |= set(op.outputs)
    return {
        index
        for op in model.operators
        if op.name == "MUL" and frontier & set(op.inputs)
        for index in op.inputs
        if model.tensors[index].constant_bytes
    }


def _op_name(code):
    if code.customCode:
        custom = code.customCode
        if isinstance(custom, bytes):
            custom = custom.decode("utf-8", "replace")
        return f"CUSTOM:{custom}"
    builtin = builtin_code(code)
    return _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")


def builtin_code(code):
    """The builtin operator of an operator code.

    Old files set only the deprecated 8-bit field; operators from 127 on
    have only the new one.
    """
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _tensor_info(index, tensor, buffers):
    buffer = buffers[tensor.buffer] if tensor.buffer < len(buffers) else None
    size = 0
    if buffer is not None:
        if buffer.data is not None:
            size = len(buffer.data)
        elif buffer.offset > 1:
            size = int(buffer.size)
    name = tensor.name
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    shape = tuple(
        int(d) for d in (tensor.shape if tensor.shape is not None else ())
    )
    signature = tensor.shapeSignature
    return TensorInfo(
        index=index,
        name=name,
        dtype=_TYPE_NAMES.get(tensor.type, str(tensor.type)),
        shape=shape,
        shape_signature=tuple(int(d) for d in signature)
        if signature is not None
        else shape,
        constant_bytes=size,
        quantization_bytes=_quantization_bytes(tensor.quantization),
    )


def _quantization_bytes(quantization):
    if quantization is None:
        return 0
    scales = quantization.scale if quantization.scale is not None else ()
    zeros = (
        quantization.zeroPoint if quantization.zeroPoint is not None else ()
    )
    return 4 * len(scales) + 8 * len(zeros)
