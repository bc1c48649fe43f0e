import warnings

import keras
import numpy as np
from keras import ops

from keras_dccl.layers.codebook_decoder import CodebookDecoder
from keras_dccl.layers.gumbel_softmax import annealed_temperature
from keras_dccl.layers.gumbel_softmax_encoder import GumbelSoftmaxEncoder
from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.argument_checks import check_positive_float


class RandomCodes(keras.initializers.Initializer):
    """Random integers in `[0, maxval)`, deterministic given `seed`."""

    def __init__(self, maxval, seed=None):
        self.maxval = maxval
        self.seed = seed

    def __call__(self, shape, dtype=None):
        codes = keras.random.randint(
            shape, minval=0, maxval=self.maxval, seed=self.seed
        )
        return ops.cast(codes, dtype)


# The `Args` entries of the arguments both layers take, formatted into their
# class docstrings by `shared_docstring`: `{learned}` names what the training
# form learns, `{learn_codes}` is the class's default form.
DIMENSION_ARGS = """\
        input_dim: Integer. Size of the vocabulary, i.e. maximum integer
            index + 1.
        output_dim: Integer. Dimension of the embedding."""
SHARED_ARGS = """\
        codebook_size: Integer between 2 and 256. Number of vectors per
            codebook (K); the codes are stored as uint8. Defaults to `16`.
        embeddings_initializer: Initializer for the `embeddings` matrix of
            the training form (see `keras.initializers`). Defaults to
            `"uniform"`.
        codebooks_initializer: Initializer for the codebooks (see
            `keras.initializers`). Defaults to
            `RandomUniform(minval=-0.01, maxval=0.01)`.
        mask_zero: Boolean, whether or not the input value 0 is a special
            "padding" value that should be masked out, as in
            `keras.layers.Embedding`. If `True`, all subsequent layers in the
            model need to support masking, and index 0 cannot be used in the
            vocabulary (`input_dim` should equal size of vocabulary + 1).
        learn_codes: Boolean. Whether the layer takes the training form,
            which learns the {learned}, instead of the frozen form.
            Defaults to `{learn_codes}`.
        train_embeddings: Boolean. Whether the `embeddings` of the training
            form are trainable. Defaults to `True`.
        hidden_units: Optional integer. Hidden units of the encoder.
            Defaults to half the number of codebooks times `codebook_size`.
        temperature: Positive float. Initial Gumbel-softmax temperature (the
            papers' tau) of the {learned}. Defaults to `1.0`.
        seed: Integer, optional random seed for the Gumbel noise and the
            initial random {learned} of the frozen form."""


def shared_docstring(learned):
    """Formats `DIMENSION_ARGS` and `SHARED_ARGS` into a class docstring.

    Args:
        learned: String. What the training form learns, e.g. `"codes"`.
    """

    def decorate(cls):
        if cls.__doc__:  # None under `python -OO`.
            shared = SHARED_ARGS.format(
                learned=learned, learn_codes=cls._default_learn_codes
            )
            # The placeholders stand indented like the entries around them.
            cls.__doc__ = cls.__doc__.format(
                dimension_args=DIMENSION_ARGS.lstrip(),
                shared_args=shared.lstrip(),
            )
        return cls

    return decorate


