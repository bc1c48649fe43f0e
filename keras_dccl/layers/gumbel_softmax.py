"""Gumbel-softmax sampling and export-safe one-hots, shared by the layers.

No `ops.argmax`: its TensorFlow export is an op that phones cannot run, so the
largest entry is found with equality to the maximum.
"""

import keras
from keras import ops


def first_max_index(values):
    """Int32 index of the first largest entry along the last axis.

    `is_max * (size - k)` is largest at the smallest maximal position `k`.
    """
    size = values.shape[-1]
    is_max = ops.equal(values, ops.max(values, axis=-1, keepdims=True))
    reversed_positions = size - ops.arange(size, dtype="int32")
    return size - ops.max(ops.cast(is_max, "int32") * reversed_positions, -1)


def one_hot(indices, size):
    """Float32 one-hot of integer `indices`, by equality (export-safe)."""
    positions = ops.arange(size, dtype="int32")
    return ops.cast(
        ops.equal(ops.expand_dims(indices, -1), positions), "float32"
    )


def gumbel_softmax(logits, temperature, seed_generator, epsilon, hard=False):
    """Relaxed samples `softmax((logits + g) / temperature)`, g ~ Gumbel.

    With `hard=True`, straight-through: the one-hot of the sample forward,
    the relaxed sample's gradient backward.
    """
    uniform = keras.random.uniform(ops.shape(logits), seed=seed_generator)
    gumbel = -ops.log(-ops.log(uniform + epsilon) + epsilon)
    samples = ops.softmax((logits + gumbel) / temperature)
    if hard:
        one_hots = one_hot(first_max_index(samples), logits.shape[-1])
        samples = samples + ops.stop_gradient(one_hots - samples)
    return samples


def annealed_temperature(start, end, epoch, epochs):
    """The temperature of `epoch` (from 0) annealed from `start` to `end`.

    Geometric: `start` in epoch 0, `end` in epoch `epochs - 1` and after.
    """
    progress = min(epoch / max(epochs - 1, 1), 1.0)
    return start * (end / start) ** progress


def add_temperature_weight(layer, name, value):
    """A non-trainable float32 scalar weight holding a temperature.

    A weight, not a Python float, so that `TemperatureSchedule` can assign
    it between epochs without retracing, and so that it is saved with the
    model. Never autocast: the temperature stays float32 under mixed
    precision.
    """
    return layer.add_weight(
        name=name,
        shape=(),
        initializer=keras.initializers.Constant(value),
        dtype="float32",
        trainable=False,
        autocast=False,
    )
