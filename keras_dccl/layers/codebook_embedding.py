import keras
import numpy as np
from keras import ops

from keras_dccl.layers.code_embedding_base import CodeEmbeddingBase
from keras_dccl.layers.code_embedding_base import RandomCodes
from keras_dccl.layers.code_embedding_base import shared_docstring
from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.argument_checks import check_non_negative_float

EXACT_ROWS_DTYPES = ("int8", "int4")
# The int4 rows' scales: 256 levels, 2 ** (1 / 32) apart, the largest that of
# the row of largest magnitude (a range of 2 ** 8 between rows).
INT4_SCALE_LEVELS = 256
INT4_LEVELS_PER_OCTAVE = 32


def int4_rows(rows):
    """Symmetric int4 rows with a scale each, chosen from 256 shared levels.

    Each row's scale is its peak magnitude over 7, rounded up to the next
    level (so no value is clipped); rows below the smallest level use it.

    Args:
        rows: Float tensor `(N, D)`.

    Returns:
        `(values, index, levels)`: float `(N, D)` integers in [-7, 7], int32
        `(N,)` and float `(256,)`, with `values * levels[index][:, None]`
        approximating `rows`.
    """
    peaks = ops.max(ops.abs(rows), axis=-1) / 7.0
    top = ops.maximum(ops.max(peaks), 1e-30)
    steps = ops.arange(INT4_SCALE_LEVELS, dtype=rows.dtype)
    levels = top * ops.power(
        2.0, (steps - (INT4_SCALE_LEVELS - 1)) / INT4_LEVELS_PER_OCTAVE
    )
    octaves = ops.log2(ops.maximum(peaks, 1e-30) / top)
    index = ops.ceil(INT4_LEVELS_PER_OCTAVE * octaves) + INT4_SCALE_LEVELS - 1
    index = ops.cast(ops.clip(index, 0, INT4_SCALE_LEVELS - 1), "int32")
    scales = ops.take(levels, index, axis=0)
    values = ops.clip(ops.round(rows / scales[:, None]), -7, 7)
    return values, index, levels


