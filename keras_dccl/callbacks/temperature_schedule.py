import keras

from keras_dccl.layers.gumbel_softmax import annealed_temperature
from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.argument_checks import check_positive_float
from keras_dccl.utils.model_layers import model_layers


class TemperatureSchedule(keras.callbacks.Callback):
    """Anneals the Gumbel-softmax temperatures of a model, epoch by epoch.

    At the beginning of each epoch, assigns the temperature (the papers' tau)
    to every variable that the model's layers return from their
    `temperature_variables()` method: the `temperature` of every
    `GumbelSoftmaxEncoder`, including the encoders of `CodebookEmbedding`
    and `AdaptiveCodebookEmbedding` layers in the training form, and the
    `length_temperature` of every `AdaptiveCodebookEmbedding` in the
    training form. A layer of your own takes part by defining that method.
    At the end of each epoch, it writes the value into the logs, under
    `"temperature"`. A model built by its first batch (a `Sequential` model
    without `Input`) uses the temperatures given to its layers for that
    batch, and the schedule's from the next one.

    By default, the temperature goes geometrically from `start`, in the
    first epoch, to `end`, in epoch `epochs - 1`, and stays at `end` after:
    `start * (end / start) ** (epoch / (epochs - 1))`. A `schedule` function
    replaces this rule.

    Args:
        start: Positive float. Temperature of the first epoch.
            Defaults to `1.0`.
        end: Positive float. Temperature of the last epoch. Defaults to `0.1`.
        epochs: Optional integer. Number of epochs from `start` to `end`.
            Defaults to the `epochs` of `fit()`.
        schedule: Optional function that takes an epoch index (integer,
            counted from 0) and returns the temperature (positive float).
            When given, `start`, `end` and `epochs` are not used.

    Example:

    >>> layer = keras_dccl.AdaptiveCodebookEmbedding(100, 8, seed=1)
    >>> model = keras.Sequential([
    ...     layer,
    ...     keras.layers.GlobalAveragePooling1D(),
    ...     keras.layers.Dense(1),
    ... ])
    >>> model.compile("adam", "mse")
    >>> history = model.fit(
    ...     np.random.randint(100, size=(32, 10)),
    ...     np.ones((32, 1)),
    ...     epochs=3,
    ...     callbacks=[keras_dccl.callbacks.TemperatureSchedule(1.0, 0.25)],
    ...     verbose=0,
    ... )
    >>> [round(value, 2) for value in history.history["temperature"]]
    [1.0, 0.5, 0.25]
    """

    def __init__(self, start=1.0, end=0.1, epochs=None, schedule=None):
        super().__init__()
        self.start = check_positive_float("start", start)
        self.end = check_positive_float("end", end)
        if epochs is not None:
            epochs = check_integer("epochs", epochs)
        self.epochs = epochs
        if schedule is not None and not callable(schedule):
            raise ValueError(
                "`schedule` must be a function of the epoch index. "
                f"Received: schedule={schedule}"
            )
        self.schedule = schedule
        self.temperature = None
        self._assigned = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.schedule is None:
            epochs = self.epochs or self.params["epochs"]
            self.temperature = annealed_temperature(
                self.start, self.end, epoch, epochs
            )
        else:
            self.temperature = check_positive_float(
                "temperature", self.schedule(epoch)
            )
        self._assigned = self._assign()

    def on_train_batch_end(self, batch, logs=None):
        # Layers built by the first batch get the value from then on.
        if not self._assigned:
            self._assigned = self._assign()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["temperature"] = self.temperature

    def _assign(self):
        """Assigns the temperature; returns whether all layers were built."""
        layers = [
            layer
            for layer in model_layers(self.model)
            if hasattr(layer, "temperature_variables")
        ]
        # A layer holding another (an embedding and its encoder) returns
        # the same variable as the inner layer.
        variables = {
            id(variable): variable
            for layer in layers
            for variable in layer.temperature_variables()
        }
        built = all(layer.built for layer in layers)
        if built and not variables:
            raise ValueError(
                "`TemperatureSchedule` needs a model with a Gumbel-softmax "
                "part (a layer whose `temperature_variables()` returns "
                "variables: a `GumbelSoftmaxEncoder`, or a "
                "`CodebookEmbedding` or `AdaptiveCodebookEmbedding` in the "
                f"training form). Received: model={self.model.name}"
            )
        for variable in variables.values():
            variable.assign(self.temperature)
        return built
