"""A copy of a model with some of its layers replaced."""

import keras


def replace_layers(model, replacements):
    """Returns a clone of `model` in which some layers are replaced.

    The pattern of tfmot's `strip_clustering`: `keras.models.clone_model`
    rebuilds the graph (nested models too); each layer found in
    `replacements` is swapped for its replacement, every other layer is
    made again from its config and given the original's weights. The
    original model is not changed.

    Args:
        model: A built Sequential or Functional `keras.Model`.
        replacements: Dict `id(layer) -> new built layer`.

    Returns:
        A new model with the same inputs and outputs.
    """
    copies = []

    def clone(layer):
        if id(layer) in replacements:
            return replacements[id(layer)]
        copy = layer.__class__.from_config(layer.get_config())
        # The graph also holds operations (`x[:, 0]`), which have no weights.
        if isinstance(layer, keras.layers.Layer):
            copies.append((layer, copy))
        return copy

    try:
        new_model = keras.models.clone_model(
            model, clone_function=clone, recursive=True
        )
    except Exception as error:
        raise ValueError(
            f"Model '{model.name}' cannot be cloned ({error}). Only "
            "Sequential and Functional models can be."
        ) from None
    for layer, copy in copies:
        copy.set_weights(layer.get_weights())
    return new_model
