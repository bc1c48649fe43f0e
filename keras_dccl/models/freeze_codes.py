"""The frozen form of a layer or a model, as new objects."""

import keras

from keras_dccl.layers.code_embedding_base import CodeEmbeddingBase
from keras_dccl.layers.code_embedding_base import frozen_copy
from keras_dccl.models.replace_layers import replace_layers
from keras_dccl.utils.model_layers import model_layers


def freeze_codes(layer_or_model, batch_size=4096):
    """Returns a copy in which the code embeddings hold frozen codes.

    Given a `CodebookEmbedding` or `AdaptiveCodebookEmbedding` in the
    training form (`learn_codes=True`), returns a new layer in the frozen
    form, made from the layer's config: its codes (and, for the adaptive
    layer, its code lengths) are those the training form uses in inference,
    its codebooks (and exact rows, or fallback vector) are copied, and the
    float `embeddings` and the encoder are gone. The new layer gives the
    same inference outputs.

    Given a built Sequential or Functional model, returns a new model
    (through `keras.models.clone_model`) in which every code embedding in
    the training form is replaced by its frozen form, and every other layer
    is a copy with the same weights. The new model is not compiled: compile
    it (with a new optimizer) before fitting it, e.g. to fine-tune the
    codebooks and the rest of the model around the frozen codes.

    The original layer or model is not changed.

    Args:
        layer_or_model: A built training-form code embedding, or a built
            `keras.Model` that holds at least one.
        batch_size: Integer. Number of embeddings encoded at a time.
            Defaults to `4096`.

    Returns:
        A new layer, or a new `keras.Model`.

    Example:

    ```python
    layer = keras_dccl.CodebookEmbedding.from_pretrained(vectors)
    ...  # a model that holds `layer`, trained for its task
    frozen_model = keras_dccl.models.freeze_codes(model)
    frozen_model.compile("adam", "binary_crossentropy")
    frozen_model.fit(ids, labels, epochs=3)
    ```
    """
    if isinstance(layer_or_model, CodeEmbeddingBase):
        return frozen_copy(layer_or_model, batch_size)
    if not isinstance(layer_or_model, keras.Model):
        raise ValueError(
            "`layer_or_model` must be a CodebookEmbedding, an "
            "AdaptiveCodebookEmbedding or a Keras model. Received: "
            f"layer_or_model={type(layer_or_model).__name__}"
        )
    model = layer_or_model
    if not model.built:
        raise ValueError(
            f"`freeze_codes()` needs a built model: call model '{model.name}' "
            "or build it first. Received: built=False"
        )
    replacements = {
        id(layer): frozen_copy(layer, batch_size)
        for layer in model_layers(model, sublayers=False)
        if isinstance(layer, CodeEmbeddingBase) and layer.learn_codes
    }
    if not replacements:
        raise ValueError(
            f"Model '{model.name}' holds no CodebookEmbedding or "
            "AdaptiveCodebookEmbedding in the training form: there are no "
            "codes to freeze."
        )
    return replace_layers(model, replacements)
