import keras
from keras import ops

from keras_dccl.layers.gumbel_softmax import add_temperature_weight
from keras_dccl.layers.gumbel_softmax import first_max_index
from keras_dccl.layers.gumbel_softmax import gumbel_softmax
from keras_dccl.layers.gumbel_softmax import one_hot
from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.argument_checks import check_positive_float


@keras.saving.register_keras_serializable(package="keras_dccl")
class GumbelSoftmaxEncoder(keras.layers.Layer):
    """Encodes vectors into discrete codes with the Gumbel-softmax trick.

    This is the encoder of Shu & Nakayama (2018). Each input vector gets
    `num_codebooks` (the paper's M) codes, each a choice among
    `codebook_size` (the paper's K) entries. The layer computes
    `a = Dense(M * K)(Dense(hidden_units, activation="tanh")(inputs))` and
    the code logits `log(softplus(a) + epsilon)`, reshaped to `(M, K)`.

    In training mode, the output is a relaxed Gumbel-softmax sample
    `softmax((logits + g) / temperature)` with Gumbel noise `g`, so that
    gradients flow to the encoder. With `straight_through=True`, the forward
    pass returns the one-hot of the sample's largest entry instead, and the
    gradients are those of the relaxed sample. In inference mode, the output
    is the one-hot of the largest noiseless logit, without noise.

    The temperature (the paper's tau) is held in a non-trainable float32
    weight, `encoder.temperature`, available once the layer is built, so that
    it can be annealed during training without retracing, e.g. with
    `encoder.temperature.assign(0.5)`. `get_config()` keeps the constructor
    value.

    The one-hot of the largest logit is computed without `argmax`, which has
    no portable TFLite kernel: among tied largest logits, the smallest index
    wins. `compute_codes()` returns the same choice as integer codes.

    Args:
        num_codebooks: Integer. Number of codes per vector (M).
        codebook_size: Integer, at least 2. Number of entries per codebook (K).
        hidden_units: Optional integer. Units of the hidden `tanh` layer.
            Defaults to `num_codebooks * codebook_size // 2`.
        temperature: Positive float. Initial Gumbel-softmax temperature (tau).
            Defaults to `1.0`.
        straight_through: Boolean. Whether training outputs are one-hot in the
            forward pass, with the relaxed sample's gradients.
            Defaults to `False`.
        epsilon: Positive float. Small constant that keeps the logarithms
            finite. Defaults to `1e-8`.
        kernel_initializer: Initializer for the kernels of both dense layers.
            Defaults to `"glorot_uniform"`.
        seed: Integer, optional random seed for the Gumbel noise.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Float tensor of shape `(..., input_dim)`.
        training: Python boolean. Whether to output relaxed Gumbel-softmax
            samples (training) or the one-hot of the largest logits
            (inference).

    Input shape:
        Tensor of shape `(..., input_dim)`, e.g. `(batch_size, input_dim)`.

    Output shape:
        Tensor of shape `(..., num_codebooks, codebook_size)` whose last axis
        sums to one.

    Example:

    >>> encoder = keras_dccl.layers.GumbelSoftmaxEncoder(
    ...     num_codebooks=8, codebook_size=16)
    >>> vectors = np.random.rand(4, 300).astype("float32")
    >>> keras.ops.shape(encoder(vectors))
    (4, 8, 16)
    >>> keras.ops.shape(encoder.compute_codes(vectors))
    (4, 8)

    Reference:
        - [Shu & Nakayama, "Compressing Word Embeddings via Deep
          Compositional Code Learning", ICLR 2018](
          https://arxiv.org/abs/1711.01068)
    """

    def __init__(
        self,
        num_codebooks,
        codebook_size,
        hidden_units=None,
        temperature=1.0,
        straight_through=False,
        epsilon=1e-8,
        kernel_initializer="glorot_uniform",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_codebooks = check_integer("num_codebooks", num_codebooks)
        self.codebook_size = check_integer(
            "codebook_size", codebook_size, minimum=2
        )
        if hidden_units is None:
            hidden_units = self.num_codebooks * self.codebook_size // 2
        self.hidden_units = check_integer("hidden_units", hidden_units)
        self.initial_temperature = check_positive_float(
            "temperature", temperature
        )
        self.straight_through = bool(straight_through)
        self.epsilon = check_positive_float("epsilon", epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.hidden_dense = keras.layers.Dense(
            self.hidden_units,
            activation="tanh",
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="hidden_dense",
        )
        self.logits_dense = keras.layers.Dense(
            self.num_codebooks * self.codebook_size,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="logits_dense",
        )

    def build(self, input_shape):
        self.hidden_dense.build(input_shape)
        self.logits_dense.build((*input_shape[:-1], self.hidden_units))
        self.temperature = add_temperature_weight(
            self, "temperature", self.initial_temperature
        )

    def call(self, inputs, training=None):
        logits = self._code_logits(inputs)
        if training:
            samples = gumbel_softmax(
                logits,
                self.temperature,
                self.seed_generator,
                self.epsilon,
                hard=self.straight_through,
            )
            return ops.cast(samples, self.compute_dtype)
        codes = first_max_index(logits)
        return ops.cast(one_hot(codes, self.codebook_size), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_codebooks, self.codebook_size)

    def get_config(self):
        base_config = super().get_config()
        config = {
            "num_codebooks": self.num_codebooks,
            "codebook_size": self.codebook_size,
            "hidden_units": self.hidden_units,
            "temperature": self.initial_temperature,
            "straight_through": self.straight_through,
            "epsilon": self.epsilon,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "seed": self.seed,
        }
        return {**base_config, **config}

    def compute_codes(self, inputs):
        """Returns the inference codes of `inputs`.

        Args:
            inputs: Float tensor of shape `(..., input_dim)`.

        Returns:
            An int32 tensor of shape `(..., num_codebooks)` with values
            in `[0, codebook_size)`: the position of the largest logit of each
            codebook (the smallest such position on ties). The inference
            output of the layer is its one-hot.
        """
        if not self.built:
            self.build(tuple(inputs.shape))
        return first_max_index(self._code_logits(inputs))

    def temperature_variables(self):
        """Returns the layer's temperature variables, for annealing.

        Returns:
            `[encoder.temperature]` once the layer is built, `[]` before.
            `keras_dccl.callbacks.TemperatureSchedule` assigns every
            variable that the layers of a model return here.
        """
        return [self.temperature] if self.built else []

    def _code_logits(self, inputs):
        activations = self.logits_dense(self.hidden_dense(inputs))
        activations = ops.cast(activations, "float32")
        logits = ops.log(ops.softplus(activations) + self.epsilon)
        shape = (
            *ops.shape(inputs)[:-1],
            self.num_codebooks,
            self.codebook_size,
        )
        return ops.reshape(logits, shape)
