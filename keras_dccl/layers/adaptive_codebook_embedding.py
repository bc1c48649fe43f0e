import math
import numbers

import keras
import numpy as np
from keras import ops

from keras_dccl.layers.code_embedding_base import CodeEmbeddingBase
from keras_dccl.layers.code_embedding_base import RandomCodes
from keras_dccl.layers.code_embedding_base import shared_docstring
from keras_dccl.layers.gumbel_softmax import add_temperature_weight
from keras_dccl.layers.gumbel_softmax import first_max_index
from keras_dccl.layers.gumbel_softmax import gumbel_softmax
from keras_dccl.layers.gumbel_softmax import one_hot
from keras_dccl.utils.argument_checks import check_non_negative_float
from keras_dccl.utils.argument_checks import check_positive_float


@keras.saving.register_keras_serializable(package="keras_dccl")
@shared_docstring(learned="codes and lengths")
class AdaptiveCodebookEmbedding(CodeEmbeddingBase):
    """Compressed embedding whose words each learn their own code length.

    A drop-in replacement for `keras.layers.Embedding` in which, as in
    `CodebookEmbedding`, a word's embedding is a sum of codebook vectors
    chosen by its codes (Shu & Nakayama, 2018), but each word chooses how
    many codes it uses among `code_lengths`, end to end for the downstream
    task, as proposed by Kim, Kim & Lee (2020). The design here is ours.

    The codes are prefix codes: the layer holds `max(code_lengths)` codebooks
    of `codebook_size` (the papers' K) vectors, and a word of length `l` uses
    the first `l` of them, so that all lengths share one set of codebooks.
    A word of length 0 uses no codebook but one shared trainable vector,
    `fallback`, initialized to zeros. The layer can take two forms.

    The training form (`learn_codes=True`, the default) holds full float
    `embeddings`, which a straight-through `GumbelSoftmaxEncoder`, `encoder`,
    turns into codes for all `max(code_lengths)` codebooks, and a trainable
    weight `length_logits` of shape `(input_dim, len(code_lengths))`. The
    length of a word is a straight-through Gumbel-softmax sample over its
    length logits in training and the choice of its largest length logit in
    inference. The output mixes, by the length sample, the sums of the first
    `l` codebook vectors (`fallback` for `l = 0`); as the sample is one-hot
    in the forward pass, this is the vector of the sampled length, with the
    gradients of the relaxed sample. The length logits start at
    `0.01 * index` in `code_lengths`: the lengths are about equally likely,
    and ties of the inference choice go to the longest code.

    The temperature of the length sample is held in a non-trainable float32
    weight, `length_temperature`, as the encoder's is in
    `encoder.temperature`; `keras_dccl.callbacks.TemperatureSchedule` anneals
    both.

    With `target_bits_per_word`, the layer adds the loss
    `size_penalty * max(0, expected_bits / target_bits_per_word - 1) ** 2`,
    a squared hinge: it only penalizes a table larger than the target, and
    the task chooses the lengths below it. `expected_bits` is the average
    over all `input_dim` words (not the batch: it is the size of the table)
    of the expected code bits `sum_l softmax(length_logits)_l * l * log2(K)`.
    The bits count the codes only, not the choice of length.

    The frozen form (`learn_codes=False`), which
    `keras_dccl.models.freeze_codes` makes of a trained layer, is the
    compressed embedding: a uint8 weight `lengths`
    of shape `(input_dim,)`, the position of each word's length in
    `code_lengths`, a uint8 weight `codes` of shape
    `(input_dim, max(code_lengths))` (codes beyond a word's length are 0 and
    unused), the trainable codebooks of a `CodebookDecoder`, `decoder`, and
    `fallback`. Its outputs are those of the training form in inference.
    Built from scratch, the frozen form has random codes and lengths
    (deterministic given `seed`) and learns the codebooks and the fallback.

    Args:
        {dimension_args}
        code_lengths: Sequence of distinct integers >= 0 in increasing order,
            with at least one positive. The code lengths (numbers of
            codebooks, the papers' M) a word can choose among; 0 means the
            `fallback` vector. Defaults to `(0, 2, 4, 8, 16)`.
        {shared_args}
        target_bits_per_word: Optional positive float. The target of the size
            penalty, in code bits per word. Defaults to `None`: no penalty.
        size_penalty: Non-negative float. Weight of the size penalty.
            Defaults to `1.0`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Integer tensor of word indices, of any shape.
        training: Python boolean. In the training form, whether to sample
            codes and lengths (training) or choose them (inference). Ignored
            by the frozen form.

    Input shape:
        Tensor of any shape `(...)`, e.g. `(batch_size, input_length)`.

    Output shape:
        Tensor of shape `(..., output_dim)`, e.g.
        `(batch_size, input_length, output_dim)`.

    Example:

    Learn codes and lengths for a task within 24 bits per word, then freeze
    them:

    >>> layer = keras_dccl.AdaptiveCodebookEmbedding(
    ...     1000, 64, target_bits_per_word=24.0, seed=1)
    >>> model = keras.Sequential([
    ...     layer,
    ...     keras.layers.GlobalAveragePooling1D(),
    ...     keras.layers.Dense(1),
    ... ])
    >>> model.compile("adam", "mse")
    >>> input_array = np.random.randint(1000, size=(32, 10))
    >>> history = model.fit(input_array, np.ones((32, 1)), verbose=0)
    >>> frozen_model = keras_dccl.models.freeze_codes(model)
    >>> frozen_model.compile("adam", "mse")
    >>> frozen_model.predict(input_array, verbose=0).shape
    (32, 1)

    `keras_dccl.models.freeze_codes` returns a new model (given a layer, a
    new layer) with the same inference outputs and leaves the original as
    it is.

    Reference:
        - [Shu & Nakayama, "Compressing Word Embeddings via Deep
          Compositional Code Learning", ICLR 2018](
          https://arxiv.org/abs/1711.01068)
        - [Kim, Kim & Lee, "Adaptive Compression of Word Embeddings",
          ACL 2020](https://aclanthology.org/2020.acl-main.364/)
    """

    _default_learn_codes = True

    def __init__(
        self,
        input_dim,
        output_dim,
        code_lengths=(0, 2, 4, 8, 16),
        codebook_size=16,
        target_bits_per_word=None,
        size_penalty=1.0,
        **kwargs,
    ):
        code_lengths = _check_code_lengths(code_lengths)
        super().__init__(
            input_dim,
            output_dim,
            max(code_lengths),
            codebook_size,
            straight_through=True,
            **kwargs,
        )
        self.code_lengths = code_lengths
        if target_bits_per_word is not None:
            target_bits_per_word = check_positive_float(
                "target_bits_per_word", target_bits_per_word
            )
        self.target_bits_per_word = target_bits_per_word
        self.size_penalty = check_non_negative_float(
            "size_penalty", size_penalty
        )
        # The lengths draw their own random numbers, not those of the codes.
        self._length_seed = None if self.seed is None else self.seed + 1
        if self.learn_codes:
            self.seed_generator = keras.random.SeedGenerator(self._length_seed)
        # Row l: which codebooks a word of length `code_lengths[l]` uses,
        # then whether it uses the fallback.
        self._uses_table = np.array(
            [
                [m < length for m in range(self.num_codebooks)] + [length == 0]
                for length in self.code_lengths
            ],
            "float32",
        )
        self._bits_per_length = np.array(
            self.code_lengths, "float32"
        ) * math.log2(self.codebook_size)

    def _add_weights(self):
        if self.learn_codes:
            self.length_logits = self.add_weight(
                name="length_logits",
                shape=(self.input_dim, len(self.code_lengths)),
                initializer=_IncreasingLogits(),
                dtype="float32",
            )
            self.length_temperature = add_temperature_weight(
                self, "length_temperature", self.temperature
            )
        self.fallback = self.add_weight(
            name="fallback", shape=(self.output_dim,), initializer="zeros"
        )

    def call(self, inputs, training=None):
        inputs = self._ids(inputs)
        if self.learn_codes:
            vectors = ops.take(self.embeddings, inputs, axis=0)
            vectors = ops.reshape(vectors, (-1, self.output_dim))
            codes = ops.reshape(
                self.encoder(vectors, training=training),
                (*ops.shape(inputs), self.num_codebooks, self.codebook_size),
            )
            lengths = self._sample_lengths(inputs, training)
            uses = ops.matmul(lengths, self._uses_table)
            if self.target_bits_per_word is not None:
                self.add_loss(self._size_loss())
        else:
            codes = ops.one_hot(
                ops.cast(ops.take(self.codes, inputs, axis=0), "int32"),
                self.codebook_size,
            )
            lengths = ops.cast(ops.take(self.lengths, inputs, axis=0), "int32")
            uses = ops.take(self._uses_table, lengths, axis=0)
        uses = ops.cast(uses, self.compute_dtype)
        codes = ops.cast(codes, self.compute_dtype)
        fallback = ops.cast(self.fallback, self.compute_dtype)
        outputs = self.decoder(codes * uses[..., :-1, None])
        return outputs + uses[..., -1:] * fallback

    def get_config(self):
        config = super().get_config()
        config.update(
            code_lengths=list(self.code_lengths),
            target_bits_per_word=self.target_bits_per_word,
            size_penalty=self.size_penalty,
        )
        return config

    _training_only = (
        "embeddings",
        "length_logits",
        "length_temperature",
        "encoder",
        "seed_generator",
    )

    def _frozen_weights(self):
        return [
            (
                "lengths",
                (self.input_dim,),
                RandomCodes(len(self.code_lengths), self._length_seed),
            ),
            (
                "codes",
                (self.input_dim, self.num_codebooks),
                RandomCodes(self.codebook_size, self.seed),
            ),
        ]

    def _frozen_values(self, batch_size):
        return {
            "lengths": self.compute_lengths(),
            "codes": self.compute_codes(batch_size),
        }

    def temperature_variables(self):
        variables = super().temperature_variables()
        if self.built and self.learn_codes:
            variables.append(self.length_temperature)
        return variables

    def compute_lengths(self):
        """Returns each word's position in `code_lengths`.

        In the frozen form, the stored `lengths`; in the training form, the
        choice of the largest length logit (the first on ties), which the
        inference output uses and `freeze_codes` would store.

        Returns:
            A uint8 NumPy array of shape `(input_dim,)`.
        """
        self._check_built("compute_lengths")
        if not self.learn_codes:
            return ops.convert_to_numpy(self.lengths)
        choices = first_max_index(self.length_logits)
        return ops.convert_to_numpy(choices).astype("uint8")

    def compute_codes(self, batch_size=4096):
        """Returns the codes of all words, without changing the layer.

        In the frozen form, the stored `codes`; in the training form, the
        hard codes the encoder gives the current embeddings, with the codes
        beyond each word's length (`compute_lengths()`) set to 0, as
        `freeze_codes` would store them.

        Args:
            batch_size: Integer. Number of embeddings encoded at a time.
                Defaults to `4096`.

        Returns:
            A uint8 NumPy array of shape `(input_dim, max(code_lengths))`.
        """
        codes = super().compute_codes(batch_size)
        if not self.learn_codes:
            return codes
        used = self._uses_table[self.compute_lengths(), :-1]
        return (codes * used).astype("uint8")

    def expected_bits_per_word(self):
        """Returns the expected code bits per word of the training form.

        The average over all `input_dim` words of
        `sum_l softmax(length_logits)_l * code_lengths[l] * log2(K)`, which
        the size penalty compares with `target_bits_per_word`.
        """
        self._check_built("expected_bits_per_word")
        if not self.learn_codes:
            raise ValueError(
                "`expected_bits_per_word()` needs a layer in the training "
                "form; use `bits_per_word()` for a frozen layer. "
                f"Received: learn_codes={self.learn_codes}"
            )
        return float(ops.convert_to_numpy(self._expected_bits()))

    def bits_per_word(self):
        """Returns the code bits per word of the chosen lengths.

        The average over all `input_dim` words of
        `code_lengths[compute_lengths()] * log2(K)`.
        """
        return float(np.mean(self._bits_per_length[self.compute_lengths()]))

    def _sample_lengths(self, inputs, training):
        logits = ops.take(self.length_logits, inputs, axis=0)
        if not training:
            return one_hot(first_max_index(logits), logits.shape[-1])
        return gumbel_softmax(
            logits,
            self.length_temperature,
            self.seed_generator,
            self.encoder.epsilon,
            hard=True,
        )

    def _expected_bits(self):
        probabilities = ops.softmax(self.length_logits)
        return ops.mean(ops.matmul(probabilities, self._bits_per_length))

    def _size_loss(self):
        excess = ops.relu(self._expected_bits() / self.target_bits_per_word - 1)
        return self.size_penalty * ops.square(excess)


class _IncreasingLogits(keras.initializers.Initializer):
    """Length logits `0.01 * index`: nearly uniform, ties go to the longest."""

    def __call__(self, shape, dtype=None):
        steps = ops.arange(shape[-1], dtype=dtype) * 0.01
        # A new tensor, not a broadcast view: torch cannot update a view.
        return ops.zeros(shape, dtype=dtype) + steps


def _check_code_lengths(code_lengths):
    try:
        lengths = list(code_lengths)
    except TypeError:
        lengths = []
    integers = all(
        isinstance(length, numbers.Integral) and not isinstance(length, bool)
        for length in lengths
    )
    if (
        not lengths
        or not integers
        or lengths != sorted(set(lengths))
        or lengths[0] < 0
        or lengths[-1] < 1
    ):
        raise ValueError(
            "`code_lengths` must be a non-empty sequence of distinct integers "
            ">= 0 in increasing order, with at least one positive. "
            f"Received: code_lengths={code_lengths}"
        )
    return tuple(int(length) for length in lengths)
