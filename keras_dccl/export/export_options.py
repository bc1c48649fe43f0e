"""The rules of the export options, checked in one place.

`export_litert` and `tflite/convert.py` call `check_export_options`, and
`strip_codebook_embeddings` its model part `check_model`, so each rule is
written once and a bad option fails before any work with one line that
ends in `Received: name=value`. Keras and NumPy only: no TensorFlow here.
"""

import os

import keras
import numpy as np

from keras_dccl.export.model_embeddings import find_codebook_embeddings
from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.text.word_tokenizer import WordTokenizer
from keras_dccl.text.word_tokenizer import read_vocabulary
from keras_dccl.utils.argument_checks import check_integer
from keras_dccl.utils.code_packing import NIBBLE_CODEBOOK_SIZE

QUANTIZE_MODES = ("int8", "dynamic_int8", "float16", "none", "full_int8")
CODEBOOK_DTYPES = ("int8", "float32")


def check_export_options(
    model,
    quantize="int8",
    sequence_length=None,
    batch_size=None,
    representative_inputs=None,
    tokenizer=None,
    vocabulary=None,
    codebook_pairs=False,
    codebook_dtype="int8",
):
    """Raises a one-line `ValueError` if `export_litert` cannot take these.

    The arguments are those of `export_litert`, plus the `codebook_dtype` of
    `strip_codebook_embeddings`. The rules, in the order checked:

    - `model` is a built Keras model with integer inputs and at least one
      code embedding (at most one `AdaptiveCodebookEmbedding`);
      `codebook_pairs=True` needs `CodebookEmbedding`s with K <= 16.
    - `quantize` is one of `QUANTIZE_MODES`, `codebook_dtype` one of
      `CODEBOOK_DTYPES`; `sequence_length` and `batch_size` are None or
      integers >= 1, and `sequence_length` matches a fixed input length.
    - `"full_int8"` needs `representative_inputs` and a model with one
      input. Representative inputs are integer arrays `(N, *input shape)`
      (a dict of them by input name for several inputs), with at least
      `batch_size` rows; a single input's ids lie in `[0, input_dim)`.
    - `tokenizer` is a `WordTokenizer` whose ids fit the model's one input
      of shape `(batch, length)`, not with `"full_int8"`; tensorflow-text
      is installed (else an `ImportError`).
    - A model with an `AdaptiveCodebookEmbedding` needs `vocabulary` (or
      `tokenizer`); a vocabulary has one token per embedding row.

    Args:
        model: The model to export.
        quantize: String, as in `export_litert`.
        sequence_length: Optional integer, as in `export_litert`.
        batch_size: Optional integer, as in `export_litert`.
        representative_inputs: Optional, as in `export_litert`.
        tokenizer: Optional `WordTokenizer`, as in `export_litert`.
        vocabulary: Optional list of tokens, `WordTokenizer` or path.
        codebook_pairs: Boolean, as in `export_litert`.
        codebook_dtype: "int8" or "float32": the stored codebooks.

    Raises:
        ValueError: Naming the first option that does not fit.
        ImportError: If `tokenizer` is given without tensorflow-text.
    """
    check_model(model, codebook_pairs, codebook_dtype)
    _check_choice("quantize", quantize, QUANTIZE_MODES)
    shapes = _input_shapes(model, sequence_length)
    if batch_size is not None:
        check_integer("batch_size", batch_size)
    _check_representative(
        model, quantize, shapes, representative_inputs, batch_size
    )
    if tokenizer is not None:
        _check_tokenizer(model, tokenizer, quantize, sequence_length)
    _check_vocabulary(model, vocabulary, tokenizer)


def check_ids(name, ids, shape, num_words=None):
    """`ids` as int32 if they are a non-empty integer array `(N, *shape)`.

    `None` in `shape` is any size; with `num_words`, every id must lie in
    `[0, num_words)`. Raises a one-line `ValueError` otherwise.
    """
    ids = np.asarray(ids)
    dims = ", ".join(map(str, shape))
    if (
        not np.issubdtype(ids.dtype, np.integer)
        or ids.ndim != len(shape) + 1
        or not len(ids)
        or any(dim not in (None, got) for dim, got in zip(shape, ids.shape[1:]))
    ):
        raise ValueError(
            f"`{name}` must be a non-empty integer array of shape "
            f"(N, {dims}). Received: {name}.shape={ids.shape}, "
            f"dtype={ids.dtype}"
        )
    if num_words is not None and (ids.min() < 0 or ids.max() >= num_words):
        raise ValueError(
            f"`{name}` must hold word ids in [0, {num_words}). Received: "
            f"ids from {ids.min()} to {ids.max()}"
        )
    return ids.astype(np.int32)


