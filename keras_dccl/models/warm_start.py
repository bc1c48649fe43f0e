"""Fit a code embedding to reproduce its own starting vectors."""

import keras
import numpy as np

from keras_dccl.callbacks.temperature_schedule import TemperatureSchedule
from keras_dccl.layers.code_embedding_base import check_training_layer
from keras_dccl.utils.argument_checks import check_integer


def warm_start(layer, epochs=10, batch_size=128, verbose=0):
    """Fits a training-form code embedding to reproduce its `embeddings`.

    Trains the encoder and the codebooks (and whatever else the layer
    trains, such as the adaptive layer's code lengths and size penalty) to
    minimise the squared error between each word's output and its
    embedding, with the Gumbel-softmax temperature annealed from 1 to 0.1
    by a `TemperatureSchedule`, while the embeddings stay as they are.
    Calling it on a layer made with `from_pretrained` before training it for
    a task starts the task from codes that approximate the pretrained
    vectors instead of random ones: the first epochs then learn the task
    rather than wait for the encoder to make its codes confident.

    The fit changes the layer's weights (that is its purpose) in a model of
    its own, so the models that hold the layer need no new compile.

    Args:
        layer: A built `CodebookEmbedding` or `AdaptiveCodebookEmbedding`
            in the training form (`learn_codes=True`).
        epochs: Integer. Passes over all `input_dim` words. Defaults to
            `10`.
        batch_size: Integer. Words per step. Defaults to `128`.
        verbose: Verbosity of `keras.Model.fit`. Defaults to `0`.

    Returns:
        The `keras.callbacks.History` of the fit.

    Example:

    ```python
    layer = keras_dccl.CodebookEmbedding.from_pretrained(vectors)
    keras_dccl.models.warm_start(layer, epochs=10)
    ```
    """
    check_training_layer(layer, "warm_start")
    epochs = check_integer("epochs", epochs)
    batch_size = check_integer("batch_size", batch_size)
    word_ids = keras.Input((), dtype="int32")
    model = keras.Model(word_ids, layer(word_ids))
    trainable = layer.embeddings.trainable
    layer.embeddings.trainable = False
    try:
        model.compile(keras.optimizers.Adam(1e-3), "mse")
        return model.fit(
            np.arange(layer.input_dim, dtype="int32"),
            keras.ops.convert_to_numpy(layer.embeddings),
            batch_size=batch_size,
            epochs=epochs,
            callbacks=[TemperatureSchedule(1.0, 0.1)],
            verbose=verbose,
        )
    finally:
        layer.embeddings.trainable = trainable
