"""Gumbel-softmax code learning (Shu & Nakayama, ICLR 2018) as a Keras model.

An autoencoder `GumbelSoftmaxEncoder -> CodebookDecoder` learns to reproduce
each vector; the hard codes are read off the encoder at the end. Training is
driven epoch by epoch so that the state can be checkpointed and resumed
exactly: the shuffling comes from a NumPy generator kept in the checkpoint
and the Gumbel noise from the encoder's seed generator, itself a weight.
"""

import keras
import numpy as np

from keras_dccl.layers.codebook_decoder import CodebookDecoder
from keras_dccl.layers.gumbel_softmax_encoder import GumbelSoftmaxEncoder
from keras_dccl.utils.reconstruct import reconstruct


def half_sum_squared_error(y_true, y_pred):
    """The paper's loss: 0.5 * sum of squared errors of each row."""
    return 0.5 * keras.ops.sum(keras.ops.square(y_pred - y_true), axis=-1)


def temperature_at(settings, epoch):
    """Geometric interpolation from start to end temperature."""
    if settings.epochs <= 1:
        return settings.start_temperature
    fraction = epoch / (settings.epochs - 1)
    ratio = settings.end_temperature / settings.start_temperature
    return settings.start_temperature * ratio**fraction


class GumbelCodeLearner:
    """The autoencoder, its optimizer and its resumable training state."""

    def __init__(self, dim, num_codebooks, codebook_size, settings, seed):
        self.settings = settings
        uniform = keras.initializers.RandomUniform(
            -settings.init_scale, settings.init_scale, seed=seed
        )
        self.encoder = GumbelSoftmaxEncoder(
            num_codebooks,
            codebook_size,
            temperature=settings.start_temperature,
            straight_through=settings.straight_through,
            kernel_initializer=uniform,
            seed=seed,
        )
        self.decoder = CodebookDecoder(
            num_codebooks,
            codebook_size,
            dim,
            codebooks_initializer=keras.initializers.RandomUniform(
                -settings.init_scale, settings.init_scale, seed=seed + 1
            ),
        )
        inputs = keras.Input((dim,))
        self.model = keras.Model(inputs, self.decoder(self.encoder(inputs)))
        self.model.compile(
            optimizer=keras.optimizers.Adam(
                settings.learning_rate,
                epsilon=1e-8,
                global_clipnorm=settings.global_clipnorm,
            ),
            loss=half_sum_squared_error,
        )
        self.model.optimizer.build(self.model.trainable_variables)

    @property
    def codebooks(self):
        num_codebooks = self.encoder.num_codebooks
        table = keras.ops.convert_to_numpy(self.decoder.codebooks)
        return table.reshape(num_codebooks, -1, table.shape[-1])

    def set_codebooks(self, codebooks):
        self.decoder.codebooks.assign(
            codebooks.reshape(-1, codebooks.shape[-1])
        )

    def codes(self, vectors, batch_size=8192):
        """Hard codes int32 (N, M) from the encoder, without noise."""
        parts = [
            keras.ops.convert_to_numpy(
                self.encoder.compute_codes(vectors[start : start + batch_size])
            )
            for start in range(0, len(vectors), batch_size)
        ]
        return np.concatenate(parts).astype(np.int32)

    def mean_distance(self, vectors, weights=None):
        """Mean (or weighted mean) Euclidean distance of the hard codes."""
        residual = vectors - reconstruct(self.codes(vectors), self.codebooks)
        distances = np.linalg.norm(residual, axis=1)
        if weights is None or not weights.sum() > 0:
            return float(distances.mean())
        return float(np.average(distances, weights=weights))

    def train_epoch(self, vectors, epoch, rng, weights=None):
        """One epoch over `vectors` in an order drawn from `rng`."""
        self.encoder.temperature.assign(temperature_at(self.settings, epoch))
        order = rng.permutation(len(vectors))
        shuffled = vectors[order]
        history = self.model.fit(
            shuffled,
            shuffled,
            sample_weight=None if weights is None else weights[order],
            batch_size=self.settings.batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        return float(history.history["loss"][-1])

    def get_state(self):
        """Weights and optimizer variables, as a list of numpy arrays."""
        return [
            keras.ops.convert_to_numpy(variable)
            for variable in self._all_variables()
        ]

    def set_state(self, arrays):
        variables = self._all_variables()
        if len(arrays) != len(variables):
            raise ValueError(
                f"The checkpoint holds {len(arrays)} training arrays; this "
                f"model has {len(variables)}."
            )
        for variable, value in zip(variables, arrays):
            variable.assign(value)

    def _all_variables(self):
        return list(self.model.variables) + list(self.model.optimizer.variables)
