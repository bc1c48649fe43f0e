"""The inference forms of the embedding layers that go into `.tflite` files.

Only the exporter builds them (TensorFlow is imported here, never by the
training layers). They hold the codes at their information size and the
codebooks as int8 with one float scale per codebook (or float32),
and look a word up with builtin TFLite ops only:
GATHER (codes by id) -> unpack nibbles (FLOOR_MOD / FLOOR_DIV) -> ADD offsets
m * K -> GATHER (codebook rows) -> SUM over codebooks. The rows come from
the int8 codebooks widened to float32 by one DEQUANTIZE that the runtime
computes once (`fold_codebook_dequantize`); a small table's rows are
gathered as int8 and then CAST and scaled.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_dccl.utils.code_packing import NIBBLE_CODEBOOK_SIZE
from keras_dccl.utils.code_packing import pack_codes

CODEBOOK_DTYPES = ("int8", "float32")
# Int8 codebooks of at least this many values are widened to float32 before
# the gather (then DEQUANTIZE, computed once: `fold_codebook_dequantize`);
# smaller ones after it, as the converter folds the widening of a small
# constant table into a float32 table four times its size (measured with
# TensorFlow 2.21: folded at 2,048 values, kept at 4,096).
WIDEN_FIRST_VALUES = 16384


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


class _CodebookLookup(keras.layers.Layer):
    """Shared part: the codebooks, and code tables turned into vectors."""

    def __init__(self, codebooks, codebook_dtype, mask_zero, **kwargs):
        super().__init__(**kwargs)
        if codebook_dtype not in CODEBOOK_DTYPES:
            raise ValueError(
                f"`codebook_dtype` must be one of {CODEBOOK_DTYPES}. "
                f"Received: codebook_dtype={codebook_dtype!r}"
            )
        self.num_codebooks, self.codebook_size, self.output_dim = (
            codebooks.shape
        )
        self.codebook_dtype = codebook_dtype
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        self.autocast = False
        self.packed = self.codebook_size <= NIBBLE_CODEBOOK_SIZE
        flat = codebooks.reshape(-1, self.output_dim)
        self._scale_values = None
        self.widen_first = False
        if codebook_dtype == "int8":
            values, scales = quantize_codebooks(codebooks)
            flat = values.reshape(-1, self.output_dim)
            self.widen_first = flat.size >= WIDEN_FIRST_VALUES
            if self.widen_first:
                # Each codebook's scale once a row: the (M * K, 1) shape
                # that `fold_codebook_dequantize` makes a DEQUANTIZE of.
                scales = np.repeat(scales, self.codebook_size)
            self._scale_values = scales[:, None]
        self._codebook_values = flat.astype(codebook_dtype)

    def build(self, input_shape=None):
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

    def _codes_table(self, name, codes):
        """A weight holding `codes` (N, L) packed as `_decode` reads them."""
        return self._constant(name, pack_codes(codes, self.codebook_size))

    def _float_codebooks(self):
        """The codebooks (M * K, D) to gather from: float32 if widened."""
        if self.widen_first:
            return tf.cast(self.codebooks, tf.float32) * self.scales
        return self.codebooks

    def _decode(self, codebooks, table, rows, length):
        """Vectors of rows `rows` of a table of `length` codes per row."""
        codes = tf.cast(tf.gather(table, rows), tf.int32)
        if self.packed:
            nibbles = tf.stack(
                [
                    tf.math.floormod(codes, NIBBLE_CODEBOOK_SIZE),
                    tf.math.floordiv(codes, NIBBLE_CODEBOOK_SIZE),
                ],
                axis=-1,
            )
            shape = tf.concat([tf.shape(rows), [2 * codes.shape[-1]]], axis=0)
            codes = tf.reshape(nibbles, shape)[..., :length]
        vectors = tf.gather(codebooks, codes + self.offsets[:length])
        if vectors.dtype == tf.int8:  # a small table, widened after
            vectors = tf.cast(vectors, tf.float32) * self.scales[:length]
        return tf.reduce_sum(vectors, axis=-2)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return keras.ops.not_equal(inputs, 0)


def pair_codebooks(codes, codebooks):
    """The same embedding with each two codebooks summed into one of 256 rows.

    With K <= 16, the packed byte of codes `2p` and `2p + 1`, `lo + 16 * hi`,
    becomes the code of pair `p`, and row `lo + 16 * hi` of pair codebook
    `p` is `codebooks[2p][lo] + codebooks[2p + 1][hi]` (rows that no code
    pair reaches are zeros; an odd last codebook pairs with nothing).

    Args:
        codes: uint8 array (V, M) of codes in [0, K), K <= 16.
        codebooks: Float array (M, K, D).

    Returns:
        `(pair_codes, pair_codebooks)`: uint8 (V, ceil(M / 2)) and float32
        (ceil(M / 2), 256, D).
    """
    num_codebooks, codebook_size, dim = codebooks.shape
    if codebook_size > NIBBLE_CODEBOOK_SIZE:
        raise ValueError(
            "Codebook pairs need codes of 4 bits (codebook_size <= 16). "
            f"Received: codebook_size={codebook_size}"
        )
    padded = np.zeros(
        (num_codebooks + num_codebooks % 2, NIBBLE_CODEBOOK_SIZE, dim),
        np.float32,
    )
    padded[:num_codebooks, :codebook_size] = codebooks
    low, high = padded[0::2], padded[1::2]
    pairs = low[:, None, :, :] + high[:, :, None, :]  # [p, hi, lo]
    return pack_codes(codes, codebook_size), pairs.reshape(-1, 256, dim)


class LiteRTCodebookEmbedding(_CodebookLookup):
    """Frozen codes + stored codebooks, looked up with builtin TFLite ops.

    Args:
        codes: uint8 array (V, M) of codes in [0, K).
        codebooks: Float array (M, K, D).
        codebook_dtype: "int8" (default) or "float32" (which the converter
            may store as float16, see `export_litert`).
        mask_zero: Boolean, as in `keras.layers.Embedding`.
        codebook_pairs: Boolean. Store `pair_codebooks` instead: one gather
            per two codes and no unpacking, for 256 / (2 * K) times the
            codebook bytes.
        exact: Optional `(row_index, residuals)` of a layer with exact
            rows: int (V,) indices into float (N + 1, D) residual rows (the
            last one zero), added to the decoded codes. Stored as an int16
            index (int32 from 32,767 rows) and int8 rows with one scale
            for the table (float32 with float32 codebooks). `residuals`
            may instead be the `(values, scale_index, scales)` of
            `CodebookEmbedding.int4_exact_rows()`: stored as two int4
            values a byte, a uint8 scale index a row and 256 float32
            scales.
    """

    def __init__(
        self,
        codes,
        codebooks,
        codebook_dtype="int8",
        mask_zero=False,
        codebook_pairs=False,
        exact=None,
        **kwargs,
    ):
        if codebook_pairs:
            codes, codebooks = pair_codebooks(codes, codebooks)
        super().__init__(codebooks, codebook_dtype, mask_zero, **kwargs)
        self._codes = codes
        self._exact = exact

    def build(self, input_shape=None):
        super().build(input_shape)
        self.codes = self._codes_table("codes", self._codes)
        if self._exact is None:
            return
        row_index, residuals = self._exact
        index_dtype = "int16" if len(residuals) <= 32767 else "int32"
        self.row_index = self._constant(
            "row_index", np.asarray(row_index).astype(index_dtype)
        )
        self.int4_rows = isinstance(residuals, tuple)
        if self.int4_rows:
            values, scale_index, scales = residuals
            nibbles = (np.asarray(values) + 8).astype(np.uint8)
            self.residuals = self._constant(
                "residuals", pack_codes(nibbles, NIBBLE_CODEBOOK_SIZE)
            )
            self.residual_scale_index = self._constant(
                "residual_scale_index", np.asarray(scale_index, np.uint8)
            )
            # 256 values: below the size that TFLite's dynamic-range
            # quantization would turn to int8.
            self.residual_scales = self._constant(
                "residual_scales", np.asarray(scales, np.float32)
            )
            # Each byte's two int4 values, low nibble first, as floats: one
            # GATHER decodes a row (512 values, left as float32 too).
            nibbles = np.arange(256)
            self.nibble_values = self._constant(
                "nibble_values",
                np.stack([nibbles % 16 - 8, nibbles // 16 - 8], -1).astype(
                    np.float32
                ),
            )
            return
        residuals = np.asarray(residuals, dtype=np.float32)
        if self.codebook_dtype == "int8":
            # One scale for the table: a table of per-row float scales is
            # what TFLite's dynamic-range quantization would requantize.
            values, scale = quantize_codebooks(residuals[None])
            self.residuals = self._constant("residuals", values[0])
            self.residual_scale = self._constant("residual_scale", scale)
        else:
            self.residuals = self._constant("residuals", residuals)

    def call(self, inputs):
        ids = tf.cast(inputs, tf.int32)
        vectors = self._decode(
            self._float_codebooks(), self.codes, ids, self.num_codebooks
        )
        if self._exact is None:
            return vectors
        rows = tf.cast(tf.gather(self.row_index, ids), tf.int32)
        residuals = tf.gather(self.residuals, rows)
        if self.int4_rows:
            values = tf.gather(self.nibble_values, tf.cast(residuals, tf.int32))
            shape = tf.concat([tf.shape(ids), [self.output_dim]], axis=0)
            index = tf.gather(self.residual_scale_index, rows)
            scales = tf.gather(self.residual_scales, tf.cast(index, tf.int32))
            return vectors + tf.reshape(values, shape) * tf.expand_dims(
                scales, -1
            )
        if self.codebook_dtype == "int8":
            residuals = tf.cast(residuals, tf.float32) * self.residual_scale
        return vectors + residuals


def adaptive_order(lengths, reserved):
    """Old id of each new id: reserved ids first, then stably by length."""
    return np.concatenate(
        [
            np.arange(reserved),
            reserved + np.argsort(lengths[reserved:], kind="stable"),
        ]
    )


class LiteRTAdaptiveCodebookEmbedding(_CodebookLookup):
    """`AdaptiveCodebookEmbedding` with each word paying for its own length.

    The word ids are renumbered so that the words of each code length form
    one contiguous range: ids below `reserved` (`"[PAD]"` and `"[UNK]"` of a
    `WordTokenizer` vocabulary) keep their number and are stored as float32
    vectors; the others are sorted by length, stably. Each length then has
    its own code table of exactly that many codes per word, and a word's
    range is found by comparing its id with the range bounds: no per-word
    offset or length table is stored. `order[new_id]` is the old id.

    Args:
        codes: uint8 array (V, M) of prefix codes.
        lengths: Integer array (V,): each word's code length.
        codebooks: Float array (M, K, D).
        fallback: Float array (D,), the vector of length-0 words.
        reserved_vectors: Float array (R, D), the outputs of ids 0 .. R - 1.
        codebook_dtype: "int8" (default) or "float32".
        mask_zero: Boolean, as in `keras.layers.Embedding`.
    """

    def __init__(
        self,
        codes,
        lengths,
        codebooks,
        fallback,
        reserved_vectors,
        codebook_dtype="int8",
        mask_zero=False,
        **kwargs,
    ):
        super().__init__(codebooks, codebook_dtype, mask_zero, **kwargs)
        reserved = len(reserved_vectors)
        lengths = np.asarray(lengths)
        self.order = adaptive_order(lengths, reserved)
        self._reserved_vectors = np.asarray(reserved_vectors, np.float32)
        self._fallback = np.asarray(fallback, np.float32)
        # (first id, number of words, code length) of each length's range.
        sorted_lengths = lengths[self.order]
        self.groups = []
        self._group_codes = []
        for length in np.unique(sorted_lengths[reserved:]):
            ids = reserved + np.flatnonzero(sorted_lengths[reserved:] == length)
            self.groups.append((int(ids[0]), len(ids), int(length)))
            self._group_codes.append(codes[self.order[ids], :length])

    def build(self, input_shape=None):
        super().build(input_shape)
        self.reserved_vectors = self._constant(
            "reserved_vectors", self._reserved_vectors
        )
        self.fallback = self._constant("fallback", self._fallback)
        self.code_tables = [
            self._codes_table(f"codes_{length}", codes) if length else None
            for (_, _, length), codes in zip(self.groups, self._group_codes)
        ]

    def call(self, inputs):
        ids = tf.cast(inputs, tf.int32)
        codebooks = self._float_codebooks()
        reserved = self._reserved_vectors.shape[0]
        # expand_dims, not [..., None]: with a dynamic length the converter
        # keeps a new-axis STRIDED_SLICE, which has no builtin kernel.
        outputs = tf.gather(
            self.reserved_vectors, tf.minimum(ids, reserved - 1)
        ) * tf.expand_dims(tf.cast(tf.less(ids, reserved), tf.float32), -1)
        for (start, count, length), table in zip(self.groups, self.code_tables):
            inside = tf.logical_and(
                tf.greater_equal(ids, start), tf.less(ids, start + count)
            )
            if length:
                # Not a clip: the converter would fuse a clip to [0, 6] into
                # RELU6, which has no int32 kernel.
                rows = tf.where(inside, ids - start, tf.zeros_like(ids))
                vectors = self._decode(codebooks, table, rows, length)
            else:
                vectors = self.fallback
            inside = tf.expand_dims(tf.cast(inside, tf.float32), -1)
            outputs += inside * vectors
        return outputs
