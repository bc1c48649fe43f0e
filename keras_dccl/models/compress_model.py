"""Replace the embedding layers of a Keras model by `CodebookEmbedding`."""

import math
import re

import keras
import numpy as np

from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.models.replace_layers import replace_layers
from keras_dccl.utils.model_layers import model_layers


def compress_model(
    model,
    num_codebooks=32,
    codebook_size=16,
    filters=None,
    recipe="default",
    weights=None,
    exact_rows=0,
    exact_rows_dtype="int8",
    seed=0,
    verbose=1,
):
    """Returns a copy of `model` whose embedding tables are codes.

    Every embedding layer that the filter selects (`keras.layers.Embedding`
    and its subclasses, such as KerasHub's `ReversibleEmbedding`) is
    replaced by a frozen-form `CodebookEmbedding` with the same name, whose
    codes and codebooks `keras_dccl.compress` learns from the layer's table;
    every other layer is cloned with its weights. The copy has the same
    inputs (names, shapes, dtypes), outputs and output structure, so a
    multi-input model such as KerasHub's `BertBackbone` (`token_ids`,
    `padding_mask`, `segment_ids`) keeps its signature. It is a plain
    Functional (or Sequential) model: a KerasHub backbone class builds its
    layers in its constructor, so the copy is not a `BertBackbone` but runs
    the same graph. Tied output heads keep working, as `CodebookEmbedding`
    answers `reverse=True` calls. The original model is not changed.

    Codes computed from a table after training reproduce the table, not the
    model: for a transformer's token table they lose much of the model's
    accuracy. Follow with `keras_dccl.distill` to learn the codebooks (and
    the rest of the model) through the model itself.

    Args:
        model: A built Sequential or Functional `keras.Model`.
        num_codebooks: Integer, M, the number of codes per token.
            Defaults to `32`.
        codebook_size: Integer, K, a power of two from 2 to 256.
            Defaults to `16`.
        filters: Which embedding layers to compress, as in Keras's
            `model.quantize(mode, filters=...)`: a regex string or a list of
            them (a layer whose name matches any one is compressed), or a
            callable taking a layer and returning a boolean. Defaults to
            every embedding layer whose codes and float32 codebooks take
            fewer bytes than its float32 table (so a 2-row segment
            embedding stays as it is).
        recipe: The `keras_dccl.compress` recipe. Defaults to `"default"`.
        weights: Optional per-row weights of the table given to `compress`
            (token frequencies, so that frequent tokens are reproduced
            best): an array of shape `(input_dim,)`, or a dict of such
            arrays by layer name.
        exact_rows: Non-negative integer. With `weights`, the `exact_rows`
            rows of largest weight (the most frequent tokens) also get a
            residual row of their own (see `CodebookEmbedding(exact_rows=)`)
            and are looked up exactly; the others use their codes alone.
            Defaults to `0`.
        exact_rows_dtype: `"int8"` (the default) or `"int4"`: how the
            exact rows are stored in `.tflite` files (see
            `CodebookEmbedding(exact_rows_dtype=)`).
        seed: Integer seed of `compress`.
        verbose: 0 silent, 1 progress of each compression.

    Returns:
        A new Keras model.

    Example:

    ```python
    backbone = keras_hub.models.BertBackbone.from_preset(folder)
    student = keras_dccl.compress_model(
        backbone, num_codebooks=32, filters="token_embedding"
    )
    ```
    """
    from keras_dccl.compression.compress import compress

    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(
            "`model` must be a built Keras model. "
            f"Received: model={type(model).__name__}"
        )
    selected = select_embeddings(model, filters, num_codebooks, codebook_size)
    if not selected:
        raise ValueError(
            f"No embedding layer of model '{model.name}' matches `filters`. "
            f"Received: filters={filters!r}; embedding layers: "
            f"{[layer.name for layer in _embeddings(model)]}"
        )
    replacements = {}
    for layer in selected:
        if getattr(layer, "tie_weights", True) is False:
            raise ValueError(
                f"Layer '{layer.name}' is a ReversibleEmbedding with "
                "`tie_weights=False`: its reverse projection is a second "
                "table, which CodebookEmbedding does not hold."
            )
        row_weights = weights
        if isinstance(weights, dict):
            row_weights = weights.get(layer.name)
        options = {} if row_weights is None else {"weights": row_weights}
        if exact_rows and row_weights is None:
            raise ValueError(
                "`exact_rows` keeps the rows of largest weight: pass "
                f"`weights` for layer '{layer.name}'. Received: "
                f"exact_rows={exact_rows}, weights=None"
            )
        table = keras.ops.convert_to_numpy(layer.embeddings).astype("float32")
        exact_ids = np.zeros(0, dtype="int64")
        if exact_rows:
            order = np.argsort(-np.asarray(row_weights), kind="stable")
            exact_ids = order[: min(exact_rows, len(table))]
            # Their residual rows make them exact: the codes serve the rest.
            row_weights = np.array(row_weights, dtype="float32")
            row_weights[exact_ids] = 0.0
            options["weights"] = row_weights
        if verbose:
            print(f"Compressing '{layer.name}' {tuple(layer.embeddings.shape)}")
        compressed = compress(
            table,
            num_codebooks=num_codebooks,
            codebook_size=codebook_size,
            recipe=recipe,
            seed=seed,
            verbose=verbose,
            **options,
        )
        replacement = CodebookEmbedding.from_compressed(
            compressed,
            mask_zero=layer.mask_zero,
            name=layer.name,
            dtype=layer.dtype_policy,
            exact_rows=min(exact_rows, len(table)),
            exact_rows_dtype=exact_rows_dtype,
        )
        if exact_rows:
            replacement.set_exact_rows(exact_ids, table[exact_ids])
        replacements[id(layer)] = replacement

    return replace_layers(model, replacements)


def select_embeddings(model, filters, num_codebooks, codebook_size):
    """The embedding layers of `model` that `filters` selects."""
    if filters is None:

        def keep(layer):
            rows, dimension = layer.embeddings.shape
            code_bytes = rows * num_codebooks * math.log2(codebook_size) / 8
            codebook_bytes = num_codebooks * codebook_size * dimension * 4
            return code_bytes + codebook_bytes < rows * dimension * 4

    elif callable(filters):
        keep = filters
    else:
        patterns = [filters] if isinstance(filters, str) else list(filters)

        def keep(layer):
            return any(re.search(pattern, layer.name) for pattern in patterns)

    return [layer for layer in _embeddings(model) if keep(layer)]


def _embeddings(model):
    return [
        layer
        for layer in model_layers(model, sublayers=False)
        if isinstance(layer, keras.layers.Embedding)
    ]
