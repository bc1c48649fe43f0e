"""The inference form of `CodebookEmbedding` that goes into `.tflite` files.

Only the exporter builds it (TensorFlow is imported here, never by the
training layers). It holds the codes at their information size and the
codebooks as int8 with one float scale per codebook (or float32),
and looks a word up with builtin TFLite ops only:
GATHER (codes by id) -> unpack nibbles (FLOOR_MOD / FLOOR_DIV) -> ADD offsets
m * K -> GATHER (codebook rows) -> CAST, MUL by scale -> SUM over codebooks.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_dccl.utils.code_packing import NIBBLE_CODEBOOK_SIZE
from keras_dccl.utils.code_packing import pack_codes

CODEBOOK_DTYPES = ("int8", "float32")


def quantize_codebooks(codebooks):
    """Symmetric int8 with one scale per codebook.

    Args:
        codebooks: Float array (M, K, D).

    Returns:
        `(values, scales)`: int8 (M, K, D) and float32 (M,), with
        `values * scales[:, None, None]` approximating `codebooks`.
    """
    peaks = np.abs(codebooks).max(axis=(1, 2))
    scales = np.where(peaks > 0, peaks / 127.0, 1.0).astype(np.float32)
    values = np.round(codebooks / scales[:, None, None])
    return np.clip(values, -127, 127).astype(np.int8), scales


class LiteRTCodebookEmbedding(keras.layers.Layer):
    """Frozen codes + stored codebooks, looked up with builtin TFLite ops.

    Args:
        codes: uint8 array (V, M) of codes in [0, K).
        codebooks: Float array (M, K, D).
        codebook_dtype: "int8" (default) or "float32" (which the converter
            may store as float16, see `export_litert`).
        mask_zero: Boolean, as in `keras.layers.Embedding`.
    """

    def __init__(
        self, codes, codebooks, codebook_dtype="int8", mask_zero=False, **kwargs
    ):
        super().__init__(**kwargs)
        if codebook_dtype not in CODEBOOK_DTYPES:
            raise ValueError(
                f"`codebook_dtype` must be one of {CODEBOOK_DTYPES}. "
                f"Received: codebook_dtype={codebook_dtype!r}"
            )
        self.num_words, self.num_codebooks = codes.shape
        _, self.codebook_size, self.output_dim = codebooks.shape
        self.codebook_dtype = codebook_dtype
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        self.autocast = False
        self.packed = self.codebook_size <= NIBBLE_CODEBOOK_SIZE
        self._code_values = pack_codes(codes, self.codebook_size)
        flat = codebooks.reshape(-1, self.output_dim)
        self._scale_values = None
        if codebook_dtype == "int8":
            values, scales = quantize_codebooks(codebooks)
            flat = values.reshape(-1, self.output_dim)
            self._scale_values = scales[:, None]
        self._codebook_values = flat.astype(codebook_dtype)

    def build(self, input_shape=None):
        self.codes = self._constant("codes", self._code_values)
        self.codebooks = self._constant("codebooks", self._codebook_values)
        if self._scale_values is not None:
            self.scales = self._constant("scales", self._scale_values)
        self.offsets = tf.constant(
            np.arange(self.num_codebooks, dtype=np.int32) * self.codebook_size
        )

    def _constant(self, name, value):
        weight = self.add_weight(
            name=name,
            shape=value.shape,
            dtype=str(value.dtype),
            initializer="zeros",
            trainable=False,
        )
        weight.assign(value)
        return weight

    def call(self, inputs):
        ids = tf.cast(inputs, tf.int32)
        rows = tf.cast(tf.gather(self.codes, ids), tf.int32)
        if self.packed:
            nibbles = tf.stack(
                [
                    tf.math.floormod(rows, NIBBLE_CODEBOOK_SIZE),
                    tf.math.floordiv(rows, NIBBLE_CODEBOOK_SIZE),
                ],
                axis=-1,
            )
            shape = tf.concat([tf.shape(ids), [2 * rows.shape[-1]]], axis=0)
            rows = tf.reshape(nibbles, shape)[..., : self.num_codebooks]
        vectors = tf.gather(self.codebooks, rows + self.offsets)
        if self.codebook_dtype == "int8":
            vectors = tf.cast(vectors, tf.float32) * self.scales
        return tf.reduce_sum(vectors, axis=-2)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return keras.ops.not_equal(inputs, 0)
