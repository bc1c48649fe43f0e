import keras
import numpy as np
from keras import ops

from keras_dccl.layers.codebook_decoder import CodebookDecoder
from keras_dccl.layers.gumbel_softmax_encoder import GumbelSoftmaxEncoder
from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.argument_checks import check_positive_float


class _RandomCodes(keras.initializers.Initializer):
    """Random integer codes in `[0, codebook_size)`, deterministic by seed."""

    def __init__(self, codebook_size, seed=None):
        self.codebook_size = codebook_size
        self.seed = seed

    def __call__(self, shape, dtype=None):
        codes = keras.random.randint(
            shape, minval=0, maxval=self.codebook_size, seed=self.seed
        )
        return ops.cast(codes, dtype)


@keras.saving.register_keras_serializable(package="keras_dccl")
class CodebookEmbedding(keras.layers.Layer):
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
    its outputs equal those of the frozen form that `freeze_codes()` turns it
    into. `from_pretrained()` builds it from existing word vectors.

    Args:
        input_dim: Integer. Size of the vocabulary, i.e. maximum integer
            index + 1.
        output_dim: Integer. Dimension of the embedding.
        num_codebooks: Integer. Number of codes per word (M).
            Defaults to `32`.
        codebook_size: Integer between 2 and 256. Number of vectors per
            codebook (K); the codes are stored as uint8. Defaults to `16`.
        embeddings_initializer: Initializer for the `embeddings` matrix of
            the training form (see `keras.initializers`).
        codebooks_initializer: Initializer for the codebooks (see
            `keras.initializers`). Defaults to
            `RandomUniform(minval=-0.01, maxval=0.01)`.
        mask_zero: Boolean, whether or not the input value 0 is a special
            "padding" value that should be masked out, as in
            `keras.layers.Embedding`. If `True`, all subsequent layers in the
            model need to support masking, and index 0 cannot be used in the
            vocabulary (`input_dim` should equal size of vocabulary + 1).
        learn_codes: Boolean. Whether the layer takes the training form,
            which learns the codes, instead of the frozen form.
            Defaults to `False`.
        train_embeddings: Boolean. Whether the `embeddings` of the training
            form are trainable. Defaults to `True`.
        hidden_units: Optional integer. Hidden units of the encoder.
            Defaults to `num_codebooks * codebook_size // 2`.
        temperature: Positive float. Initial Gumbel-softmax temperature (the
            paper's tau) of the encoder. Defaults to `1.0`.
        straight_through: Boolean. Whether the encoder uses straight-through
            one-hot codes in training. Defaults to `False`.
        seed: Integer, optional random seed for the initial random codes and
            the Gumbel noise.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: Integer tensor of word indices, of any shape.
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
    layer.freeze_codes()
    ```

    `freeze_codes()` changes the layer in place, so a model that holds it
    keeps working, but its variables change: call `model.compile()` again
    (with a new optimizer) before `fit()`, `evaluate()` or `predict()`.

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
        embeddings_initializer="uniform",
        codebooks_initializer=None,
        mask_zero=False,
        learn_codes=False,
        train_embeddings=True,
        hidden_units=None,
        temperature=1.0,
        straight_through=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_dim = check_integer("input_dim", input_dim)
        self.output_dim = check_integer("output_dim", output_dim)
        self.num_codebooks = check_integer("num_codebooks", num_codebooks)
        self.codebook_size = check_integer(
            "codebook_size", codebook_size, minimum=2, maximum=256
        )
        if hidden_units is not None:
            hidden_units = check_integer("hidden_units", hidden_units)
        self.hidden_units = hidden_units
        self.temperature = check_positive_float("temperature", temperature)
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer
        )
        self.mask_zero = mask_zero
        self.supports_masking = mask_zero
        self.learn_codes = bool(learn_codes)
        self.train_embeddings = bool(train_embeddings)
        self.straight_through = bool(straight_through)
        self.seed = seed
        self.autocast = False
        self.decoder = CodebookDecoder(
            self.num_codebooks,
            self.codebook_size,
            self.output_dim,
            codebooks_initializer=codebooks_initializer,
            dtype=self.dtype_policy,
            name="decoder",
        )
        if self.learn_codes:
            self.encoder = GumbelSoftmaxEncoder(
                self.num_codebooks,
                self.codebook_size,
                hidden_units=hidden_units,
                temperature=temperature,
                straight_through=straight_through,
                seed=seed,
                dtype=self.dtype_policy,
                name="encoder",
            )

    @property
    def codebooks_initializer(self):
        return self.decoder.codebooks_initializer

    def build(self, input_shape=None):
        if self.learn_codes:
            self.embeddings = self.add_weight(
                name="embeddings",
                shape=(self.input_dim, self.output_dim),
                initializer=self.embeddings_initializer,
                trainable=self.train_embeddings,
            )
            self.encoder.build((None, self.output_dim))
        else:
            self.codes = self.add_weight(
                name="codes",
                shape=(self.input_dim, self.num_codebooks),
                initializer=_RandomCodes(self.codebook_size, self.seed),
                dtype="uint8",
                trainable=False,
            )
        self.decoder.build()

    def call(self, inputs, training=None):
        if keras.backend.standardize_dtype(inputs.dtype) not in (
            "int32",
            "int64",
        ):
            inputs = ops.cast(inputs, "int32")
        if self.learn_codes:
            vectors = ops.take(self.embeddings, inputs, axis=0)
            vectors = ops.reshape(vectors, (-1, self.output_dim))
            codes = self.encoder(vectors, training=training)
            outputs = ops.reshape(
                self.decoder(codes), (*ops.shape(inputs), self.output_dim)
            )
        else:
            codes = ops.take(self.codes, inputs, axis=0)
            outputs = self.decoder(ops.cast(codes, "int32"))
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def get_config(self):
        base_config = super().get_config()
        config = {
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "num_codebooks": self.num_codebooks,
            "codebook_size": self.codebook_size,
            "embeddings_initializer": keras.initializers.serialize(
                self.embeddings_initializer
            ),
            "codebooks_initializer": keras.initializers.serialize(
                self.codebooks_initializer
            ),
            "mask_zero": self.mask_zero,
            "learn_codes": self.learn_codes,
            "train_embeddings": self.train_embeddings,
            "hidden_units": self.hidden_units,
            "temperature": self.temperature,
            "straight_through": self.straight_through,
            "seed": self.seed,
        }
        return {**base_config, **config}

    def freeze_codes(self, batch_size=4096):
        """Turns the built training form into the frozen form, in place.

        Computes the hard codes of all `input_dim` embeddings with the
        encoder, stores them in a new uint8 weight `codes`, removes the
        `embeddings` weight and the `encoder` sub-layer, and sets
        `learn_codes` to `False`. The inference outputs do not change, and the
        layer then saves and loads as a frozen-form layer. Call
        `model.compile()` again (with a new optimizer) before using a model
        that holds the layer.

        Args:
            batch_size: Integer. Number of embeddings encoded at a time.
                Defaults to `4096`.
        """
        if not self.learn_codes:
            raise ValueError(
                "`freeze_codes()` needs a layer in the training form, but the "
                f"codes of layer '{self.name}' are already frozen. "
                f"Received: learn_codes={self.learn_codes}"
            )
        if not self.built:
            raise ValueError(
                "`freeze_codes()` needs a built layer: call the layer or "
                f"build it first. Received: built={self.built}"
            )
        codes = self.compute_codes(batch_size)
        self._tracker.unlock()
        del self.embeddings
        self._tracker.untrack(self.encoder)
        del self.encoder
        self.learn_codes = False
        self.codes = self.add_weight(
            name="codes",
            shape=(self.input_dim, self.num_codebooks),
            initializer="zeros",
            dtype="uint8",
            trainable=False,
        )
        self.codes.assign(codes)
        self._tracker.lock()

    def compute_codes(self, batch_size=4096):
        """Returns the integer codes of all words, without changing the layer.

        In the frozen form, the stored codes; in the training form, the hard
        codes the encoder gives the current embeddings (those the inference
        output uses, and that `freeze_codes()` would store).

        Args:
            batch_size: Integer. Number of embeddings encoded at a time.
                Defaults to `4096`.

        Returns:
            A uint8 NumPy array of shape `(input_dim, num_codebooks)`.
        """
        if not self.built:
            raise ValueError(
                "`compute_codes()` needs a built layer: call the layer or "
                f"build it first. Received: built={self.built}"
            )
        if not self.learn_codes:
            return ops.convert_to_numpy(self.codes)
        batch_size = check_integer("batch_size", batch_size)
        parts = [
            ops.convert_to_numpy(
                self.encoder.compute_codes(
                    self.embeddings[start : start + batch_size]
                )
            )
            for start in range(0, self.input_dim, batch_size)
        ]
        return np.concatenate(parts).astype("uint8")

    def compute_codebooks(self):
        """Returns the codebooks as a float32 NumPy array (M, K, D)."""
        table = ops.convert_to_numpy(
            ops.cast(self.decoder.codebooks, "float32")
        )
        return table.reshape(
            self.num_codebooks, self.codebook_size, self.output_dim
        )

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

    @classmethod
    def from_pretrained(
        cls,
        vectors,
        num_codebooks=32,
        codebook_size=16,
        train_embeddings=False,
        **kwargs,
    ):
        """Builds a training-form layer whose embeddings are `vectors`.

        Args:
            vectors: Float array of shape `(input_dim, output_dim)`.
            num_codebooks: Integer, as in the constructor.
            codebook_size: Integer, as in the constructor.
            train_embeddings: Boolean. Whether `vectors` are fine-tuned.
                Defaults to `False`.
            **kwargs: Other constructor arguments, such as `mask_zero`.

        Returns:
            A built `CodebookEmbedding` with `learn_codes=True`. Its config
            does not hold `vectors`; its weights do.
        """
        if len(vectors.shape) != 2:
            raise ValueError(
                "`vectors` must have shape (input_dim, output_dim). "
                f"Received: vectors.shape={vectors.shape}"
            )
        input_dim, output_dim = vectors.shape
        layer = cls(
            input_dim,
            output_dim,
            num_codebooks=num_codebooks,
            codebook_size=codebook_size,
            learn_codes=True,
            train_embeddings=train_embeddings,
            **kwargs,
        )
        layer.build()
        layer.embeddings.assign(vectors)
        return layer
