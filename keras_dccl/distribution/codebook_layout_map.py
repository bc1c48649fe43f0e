import keras

# Variable paths (regular expressions, matched in full) of the code
# embeddings' weights, and the mesh axis of each dimension: "model" for the
# vocabulary axis, None for a replicated one.
VOCABULARY_SHARDED = {
    # Frozen form: the uint8 codes (and the adaptive layer's lengths).
    r".*/codes": ("model", None),
    r".*/lengths": ("model",),
    # Training form: the float table (also `keras.layers.Embedding`'s) and
    # the adaptive layer's length logits.
    r".*/embeddings": ("model", None),
    r".*/length_logits": ("model", None),
}
REPLICATED = {
    r".*/decoder/codebooks": (None, None),
    r".*/fallback": (None,),
}


def codebook_layout_map(device_mesh, model_axis="model", layout_map=None):
    """A `keras.distribution.LayoutMap` that shards the code tables by word.

    For `keras.distribution.ModelParallel`, when a vocabulary's tables do
    not fit one accelerator: every per-word weight of `CodebookEmbedding`
    and `AdaptiveCodebookEmbedding` (`codes`, `lengths`, and in the
    training form `embeddings` and `length_logits`, as well as the
    `embeddings` of a `keras.layers.Embedding`) is split along its first
    axis, the vocabulary, over the `model_axis` devices of `device_mesh`;
    the codebooks and the adaptive layer's `fallback`, which every word
    reads, are replicated on every device. Weights that no entry matches,
    such as the encoder's dense layers, are replicated, as `ModelParallel`
    does by default.

    The vocabulary size (`input_dim`) must be a multiple of the number of
    devices along `model_axis`.

    Args:
        device_mesh: A `keras.distribution.DeviceMesh`.
        model_axis: String. The mesh axis that splits the vocabulary.
            Defaults to `"model"`.
        layout_map: Optional `keras.distribution.LayoutMap` on
            `device_mesh` to add the entries to, e.g. one that already
            shards the model's dense layers. Defaults to a new one.

    Returns:
        The `keras.distribution.LayoutMap`.

    Example:

    ```python
    from keras_dccl.distribution import codebook_layout_map

    devices = keras.distribution.list_devices()
    mesh = keras.distribution.DeviceMesh(
        (2, len(devices) // 2), ("batch", "model"), devices
    )
    keras.distribution.set_distribution(
        keras.distribution.ModelParallel(
            layout_map=codebook_layout_map(mesh),
            batch_dim_name="batch",
        )
    )
    # Build, compile and fit the model as usual.
    ```
    """
    if model_axis not in device_mesh.axis_names:
        raise ValueError(
            f"`model_axis` must be an axis of `device_mesh`, one of "
            f"{list(device_mesh.axis_names)}. Received: "
            f"model_axis={model_axis!r}"
        )
    if layout_map is None:
        layout_map = keras.distribution.LayoutMap(device_mesh)
    elif layout_map.device_mesh is not device_mesh:
        raise ValueError(
            "`layout_map` must be a LayoutMap on `device_mesh`. Received: "
            f"layout_map.device_mesh={layout_map.device_mesh}"
        )
    for pattern, axes in {**VOCABULARY_SHARDED, **REPLICATED}.items():
        layout_map[pattern] = tuple(
            model_axis if axis == "model" else axis for axis in axes
        )
    return layout_map
