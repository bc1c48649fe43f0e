"""The one walk over a model's layers that every part of the package uses."""

import keras


def model_layers(model, sublayers=True):
    """Returns the layers inside `model`, once each, the model excluded.

    Args:
        model: A Keras model (or layer).
        sublayers: Boolean. If `True` (the default), every layer inside,
            the sub-layers of layers included (a transformer block's
            `Dropout`, an embedding's encoder). If `False`, the layers of
            the model's graph, nested models flattened: the layers that
            `keras.models.clone_model` replaces.

    Returns:
        A list of layers.
    """
    if sublayers:
        # Keras has no public way to list a layer's sub-layers: this private
        # method is the walk Keras's own utilities use.
        return list(model._flatten_layers(include_self=False))
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            layers.extend(model_layers(layer, sublayers=False))
        else:
            layers.append(layer)
    return layers