@keras.saving.register_keras_serializable(package="keras_dccl")
@shared_docstring(learned="codes")
class CodebookEmbedding(CodeEmbeddingBase):
    """Compressed embedding: each word is a sum of vectors from codebooks.

    A drop-in replacement for `keras.layers.Embedding` that stores, instead of
    one float vector per word, `num_codebooks` (the paper's M) integer codes
    per word and `num_codebooks` codebooks of `codebook_size` (the paper's K)
    float vectors. The embedding of a word is the sum, over the codebooks, of
    the vector its code selects (Shu & Nakayama, 2018). The layer can take two
    forms.

    The frozen form (`learn_codes=False`) is the compressed embedding. It
    holds a non-trainable uint8 weight `codes` of shape
    `(input_dim, num_codebooks)` and the trainable codebooks of a
    `CodebookDecoder` sub-layer, `decoder`. Built from scratch, the codes are
    random integers (deterministic given `seed`) and the codebooks are learned
    with the rest of the model, which is itself a valid compressed embedding.
    `from_compressed()` builds it from codes and codebooks learned elsewhere.

    The training form (`learn_codes=True`) learns the codes, following the
    paper: it holds full float `embeddings`, which a `GumbelSoftmaxEncoder`
    sub-layer, `encoder`, turns into code distributions for the decoder.
    Training uses relaxed Gumbel-softmax codes; inference uses hard codes, so
    its outputs equal those of the frozen form that
    `keras_dccl.models.freeze_codes` makes of it. `from_pretrained()` builds
    it from existing word vectors.

    Args:
        {dimension_args}
        num_codebooks: Integer. Number of codes per word (M).
            Defaults to `32`.
        {shared_args}
        straight_through: Boolean. Whether the encoder uses straight-through
            one-hot codes in training. Defaults to `False`.
        reconstruction_weight: Non-negative float. In the training form, the
            weight of a reconstruction loss added to the model's loss: the
            mean over the looked-up words of the squared distance between a
            word's `embeddings` row and its decoded output, the objective of
            Shu & Nakayama's code learning. With a task loss, it keeps the
            codes close to the pretrained vectors. Defaults to `0.0` (the
            task loss alone).
        exact_rows: Non-negative integer. Number of words (chosen with
            `set_exact_rows()`, e.g. the most frequent tokens of a
            transformer) that also get a trainable residual row of their
            own, added to their decoded codes, so that they can be looked up
            exactly; the other words use their codes alone. Costs a
            `(input_dim,)` int32 row index (int16 in `.tflite` files) and
            `exact_rows` rows (as `exact_rows_dtype` says in `.tflite`
            files). Defaults to `0`.
        exact_rows_dtype: `"int8"` or `"int4"`, how the exact rows are
            stored in `.tflite` files. `"int8"` (the default): D bytes a
            row, with one scale for the table. `"int4"`: D / 2 bytes a row
            and a one-byte scale index (into 256 scales, 2 ** (1 / 32)
            apart), so twice as many frequent tokens fit in the same
            bytes; the layer rounds the rows to int4 itself (straight
            through in training), so the file and the layer agree.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Integer tensor of word indices, of any shape; with
            `reverse=True`, a float tensor `(..., output_dim)`.
        reverse: Boolean. If `True`, the layer returns the logits of
            `inputs` against every word's decoded embedding,
            `inputs @ table.T` of shape `(..., input_dim)`, as KerasHub's
            `ReversibleEmbedding` does for tied output heads (masked and
            causal language models). Defaults to `False`.
        training: Python boolean. In the training form, whether to use relaxed
            (training) or hard (inference) codes. Ignored by the frozen form.

    Input shape:
        Tensor of any shape `(...)`, e.g. `(batch_size, input_length)`.

    Output shape:
        Tensor of shape `(..., output_dim)`, e.g.
        `(batch_size, input_length, output_dim)`.

    Example:

    Replace `keras.layers.Embedding` in a model and train the codebooks:

    >>> model = keras.Sequential()
    >>> model.add(keras_dccl.CodebookEmbedding(1000, 64, seed=1))
    >>> model.add(keras.layers.GlobalAveragePooling1D())
    >>> model.add(keras.layers.Dense(1))
    >>> model.compile("adam", "mse")
    >>> input_array = np.random.randint(1000, size=(32, 10))
    >>> model.predict(input_array, verbose=0).shape
    (32, 1)

    Learn the codes of pretrained word vectors by reconstructing them, as in
    the paper, then freeze the codes:

    ```python
    # `vectors`: float array of shape `(vocabulary_size, dimension)`.
    layer = keras_dccl.CodebookEmbedding.from_pretrained(
        vectors, num_codebooks=32, codebook_size=16
    )
    word_ids = keras.Input(shape=(), dtype="int32")
    model = keras.Model(word_ids, layer(word_ids))
    model.compile("adam", "mse")
    model.fit(np.arange(len(vectors)), vectors, batch_size=128, epochs=10)
    frozen_layer = keras_dccl.models.freeze_codes(layer)
    ```

    `keras_dccl.models.freeze_codes` returns a new layer (given a model, a
    new model, to compile before fitting it) and leaves the original as it
    is.

    Reference:
        - [Shu & Nakayama, "Compressing Word Embeddings via Deep
          Compositional Code Learning", ICLR 2018](
          https://arxiv.org/abs/1711.01068)
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        num_codebooks=32,
        codebook_size=16,
        reconstruction_weight=0.0,
        exact_rows=0,
        exact_rows_dtype="int8",
        **kwargs,
    ):
        self.exact_rows = check_integer("exact_rows", exact_rows, minimum=0)
        if exact_rows_dtype not in EXACT_ROWS_DTYPES:
            raise ValueError(
                f"`exact_rows_dtype` must be one of {EXACT_ROWS_DTYPES}. "
                f"Received: exact_rows_dtype={exact_rows_dtype!r}"
            )
        self.exact_rows_dtype = exact_rows_dtype
        super().__init__(
            input_dim, output_dim, num_codebooks, codebook_size, **kwargs
        )
        self.reconstruction_weight = check_non_negative_float(
            "reconstruction_weight", reconstruction_weight
        )

    def call(self, inputs, reverse=False, training=None):
        if reverse:
            table = self._decode_all(training)
            logits = ops.matmul(
                ops.cast(inputs, table.dtype), ops.transpose(table)
            )
            return ops.cast(logits, self.compute_dtype)
        inputs = self._ids(inputs)
        outputs = self._lookup(inputs, training)
        if self.exact_rows:
            rows = ops.take(self.row_index, inputs, axis=0)
            outputs = self._add_residuals(outputs, rows)
        return ops.cast(outputs, self.compute_dtype)

    def _lookup(self, inputs, training):
        if self.learn_codes:
            vectors = ops.take(self.embeddings, inputs, axis=0)
            vectors = ops.reshape(vectors, (-1, self.output_dim))
            codes = self.encoder(vectors, training=training)
            decoded = self.decoder(codes)
            if self.reconstruction_weight:
                distances = ops.sum(ops.square(decoded - vectors), axis=-1)
                self.add_loss(self.reconstruction_weight * ops.mean(distances))
            outputs = ops.reshape(
                decoded, (*ops.shape(inputs), self.output_dim)
            )
        else:
            codes = ops.take(self.codes, inputs, axis=0)
            outputs = self.decoder(ops.cast(codes, "int32"))
        return outputs

    def _add_weights(self):
        if not self.exact_rows:
            return
        self.row_index = self.add_weight(
            name="row_index",
            shape=(self.input_dim,),
            initializer=keras.initializers.Constant(self.exact_rows),
            dtype="int32",
            trainable=False,
        )
        self.residuals = self.add_weight(
            name="residuals",
            shape=(self.exact_rows + 1, self.output_dim),
            initializer="zeros",
        )

    def _kept_rows(self):
        """The residual rows, the last (of the other words) kept at zero."""
        keep = ops.arange(self.exact_rows + 1) < self.exact_rows
        return self.residuals * ops.cast(keep, self.residuals.dtype)[:, None]

    def _residual_rows(self):
        """The residual rows as the lookup adds them.

        With `exact_rows_dtype="int4"`, rounded as the file stores them,
        with the gradient of the unrounded rows (straight through).
        """
        rows = self._kept_rows()
        if self.exact_rows_dtype == "int8":
            return rows
        values, index, levels = int4_rows(rows)
        rounded = values * ops.take(levels, index, axis=0)[:, None]
        return rows + ops.stop_gradient(rounded - rows)

    def int4_exact_rows(self):
        """The int4 form of the residual rows, as `.tflite` files store it.

        Returns:
            `(values, scale_index, scales)` as NumPy arrays: int8
            `(exact_rows + 1, output_dim)` in [-7, 7], uint8
            `(exact_rows + 1,)` and float32 `(256,)`; row `i` is
            `values[i] * scales[scale_index[i]]`.
        """
        self._check_built("int4_exact_rows")
        values, index, levels = (
            ops.convert_to_numpy(x) for x in int4_rows(self._kept_rows())
        )
        return values.astype("int8"), index.astype("uint8"), levels

    def _add_residuals(self, vectors, rows):
        """`vectors` plus the residual rows `rows` (from `row_index`)."""
        residuals = ops.take(self._residual_rows(), rows, axis=0)
        return vectors + ops.cast(residuals, vectors.dtype)

    def set_exact_rows(self, ids, vectors):
        """Makes the words `ids` look up `vectors` exactly.

        Each of the `exact_rows` words gets a residual row, added to its
        decoded codes: `vectors` minus the decoded embedding of the word now.
        The residual rows are trainable with the codebooks (and exported as
        int8 rows with one scale for the table), so frequent words can be
        kept near exact while the others share the codebooks.

        Args:
            ids: Integer array of at most `exact_rows` distinct word ids.
            vectors: Float array `(len(ids), output_dim)`.
        """
        self._check_built("set_exact_rows")
        ids = np.asarray(ids, dtype="int64")
        vectors = np.asarray(vectors, dtype="float32")
        if (
            ids.ndim != 1
            or len(ids) > self.exact_rows
            or len(np.unique(ids)) != len(ids)
            or (len(ids) and (ids.min() < 0 or ids.max() >= self.input_dim))
            or vectors.shape != (len(ids), self.output_dim)
        ):
            raise ValueError(
                f"`ids` must be at most exact_rows={self.exact_rows} distinct "
                f"ids in [0, {self.input_dim}) and `vectors` of shape "
                f"(len(ids), {self.output_dim}). Received: ids.shape="
                f"{ids.shape}, vectors.shape={vectors.shape}"
            )
        row_index = np.full(self.input_dim, self.exact_rows, dtype="int32")
        row_index[ids] = np.arange(len(ids))
        residuals = np.zeros((self.exact_rows + 1, self.output_dim), "float32")
        self.row_index.assign(row_index)
        # The codes alone (`_lookup` adds no residual row).
        decoded = ops.convert_to_numpy(
            ops.cast(self._lookup(ops.convert_to_tensor(ids), False), "float32")
        )
        residuals[: len(ids)] = vectors - decoded
        self.residuals.assign(residuals)

    def _decode_all(self, training):
        """The decoded `(input_dim, output_dim)` table of every word."""
        if self.learn_codes:
            codes = self.encoder(self.embeddings, training=training)
        else:
            codes = ops.cast(self.codes, "int32")
        table = self.decoder(codes)
        if self.exact_rows:
            table = self._add_residuals(table, self.row_index)
        return table

    def compute_output_spec(self, inputs, reverse=False, training=None):
        if reverse:
            shape = (*inputs.shape[:-1], self.input_dim)
        else:
            shape = (*inputs.shape, self.output_dim)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_codebooks=self.num_codebooks,
            straight_through=self.straight_through,
            reconstruction_weight=self.reconstruction_weight,
            exact_rows=self.exact_rows,
            exact_rows_dtype=self.exact_rows_dtype,
        )
        return config

    def _frozen_weights(self):
        return [
            (
                "codes",
                (self.input_dim, self.num_codebooks),
                RandomCodes(self.codebook_size, self.seed),
            )
        ]

    def _frozen_values(self, batch_size):
        return {"codes": self.compute_codes(batch_size)}

    @classmethod
    def from_compressed(
        cls, compressed, mask_zero=False, trainable_codebooks=True, **kwargs
    ):
        """Builds a frozen-form layer that holds given codes and codebooks.

        Args:
            compressed: Object with attributes `codes`, a uint8 array of
                shape `(input_dim, num_codebooks)`, and `codebooks`, a float
                array of shape `(num_codebooks, codebook_size, output_dim)`.
            mask_zero: Boolean, as in the constructor.
            trainable_codebooks: Boolean. Whether the codebooks are trainable
                (the layer's `trainable` attribute). Defaults to `True`.
            **kwargs: Other constructor arguments, such as `name`.

        Returns:
            A built `CodebookEmbedding` with `learn_codes=False`.
        """
        codes = compressed.codes
        codebooks = compressed.codebooks
        if (
            len(codes.shape) != 2
            or len(codebooks.shape) != 3
            or codebooks.shape[0] != codes.shape[1]
        ):
            raise ValueError(
                "`compressed` must hold `codes` of shape (input_dim, "
                "num_codebooks) and `codebooks` of shape (num_codebooks, "
                "codebook_size, output_dim). Received: "
                f"codes.shape={codes.shape}, codebooks.shape={codebooks.shape}"
            )
        input_dim, num_codebooks = codes.shape
        _, codebook_size, output_dim = codebooks.shape
        layer = cls(
            input_dim,
            output_dim,
            num_codebooks=num_codebooks,
            codebook_size=codebook_size,
            mask_zero=mask_zero,
            trainable=trainable_codebooks,
            **kwargs,
        )
        code_range = (int(ops.min(codes)), int(ops.max(codes)))
        if code_range[0] < 0 or code_range[1] >= codebook_size:
            raise ValueError(
                "`compressed.codes` must be in [0, codebook_size="
                f"{codebook_size}). Received: codes in {list(code_range)}"
            )
        layer.build()
        layer.codes.assign(ops.cast(codes, "uint8"))
        layer.decoder.codebooks.assign(
            ops.reshape(codebooks, (num_codebooks * codebook_size, output_dim))
        )
        return layer
