"""Runs `.tflite` files with `ai_edge_litert`, (de)quantizing int8 edges."""

import os

import numpy as np


class LiteRTRunner:
    """The default signature of a `.tflite` file, run with `ai_edge_litert`.

    Float values given for a quantized input are quantized with the file's
    scale and zero point, and quantized outputs are dequantized to float32,
    so a full-integer model can be compared with its Keras model directly.
    Input shapes follow the values given (dynamic dimensions are resized).

    Args:
        path: The `.tflite` file.
        num_threads: Optional number of interpreter threads.
        interpreter: Optional interpreter already opened on `path`, such
            as `text_interpreter(path)` for a raw-text model.

    Call arguments:
        *inputs: One array per input, in the signature's order.

    Returns:
        A list of output arrays, in the signature's order.
    """

    def __init__(self, path, num_threads=None, interpreter=None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = os.fspath(path)
        self.interpreter = interpreter or Interpreter(
            model_path=self.path, num_threads=num_threads
        )
        self._runner = self.interpreter.get_signature_runner()
        self.input_details = self._runner.get_input_details()
        self.output_details = self._runner.get_output_details()

    def __call__(self, *inputs):
        results = self.run_named(dict(zip(self.input_details, inputs)))
        # "output_0", "output_1", ..., "output_10": by length, then name.
        names = sorted(results, key=lambda name: (len(name), name))
        return [results[name] for name in names]

    def run_named(self, inputs):
        """Runs a dict of inputs by name; returns the outputs by name."""
        feeds = {}
        for name, value in inputs.items():
            detail = self.input_details[name]
            value = np.asarray(value)
            if value.dtype.kind in "USO":  # strings go in as they are
                feeds[name] = value
                continue
            scale, zero_point = detail["quantization"]
            if scale and not np.issubdtype(value.dtype, np.integer):
                limits = np.iinfo(detail["dtype"])
                value = np.round(value / scale + zero_point)
                value = np.clip(value, limits.min, limits.max)
            feeds[name] = value.astype(detail["dtype"])
        results = self._runner(**feeds)
        for name, value in results.items():
            scale, zero_point = self.output_details[name]["quantization"]
            if scale:
                results[name] = (value.astype(np.float32) - zero_point) * scale
        return results