def vocabulary_tokens(vocabulary):
    """The tokens of a list, a `WordTokenizer` or a vocabulary file."""
    if isinstance(vocabulary, WordTokenizer):
        return list(vocabulary.vocabulary)
    if isinstance(vocabulary, (str, os.PathLike)):
        return read_vocabulary(vocabulary)
    return list(vocabulary)


def import_tensorflow_text():
    """Imports tensorflow-text, or raises an ImportError saying how to."""
    try:
        import tensorflow_text
    except ImportError as error:
        raise ImportError(
            "Raw-text models need tensorflow-text: "
            f'pip install "keras-dccl[text]" ({error})'
        ) from None
    return tensorflow_text


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {choices}. Received: {name}={value!r}"
        )


def check_model(model, codebook_pairs=False, codebook_dtype="int8"):
    """The model rules of `check_export_options`, which stripping needs."""
    _check_choice("codebook_dtype", codebook_dtype, CODEBOOK_DTYPES)
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(
            "`model` must be a built Keras model. "
            f"Received: model={type(model).__name__}"
        )
    embeddings = find_codebook_embeddings(model)
    adaptive = [
        layer
        for layer in embeddings
        if isinstance(layer, AdaptiveCodebookEmbedding)
    ]
    if len(adaptive) > 1:
        raise ValueError(
            "Export renumbers word ids by code length and supports one "
            "AdaptiveCodebookEmbedding. Received: "
            f"{len(adaptive)} in model '{model.name}'"
        )
    if adaptive and len(embeddings) > 1:
        # The renumbered ids would reach the other code embeddings too.
        raise ValueError(
            "Export renumbers word ids by code length for an "
            "AdaptiveCodebookEmbedding, which must then be the model's only "
            f"code embedding. Received: {len(embeddings)} code embeddings "
            f"in model '{model.name}'"
        )
    for spec in model.inputs:
        dtype = keras.backend.standardize_dtype(spec.dtype)
        if "int" not in dtype:
            raise ValueError(
                "`model` must take integer word ids (the file's inputs are "
                f"int32). Received: input '{spec.name}' of dtype {dtype}"
            )
    unpairable = [
        layer
        for layer in embeddings
        if layer in adaptive or layer.codebook_size > NIBBLE_CODEBOOK_SIZE
    ]
    if codebook_pairs and unpairable:
        layer = unpairable[0]
        raise ValueError(
            "`codebook_pairs=True` needs CodebookEmbedding layers with "
            f"codebook_size <= {NIBBLE_CODEBOOK_SIZE}. Received: layer "
            f"'{layer.name}', {type(layer).__name__}, codebook_size="
            f"{layer.codebook_size}"
        )


def _input_shapes(model, sequence_length):
    """Each input's shape without the batch axis, `sequence_length` set."""
    if sequence_length is None:
        return [tuple(spec.shape[1:]) for spec in model.inputs]
    check_integer("sequence_length", sequence_length)
    for spec in model.inputs:
        if len(spec.shape) < 2 or spec.shape[1] not in (None, sequence_length):
            raise ValueError(
                "`sequence_length` does not match the model input length "
                f"of input '{spec.name}' {tuple(spec.shape)}. Received: "
                f"sequence_length={sequence_length}"
            )
    return [
        tuple(sequence_length if dim is None else dim for dim in spec.shape[1:])
        for spec in model.inputs
    ]


