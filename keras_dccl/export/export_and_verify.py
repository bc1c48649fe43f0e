"""Export, run the file with LiteRT and compare with Keras, in one call."""

import dataclasses
import os

import keras
import numpy as np

from keras_dccl.export.export_litert import export_litert
from keras_dccl.export.export_litert import export_lookup
from keras_dccl.export.export_litert import exported_id_order
from keras_dccl.export.litert_runner import LiteRTRunner
from keras_dccl.utils.argument_checks import check_non_negative_float

# Largest allowed max |LiteRT - reference| of an output, as a share of its
# max |reference|: the reference is the float32 model, so the bound holds
# the quantization error of each mode.
TOLERANCES = {
    "none": 1e-5,
    "float16": 1e-2,
    "int8": 5e-2,
    "dynamic_int8": 0.1,
    "full_int8": 0.1,
}
# A full_int8 file must also keep the argmax over the last axis of this
# share of the rows.
MIN_ARGMAX_AGREEMENT = 0.98


@dataclasses.dataclass(frozen=True)
class OutputCheck:
    """One output compared: its max |LiteRT - reference| and the bound.

    `argmax_agreement` is set for full_int8 outputs wider than 1;
    `problem` names a mismatch that leaves nothing to measure (a missing
    output, another shape).
    """

    name: str
    max_difference: float = float("nan")
    bound: float = float("nan")
    tolerance: float = float("nan")
    argmax_agreement: float = None
    problem: str = None

    @property
    def passed(self):
        return (
            self.problem is None
            and self.max_difference <= self.bound
            and (
                self.argmax_agreement is None
                or self.argmax_agreement >= MIN_ARGMAX_AGREEMENT
            )
        )

    def __str__(self):
        if self.problem:
            return f"{self.name}: FAILED: {self.problem}"
        ok = self.max_difference <= self.bound
        line = (
            f"{self.name}: max abs difference {self.max_difference:.3g} "
            f"(tolerance {self.bound:.3g} = {self.tolerance:g} x max "
            f"|reference|): " + ("ok" if ok else "FAILED")
        )
        if self.argmax_agreement is None:
            return line
        ok = self.argmax_agreement >= MIN_ARGMAX_AGREEMENT
        return line + (
            f"\n{self.name}: argmax agreement {self.argmax_agreement:.1%} "
            f"(minimum {MIN_ARGMAX_AGREEMENT:.0%}): "
            + ("ok" if ok else "FAILED")
        )


@dataclasses.dataclass(frozen=True)
class Verification:
    """What `export_and_verify` measured: one `OutputCheck` per output."""

    path: str
    quantize: str
    outputs: tuple

    @property
    def passed(self):
        return all(output.passed for output in self.outputs)

    def __str__(self):
        return "\n".join(str(output) for output in self.outputs)

    @classmethod
    def compare(cls, reference, outputs, quantize, tolerance=None, path=None):
        """Compares LiteRT `outputs` with the Keras `reference`.

        Args:
            reference: The reference outputs: an array, a list, or a dict
                by output name.
            outputs: The LiteRT outputs: a list in the reference's order,
                or a dict by output name ("output_0", ... for a list).
            quantize: The file's quantize mode: picks the default
                tolerance, and "full_int8" also checks the argmax.
            tolerance: Optional float overriding `TOLERANCES[quantize]`.
            path: Optional path of the file, for the report.

        Returns:
            A `Verification`.
        """
        if tolerance is None:
            tolerance = TOLERANCES[quantize]
        tolerance = check_non_negative_float("tolerance", tolerance)
        if isinstance(reference, dict):
            names = sorted(reference)
            expected = [reference[name] for name in names]
        else:
            expected = keras.tree.flatten(reference)
            names = [f"output_{index}" for index in range(len(expected))]
        count = len(outputs)
        if not isinstance(outputs, dict):
            outputs = dict(zip(names, outputs))
        elif not isinstance(reference, dict):
            # "output_0", ..., "output_10": by length, then name.
            ordered = sorted(outputs, key=lambda name: (len(name), name))
            outputs = dict(zip(names, (outputs[name] for name in ordered)))
        checks = [
            _check_output(name, want, outputs.get(name), quantize, tolerance)
            for name, want in zip(names, expected)
        ]
        if count != len(expected):
            checks.append(
                OutputCheck(
                    "outputs",
                    problem=f"{count} LiteRT outputs for "
                    f"{len(expected)} Keras outputs",
                )
            )
        return cls(path and os.fspath(path), quantize, tuple(checks))


