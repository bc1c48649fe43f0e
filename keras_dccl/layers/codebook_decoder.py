import keras
from keras import ops

from keras_dccl.utils.argument_checks import check_integer


@keras.saving.register_keras_serializable(package="keras_dccl")
class CodebookDecoder(keras.layers.Layer):
    """Sums one vector per codebook, chosen by codes, into an embedding.

    This is the decoder of Shu & Nakayama (2018). It holds `num_codebooks`
    (the paper's M) codebooks of `codebook_size` (the paper's K) vectors of
    size `output_dim`, stacked in one weight, `codebooks`, of shape
    `(num_codebooks * codebook_size, output_dim)`: codebook `m` is rows
    `m * codebook_size` to `(m + 1) * codebook_size - 1`.

    Integer inputs are codes: the output is the sum over `m` of row
    `m * codebook_size + codes[..., m]`. Float inputs are one-hot or relaxed
    code distributions: the output is their product with the codebooks, which
    is the same sum for one-hot inputs. The dtype of the inputs selects the
    form.

    The codebooks are read in the layer's compute dtype, and the output has
    that dtype.

    Args:
        num_codebooks: Integer. Number of codebooks (M).
        codebook_size: Integer, at least 2. Number of vectors per codebook (K).
        output_dim: Integer. Dimension of the vectors (the embedding size).
        codebooks_initializer: Initializer for the `codebooks` matrix (see
            `keras.initializers`). Defaults to
            `RandomUniform(minval=-0.01, maxval=0.01)`.
        codebooks_regularizer: Regularizer function applied to the
            `codebooks` matrix (see `keras.regularizers`).
        codebooks_constraint: Constraint function applied to the `codebooks`
            matrix (see `keras.constraints`).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Integer codes of shape `(..., num_codebooks)` with values in
            `[0, codebook_size)`, or float code distributions of shape
            `(..., num_codebooks, codebook_size)`.

    Input shape:
        Integer tensor `(..., num_codebooks)` or float tensor
        `(..., num_codebooks, codebook_size)`.

    Output shape:
        Tensor of shape `(..., output_dim)`.

    Example:

    >>> decoder = keras_dccl.layers.CodebookDecoder(
    ...     num_codebooks=8, codebook_size=16, output_dim=300)
    >>> codes = np.random.randint(0, 16, size=(4, 8))
    >>> keras.ops.shape(decoder(codes))
    (4, 300)

    Reference:
        - [Shu & Nakayama, "Compressing Word Embeddings via Deep
          Compositional Code Learning", ICLR 2018](
          https://arxiv.org/abs/1711.01068)
    """

    def __init__(
        self,
        num_codebooks,
        codebook_size,
        output_dim,
        codebooks_initializer=None,
        codebooks_regularizer=None,
        codebooks_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_codebooks = check_integer("num_codebooks", num_codebooks)
        self.codebook_size = check_integer(
            "codebook_size", codebook_size, minimum=2
        )
        self.output_dim = check_integer("output_dim", output_dim)
        if codebooks_initializer is None:
            # A new instance per layer: a shared default instance would give
            # every layer the same unseeded initial values.
            codebooks_initializer = keras.initializers.RandomUniform(
                minval=-0.01, maxval=0.01
            )
        self.codebooks_initializer = keras.initializers.get(
            codebooks_initializer
        )
        self.codebooks_regularizer = keras.regularizers.get(
            codebooks_regularizer
        )
        self.codebooks_constraint = keras.constraints.get(codebooks_constraint)
        self.autocast = False

    def build(self, input_shape=None):
        self.codebooks = self.add_weight(
            name="codebooks",
            shape=(self.num_codebooks * self.codebook_size, self.output_dim),
            initializer=self.codebooks_initializer,
            regularizer=self.codebooks_regularizer,
            constraint=self.codebooks_constraint,
        )

    def call(self, inputs):
        codebooks = ops.cast(self.codebooks, self.compute_dtype)
        if keras.backend.is_int_dtype(inputs.dtype):
            offsets = ops.arange(self.num_codebooks, dtype="int32")
            rows = ops.cast(inputs, "int32") + offsets * self.codebook_size
            return ops.sum(ops.take(codebooks, rows, axis=0), axis=-2)
        inputs = ops.cast(inputs, self.compute_dtype)
        flat_shape = (
            *ops.shape(inputs)[:-2],
            self.num_codebooks * self.codebook_size,
        )
        return ops.matmul(ops.reshape(inputs, flat_shape), codebooks)

    def compute_output_spec(self, inputs):
        if keras.backend.is_int_dtype(inputs.dtype):
            leading_shape = inputs.shape[:-1]
        else:
            leading_shape = inputs.shape[:-2]
        return keras.KerasTensor(
            (*leading_shape, self.output_dim), dtype=self.compute_dtype
        )

    def get_config(self):
        base_config = super().get_config()
        config = {
            "num_codebooks": self.num_codebooks,
            "codebook_size": self.codebook_size,
            "output_dim": self.output_dim,
            "codebooks_initializer": keras.initializers.serialize(
                self.codebooks_initializer
            ),
            "codebooks_regularizer": keras.regularizers.serialize(
                self.codebooks_regularizer
            ),
            "codebooks_constraint": keras.constraints.serialize(
                self.codebooks_constraint
            ),
        }
        return {**base_config, **config}