class CodeEmbeddingBase(keras.layers.Layer):
    """What the embeddings that store each word as codes have in common.

    Not a layer to use directly: `CodebookEmbedding` and
    `AdaptiveCodebookEmbedding` build on it. It holds the arguments both
    take, with their defaults here and their docs in `SHARED_ARGS`, the
    `decoder` sub-layer (the codebooks), and in the training form
    (`learn_codes=True`) the float `embeddings` and the `encoder` sub-layer
    that turns them into codes. `frozen_copy()` (which
    `keras_dccl.models.freeze_codes` calls) makes the frozen form of a
    training-form layer.

    A subclass declares:
        - `_default_learn_codes`: the form it takes when `learn_codes` is
          not given;
        - `_frozen_weights()`: `(name, shape, random_initializer)` of each
          uint8 weight of the frozen form;
        - `_frozen_values(batch_size)`: their values computed from the
          training form;
        - `_training_only`: the names of the attributes (weights, sub-layers,
          seed generators) that the frozen form drops;
        - optionally `_add_weights()`: its own other weights, those of the
          frozen form under the same names as in the training form.
    """

    _default_learn_codes = False
    _training_only = ("embeddings", "encoder")

    def __init__(
        self,
        input_dim,
        output_dim,
        num_codebooks,
        codebook_size,
        embeddings_initializer="uniform",
        codebooks_initializer=None,
        mask_zero=False,
        learn_codes=None,
        train_embeddings=True,
        hidden_units=None,
        temperature=1.0,
        straight_through=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if learn_codes is None:
            learn_codes = self._default_learn_codes
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
            self._add_frozen_weights(random=True)
        self._add_weights()
        self.decoder.build()

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
            "seed": self.seed,
        }
        return {**base_config, **config}

    def freeze_codes(self, batch_size=4096):
        """Deprecated: use `keras_dccl.models.freeze_codes(layer_or_model)`.

        That function returns a new frozen layer (or a new model) and
        leaves this one as it is. This method, kept for one release, turns
        the built training form into the frozen form in place, through
        Keras internals: a model that holds the layer must be compiled
        again (with a new optimizer) before it is used.

        Args:
            batch_size: Integer. Number of embeddings encoded at a time.
                Defaults to `4096`.
        """
        _deprecated("layer.freeze_codes()", "freeze_codes(layer_or_model)")
        check_training_layer(self, "freeze_codes")
        values = self._frozen_values(batch_size)
        # Keras has no public way to drop a built layer's variables and
        # sub-layers: the new function makes a new layer instead.
        self._tracker.unlock()
        for name in self._training_only:
            part = getattr(self, name)
            if not isinstance(part, keras.Variable):
                self._tracker.untrack(part)
            delattr(self, name)
        self.learn_codes = False
        self._add_frozen_weights(random=False)
        for name, value in values.items():
            getattr(self, name).assign(value)
        self._tracker.lock()

    def warm_start(self, epochs=10, batch_size=128, verbose=0):
        """Deprecated: use `keras_dccl.models.warm_start(layer)`.

        Kept for one release, with the same arguments and result.
        """
        _deprecated("layer.warm_start()", "warm_start(layer)")
        check_training_layer(self, "warm_start")
        epochs = check_integer("epochs", epochs)
        batch_size = check_integer("batch_size", batch_size)

        def anneal(epoch, logs):
            temperature = annealed_temperature(1.0, 0.1, epoch, epochs)
            for variable in self.temperature_variables():
                variable.assign(temperature)

        word_ids = keras.Input((), dtype="int32")
        model = keras.Model(word_ids, self(word_ids))
        trainable = self.embeddings.trainable
        self.embeddings.trainable = False
        try:
            model.compile(keras.optimizers.Adam(1e-3), "mse")
            return model.fit(
                np.arange(self.input_dim, dtype="int32"),
                ops.convert_to_numpy(self.embeddings),
                batch_size=batch_size,
                epochs=epochs,
                callbacks=[
                    keras.callbacks.LambdaCallback(on_epoch_begin=anneal)
                ],
                verbose=verbose,
            )
        finally:
            self.embeddings.trainable = trainable

    def compute_codes(self, batch_size=4096):
        """Returns the integer codes of all words, without changing the layer.

        In the frozen form, the stored codes; in the training form, the hard
        codes the encoder gives the current embeddings (those the inference
        output uses, and that `freeze_codes` would store).

        Args:
            batch_size: Integer. Number of embeddings encoded at a time.
                Defaults to `4096`.

        Returns:
            A uint8 NumPy array of shape `(input_dim, num_codebooks)`.
        """
        self._check_built("compute_codes")
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

    def temperature_variables(self):
        """Returns the layer's Gumbel-softmax temperature variables.

        Returns:
            In the training form, once the layer is built, the encoder's
            `temperature` (and the adaptive layer's `length_temperature`);
            `[]` in the frozen form or before the layer is built.
            `keras_dccl.callbacks.TemperatureSchedule` assigns every
            variable that the layers of a model return here.
        """
        if not (self.built and self.learn_codes):
            return []
        return self.encoder.temperature_variables()

    def compute_codebooks(self):
        """Returns the codebooks as a float32 NumPy array (M, K, D)."""
        table = ops.convert_to_numpy(
            ops.cast(self.decoder.codebooks, "float32")
        )
        return table.reshape(
            self.num_codebooks, self.codebook_size, self.output_dim
        )

    @classmethod
    def from_pretrained(cls, vectors, train_embeddings=False, **kwargs):
        """Builds a training-form layer whose embeddings are `vectors`.

        Args:
            vectors: Float array of shape `(input_dim, output_dim)`.
            train_embeddings: Boolean. Whether `vectors` are fine-tuned.
                Defaults to `False`.
            **kwargs: Other constructor arguments, such as `num_codebooks`,
                `code_lengths`, `codebook_size` or `mask_zero`.

        Returns:
            A built layer with `learn_codes=True`. Its config does not hold
            `vectors`; its weights do.
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
            learn_codes=True,
            train_embeddings=train_embeddings,
            **kwargs,
        )
        layer.build()
        layer.embeddings.assign(vectors)
        return layer

    def _ids(self, inputs):
        """Integer ids as int32 or int64, whatever the input dtype."""
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if dtype not in ("int32", "int64"):
            inputs = ops.cast(inputs, "int32")
        return inputs

    def _add_weights(self):
        """A subclass's own weights, made after those of either form."""

    def _add_frozen_weights(self, random):
        for name, shape, random_initializer in self._frozen_weights():
            weight = self.add_weight(
                name=name,
                shape=shape,
                initializer=random_initializer if random else "zeros",
                dtype="uint8",
                trainable=False,
            )
            setattr(self, name, weight)

    def _check_training_form(self, method):
        if not self.learn_codes:
            raise ValueError(
                f"`{method}()` needs a layer in the training form, but the "
                f"codes of layer '{self.name}' are already frozen. "
                f"Received: learn_codes={self.learn_codes}"
            )

    def _check_built(self, method):
        if not self.built:
            raise ValueError(
                f"`{method}()` needs a built layer: call the layer or "
                f"build it first. Received: built={self.built}"
            )