def export_and_verify(
    model,
    path,
    inputs,
    quantize="int8",
    tolerance=None,
    raise_on_failure=True,
    **kwargs,
):
    """Exports `model`, runs the file with LiteRT and compares with Keras.

    The file is written by `export_litert` (or, for a `CompressedTable`, by
    `export_lookup`), loaded with `ai_edge_litert` and run on `inputs`,
    `batch_size` rows at a time when the batch axis is fixed (int8 edges
    (de)quantized as `LiteRTRunner` does, ids renumbered as the file of an
    `AdaptiveCodebookEmbedding` numbers them). Each output's max
    |LiteRT - Keras| must stay within `tolerance` x its max |Keras|; a
    full_int8 file must also keep the argmax over the last axis of 98% of
    the rows.

    Args:
        model: A Keras model, as in `export_litert`; or a `CompressedTable`,
            exported as its lookup model and compared with `reconstruct`.
        path: The `.tflite` file to write.
        inputs: What to compare on: an integer array `(N, *input shape)`,
            a dict of them by input name for a model with several inputs,
            or, with `tokenizer`, a list of N strings. With a fixed
            `batch_size`, N must be a multiple of it.
        quantize: The quantize mode, as in `export_litert`.
        tolerance: Optional float, the largest allowed max difference as a
            share of max |Keras output|. Defaults to `TOLERANCES[quantize]`.
        raise_on_failure: Boolean. If `True` (default), an output beyond
            its bound raises a `RuntimeError`; else the returned
            `Verification` says so (`passed` is `False`).
        **kwargs: The other arguments of `export_litert`
            (`sequence_length`, `batch_size`, `representative_inputs`,
            `tokenizer`, `vocabulary`, `codebook_pairs`), or of
            `export_lookup` for a `CompressedTable`.

    Returns:
        A `Verification`: per output, the max difference and its bound.

    Raises:
        ValueError: If an option or `inputs` does not fit (no file written).
        RuntimeError: With `raise_on_failure`, if an output is beyond its
            bound (the file is kept, to inspect).

    Example:

    >>> result = export_and_verify(model, "model.tflite", ids)
    >>> result.outputs[0].max_difference <= result.outputs[0].bound
    True
    """
    if tolerance is not None:
        tolerance = check_non_negative_float("tolerance", tolerance)
    batch_size = kwargs.get("batch_size")
    tokenizer = kwargs.get("tokenizer")
    rows = len(
        next(iter(inputs.values())) if isinstance(inputs, dict) else inputs
    )
    if not rows or (batch_size and rows % batch_size):
        raise ValueError(
            "`inputs` must hold a whole number of batches of "
            f"batch_size={batch_size}. Received: {rows} rows"
        )
    interpreter = None
    if not isinstance(model, keras.Model):
        export_lookup(model, path, quantize, **kwargs)
        ids = np.asarray(inputs)
        reference = model.reconstruct(ids.reshape(-1))
        reference = reference.reshape(*ids.shape, -1)
        feeds = ids
    elif tokenizer is not None:
        from keras_dccl.export.text_to_ids import text_interpreter

        export_litert(model, path, quantize, **kwargs)
        feeds = np.asarray(list(inputs), dtype=str)
        reference = model.predict(tokenizer(feeds), verbose=0)
        interpreter = text_interpreter(path)
    else:
        export_litert(model, path, quantize, **kwargs)
        reference = model.predict(inputs, verbose=0)
        order = exported_id_order(model)
        feeds = inputs
        if order is not None and not isinstance(inputs, dict):
            feeds = np.argsort(order)[np.asarray(inputs)].astype(np.int32)
    outputs = _run_file(path, feeds, batch_size, interpreter)
    result = Verification.compare(reference, outputs, quantize, tolerance, path)
    if raise_on_failure and not result.passed:
        failed = next(output for output in result.outputs if not output.passed)
        first = str(failed).replace("\n", "; ")
        raise RuntimeError(f"{path} does not match Keras: {first}")
    return result


def _run_file(path, feeds, batch_size, interpreter=None):
    """The file's outputs by name on `feeds`, `batch_size` rows a call."""
    runner = LiteRTRunner(path, interpreter=interpreter)
    if not isinstance(feeds, dict):
        feeds = {next(iter(runner.input_details)): feeds}
    feeds = {name: np.asarray(value) for name, value in feeds.items()}
    rows = len(next(iter(feeds.values())))
    step = batch_size or rows
    parts = [
        runner.run_named(
            {name: value[start : start + step] for name, value in feeds.items()}
        )
        for start in range(0, rows, step)
    ]
    return {
        name: np.concatenate([part[name] for part in parts])
        for name in parts[0]
    }


def _check_output(name, expected, got, quantize, tolerance):
    expected = np.asarray(expected, dtype=np.float32)
    if got is None:
        return OutputCheck(name, problem="no LiteRT output of that name")
    if got.shape != expected.shape:
        return OutputCheck(
            name, problem=f"shape {got.shape}, expected {expected.shape}"
        )
    agreement = None
    if quantize == "full_int8" and expected.shape[-1] > 1:
        agreement = float(
            np.mean(np.argmax(got, -1) == np.argmax(expected, -1))
        )
    return OutputCheck(
        name,
        max_difference=float(np.max(np.abs(got - expected))),
        bound=tolerance * float(np.max(np.abs(expected))),
        tolerance=tolerance,
        argmax_agreement=agreement,
    )