def _check_representative(model, quantize, shapes, inputs, batch_size):
    if quantize == "full_int8" and inputs is None:
        raise ValueError(
            '`quantize="full_int8"` needs `representative_inputs`: real '
            "model inputs to calibrate the int8 ranges. Received: "
            "representative_inputs=None"
        )
    if quantize == "full_int8" and len(model.inputs) > 1:
        raise ValueError(
            '`quantize="full_int8"` calibrates models with one input; use '
            '"dynamic_int8". Received: model '
            f"'{model.name}' with {len(model.inputs)} inputs"
        )
    if inputs is None:
        return
    names = [spec.name for spec in model.inputs]
    if not isinstance(inputs, dict):
        inputs = {names[0]: inputs} if len(names) == 1 else {}
    if sorted(inputs) != sorted(names):
        raise ValueError(
            "`representative_inputs` must be a dict of arrays by input name "
            f"{sorted(names)}. Received: keys {sorted(inputs)}"
        )
    # A single input is word ids; several (token ids, padding mask, ...)
    # are checked for their shapes only.
    num_words = None
    if len(names) == 1:
        num_words = min(
            layer.input_dim for layer in find_codebook_embeddings(model)
        )
    rows = set()
    for name, shape in zip(names, shapes):
        label = "representative_inputs"
        if len(names) > 1:
            label += f"[{name!r}]"
        rows.add(len(check_ids(label, inputs[name], shape, num_words)))
    if len(rows) > 1 or (batch_size or 1) > min(rows):
        raise ValueError(
            "`representative_inputs` must hold the same number of rows for "
            "every input, at least `batch_size`. Received: rows "
            f"{sorted(rows)}, batch_size={batch_size}"
        )


def _check_tokenizer(model, tokenizer, quantize, sequence_length):
    if not isinstance(tokenizer, WordTokenizer):
        raise ValueError(
            "`tokenizer` must be a keras_dccl `WordTokenizer`. "
            f"Received: tokenizer={type(tokenizer).__name__}"
        )
    if quantize == "full_int8":
        raise ValueError(
            "`tokenizer` cannot be exported full_int8, whose calibration "
            'cannot run the tokenizer\'s custom ops: use "int8", '
            '"float16" or "none", or export the ids model. '
            f"Received: quantize={quantize!r}"
        )
    if sequence_length not in (None, tokenizer.sequence_length):
        raise ValueError(
            "`sequence_length` must be None or the tokenizer's "
            f"{tokenizer.sequence_length}. "
            f"Received: sequence_length={sequence_length}"
        )
    if len(model.inputs) != 1:
        raise ValueError(
            "`tokenizer` needs a model with one input of word ids. "
            f"Received: model '{model.name}' has {len(model.inputs)} inputs"
        )
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 2:
        raise ValueError(
            "`tokenizer` needs a model input of word ids of shape "
            f"(batch, length). Received: input shape {shape}"
        )
    if shape[1] not in (None, tokenizer.sequence_length):
        raise ValueError(
            f"`tokenizer` must give the model input length {shape[1]}. "
            f"Received: tokenizer.sequence_length={tokenizer.sequence_length}"
        )
    rows = min(layer.input_dim for layer in find_codebook_embeddings(model))
    if tokenizer.vocabulary_size > rows:
        raise ValueError(
            f"`tokenizer` ids must fit the model's embedding of {rows} rows. "
            f"Received: tokenizer.vocabulary_size={tokenizer.vocabulary_size}"
        )
    import_tensorflow_text()


def _check_vocabulary(model, vocabulary, tokenizer):
    embeddings = find_codebook_embeddings(model)
    adaptive = any(
        isinstance(layer, AdaptiveCodebookEmbedding) for layer in embeddings
    )
    if adaptive and vocabulary is None and tokenizer is None:
        raise ValueError(
            "Exporting an AdaptiveCodebookEmbedding renumbers the word ids "
            "by code length: pass `vocabulary=` (the model's tokens by id) "
            "so that the matching vocabulary file is written. "
            "Received: vocabulary=None"
        )
    lists = {"vocabulary": vocabulary}
    if adaptive:
        # A renumbered raw-text model looks each token up in the new order.
        lists["tokenizer"] = tokenizer
    input_dims = sorted({layer.input_dim for layer in embeddings})
    for name, tokens in lists.items():
        if tokens is not None:
            size = len(vocabulary_tokens(tokens))
            if input_dims != [size]:
                raise ValueError(
                    f"`{name}` has {size} tokens but the model's embeddings "
                    f"have input_dim {input_dims}. Received: {size} tokens"
                )