def check_training_layer(layer, function):
    """Raises unless `layer` is a built code embedding in the training form."""
    if not isinstance(layer, CodeEmbeddingBase):
        raise ValueError(
            f"`{function}()` needs a CodebookEmbedding or "
            "AdaptiveCodebookEmbedding layer. Received: "
            f"layer={type(layer).__name__}"
        )
    layer._check_training_form(function)
    layer._check_built(function)


def frozen_copy(layer, batch_size=4096):
    """Returns a new frozen-form layer with the inference outputs of `layer`.

    The strip pattern: the new layer is made from `layer`'s config with
    `learn_codes=False`, its codes (and whatever else the frozen form
    stores) are computed from `layer`, and its other weights (codebooks,
    exact rows, fallback) are copied from `layer`'s weights of the same
    name. `layer` is not changed.

    Args:
        layer: A built training-form `CodebookEmbedding` or
            `AdaptiveCodebookEmbedding`.
        batch_size: Integer. Number of embeddings encoded at a time.
            Defaults to `4096`.
    """
    check_training_layer(layer, "freeze_codes")
    values = layer._frozen_values(batch_size)
    config = {**layer.get_config(), "learn_codes": False}
    frozen = layer.__class__.from_config(config)
    frozen.build()
    # Copies of the values, as in `get_weights()`: the two layers must not
    # share a buffer (jax donates them to its training step).
    kept = {_name_in(layer, weight): weight.numpy() for weight in layer.weights}
    for weight in frozen.weights:
        name = _name_in(frozen, weight)
        weight.assign(values[name] if name in values else kept[name])
    return frozen


def _name_in(layer, weight):
    """The path of `weight` below `layer`, e.g. `"decoder/codebooks"`."""
    return weight.path[len(layer.path) + 1 :]


def _deprecated(old, new):
    warnings.warn(
        f"`{old}` is deprecated and will be removed in the next release: "
        f"use `keras_dccl.models.{new}` instead.",
        DeprecationWarning,
        stacklevel=3,
    )
