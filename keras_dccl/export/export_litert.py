"""Export Keras models holding `CodebookEmbedding` layers to `.tflite`."""

import os

import keras
import numpy as np

from keras_dccl.export.cross_backend import runs_on_tensorflow
from keras_dccl.export.dequantize_codebooks import fold_codebook_dequantize
from keras_dccl.export.export_options import check_export_options
from keras_dccl.export.export_options import check_model
from keras_dccl.export.export_options import vocabulary_tokens
from keras_dccl.export.model_embeddings import find_codebook_embeddings
from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.layers.code_embedding_base import CodeEmbeddingBase
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.text.word_tokenizer import WordTokenizer
from keras_dccl.utils.atomic_file import atomic_path
from keras_dccl.utils.atomic_file import write_text_atomic

# Ids that keep their number when an adaptive layer's ids are renumbered: the
# "[PAD]" and "[UNK]" of a `WordTokenizer` vocabulary.
RESERVED_IDS = 2


@runs_on_tensorflow
def export_litert(
    model,
    path,
    quantize="int8",
    sequence_length=None,
    batch_size=None,
    representative_inputs=None,
    tokenizer=None,
    vocabulary=None,
    codebook_pairs=False,
):
    """Writes a `.tflite` file whose embeddings are frozen codes + codebooks.

    Training-time parts are stripped: every `CodebookEmbedding` (in either
    form) becomes its codes, stored at their information size (two 4-bit codes
    per byte when K <= 16, else one byte each), and its codebooks; the rest
    of the model is copied as is. Conversion uses builtin TFLite ops only, so
    an op without a builtin kernel fails here instead of producing a file
    that Android's runtime or LiteRT.js cannot run.

    Args:
        model: A built Sequential or Functional `keras.Model` that holds at
            least one `CodebookEmbedding`.
        path: The `.tflite` file to write (atomically).
        quantize: "int8" (default): int8 codebooks with one scale per
            codebook, the rest float32. "dynamic_int8": int8 codebooks,
            and the rest of the model's weights int8 by TFLite's
            dynamic-range quantization (float activations: for
            transformers, whose other weights are half the file).
            "float16": every float weight,
            codebooks included, stored as float16. "none": float32.
            "full_int8": full-integer post-training quantization of every op
            from `representative_inputs` (int8 output; the int32 id input
            stays int32).
        sequence_length: Optional integer fixing the length axis (the
            browser runtime needs static shapes).
        batch_size: Optional integer fixing the batch axis; None keeps it
            dynamic.
        representative_inputs: With "full_int8": an integer array of real
            inputs `(N, *input shape)`, calibrated on `batch_size` rows at
            a time (one without `batch_size`).
        tokenizer: Optional `WordTokenizer` that made the model's ids. If
            given, the file takes raw text: a string tensor `(batch,)` named
            "text", split and looked up inside the graph by three
            tensorflow-text custom ops (needs `pip install
            "keras-dccl[text]"`; run it with
            `keras_dccl.export.text_interpreter`). Not with
            "full_int8", whose calibration cannot run custom ops.
        vocabulary: Optional list of the model's tokens by id, or a
            `WordTokenizer`, or the path of a vocabulary file. Written
            (atomically) beside `path` as `<name>.vocabulary.txt`, in the
            id order of the exported file. Required for a model that holds
            an `AdaptiveCodebookEmbedding`: its export renumbers the word ids
            so that each code length is one range of ids (see
            `exported_id_order`), and apps must tokenize with that file.

        codebook_pairs: Boolean. For K <= 16: store the sums of each two
            codebooks, 256 rows per pair, indexed by the packed byte of
            their two codes. Half the gathers and no unpacking, so the
            lookup runs several times faster, for 256 / (2 * K) times the
            codebook bytes (8x at K=16) and the same code bytes. Not for
            `AdaptiveCodebookEmbedding`. Defaults to `False`.

    Returns:
        `path`.

    Raises:
        ValueError: Before any work, if an option does not fit the model
            (the rules are those of `check_export_options`).
    """
    vocabulary = None if vocabulary is None else vocabulary_tokens(vocabulary)
    check_export_options(
        model,
        quantize,
        sequence_length,
        batch_size,
        representative_inputs,
        tokenizer,
        vocabulary,
        codebook_pairs,
    )
    order = exported_id_order(model)
    if order is not None:
        if vocabulary is not None:
            vocabulary = [vocabulary[index] for index in order]
        if tokenizer is not None:
            # A raw-text model looks the words up in the renumbered order.
            tokenizer = WordTokenizer(
                [tokenizer.vocabulary[i] for i in order],
                tokenizer.sequence_length,
            )
    # After every check: stripping encodes the whole vocabulary.
    codebook_dtype = (
        "int8" if quantize in ("int8", "dynamic_int8") else "float32"
    )
    stripped = strip_codebook_embeddings(model, codebook_dtype, codebook_pairs)
    signature = _input_signature(model, sequence_length, batch_size)
    if tokenizer is not None:
        from keras_dccl.export import text_to_ids

        stripped = text_to_ids.add_text_input(stripped, tokenizer)
        signature = [text_to_ids.text_spec(batch_size)]
    samples = None
    if quantize == "full_int8":
        samples = _calibration_batches(
            representative_inputs, order, batch_size or 1
        )
    path = os.fspath(path)
    with atomic_path(path) as temporary:
        stripped.export(
            temporary,
            format="litert",
            input_signature=signature,
            verbose=False,
            **_converter_options(quantize, tokenizer is not None, samples),
        )
        if codebook_dtype == "int8":
            fold_codebook_dequantize(temporary)
    if vocabulary is not None:
        write_text_atomic(
            os.path.splitext(path)[0] + ".vocabulary.txt",
            "".join(f"{token}\n" for token in vocabulary),
        )
    return path


def _input_signature(model, sequence_length, batch_size):
    """One int32 `tf.TensorSpec` structure: the model's inputs, fixed."""
    import tensorflow as tf

    # One argument holding the model's input structure (a tensor, a list,
    # or a dict by name as in KerasHub's backbones). A `Sequential` model
    # has no `input` (only `inputs`, a list of one).
    structure = (
        model.inputs[0] if isinstance(model, keras.Sequential) else model.input
    )
    return [
        keras.tree.map_structure(
            lambda spec: tf.TensorSpec(
                _fixed_shape(spec.shape, batch_size, sequence_length),
                tf.int32,
                name=_input_name(spec),
            ),
            structure,
        )
    ]


def _calibration_batches(representative_inputs, order, batch_size):
    """Whole batches of representative rows, as the exported file numbers
    them (renumbered for an adaptive layer)."""
    rows = np.asarray(representative_inputs, dtype=np.int32)
    if order is not None:
        rows = np.argsort(order)[rows].astype(np.int32)
    count = len(rows) // batch_size * batch_size
    return rows[:count].reshape(-1, batch_size, *rows.shape[1:])


def _converter_options(quantize, custom_ops, samples):
    """The TFLite converter settings of `quantize`; builtin ops only."""
    import tensorflow as tf

    builtins = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "full_int8":
        return {
            "optimizations": [tf.lite.Optimize.DEFAULT],
            "representative_dataset": lambda: ([batch] for batch in samples),
            "target_spec": {
                "supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            },
            "inference_output_type": tf.int8,
        }
    options = {"target_spec": {"supported_ops": builtins}}
    if custom_ops:
        # Builtins plus tensorflow-text's custom ops only, still no Flex op.
        options["allow_custom_ops"] = True
    if quantize == "dynamic_int8":
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        # TFLite's float16 weights: stored as float16, widened by DEQUANTIZE.
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
        options["target_spec"]["supported_types"] = [tf.float16]
    return options


def export_lookup(
    compressed, path, quantize="int8", sequence_length=None, batch_size=None
):
    """Writes a stand-alone lookup model (ids -> vectors) from an artifact.

    For apps that need only the vectors: the model takes int32 word ids of
    shape `(batch, sequence_length)` and returns float32 vectors of shape
    `(batch, sequence_length, output_dim)`.

    Args:
        compressed: A `CompressedTable`.
        path: The `.tflite` file to write (atomically).
        quantize: "int8" (default), "float16" or "none", as in
            `export_litert`.
        sequence_length: Optional integer fixing the length axis.
        batch_size: Optional integer fixing the batch axis.

    Returns:
        `path`.
    """
    if quantize == "full_int8":
        raise ValueError(
            "A lookup model has no float ops to quantize: `quantize` must be "
            '"int8", "float16" or "none". Received: quantize="full_int8"'
        )
    layer = CodebookEmbedding.from_compressed(compressed, name="lookup")
    ids = keras.Input((sequence_length,), batch_size=batch_size, dtype="int32")
    model = keras.Model(ids, layer(ids), name="codebook_lookup")
    return export_litert(
        model,
        path,
        quantize=quantize,
        sequence_length=sequence_length,
        batch_size=batch_size,
    )


def strip_codebook_embeddings(
    model, codebook_dtype="int8", codebook_pairs=False
):
    """A copy of `model` with each code embedding in its export form.

    The pattern of tfmot's `strip_clustering`: the model is cloned, each
    `CodebookEmbedding` replaced by a `LiteRTCodebookEmbedding` holding its
    frozen codes and codebooks, each `AdaptiveCodebookEmbedding` by a
    `LiteRTAdaptiveCodebookEmbedding` (which renumbers the word ids, see
    `exported_id_order`), and every other layer's weights copied.
    """
    from keras_dccl.export.litert_codebook_embedding import (
        LiteRTAdaptiveCodebookEmbedding,
    )
    from keras_dccl.export.litert_codebook_embedding import (
        LiteRTCodebookEmbedding,
    )

    check_model(model, codebook_pairs, codebook_dtype)

    def clone(layer):
        if not isinstance(layer, CodeEmbeddingBase):
            return layer.__class__.from_config(layer.get_config())
        common = dict(
            codebook_dtype=codebook_dtype,
            mask_zero=layer.mask_zero,
            name=layer.name,
        )
        if isinstance(layer, AdaptiveCodebookEmbedding):
            lengths, reserved = _adaptive_layout(layer)
            reserved_ids = np.arange(reserved)
            return LiteRTAdaptiveCodebookEmbedding(
                layer.compute_codes(),
                lengths,
                layer.compute_codebooks(),
                keras.ops.convert_to_numpy(layer.fallback),
                keras.ops.convert_to_numpy(layer(reserved_ids, training=False)),
                **common,
            )
        exact = None
        if getattr(layer, "exact_rows", 0):
            if layer.exact_rows_dtype == "int4" and codebook_dtype == "int8":
                residuals = layer.int4_exact_rows()
            else:
                residuals = keras.ops.convert_to_numpy(layer._residual_rows())
            exact = (keras.ops.convert_to_numpy(layer.row_index), residuals)
        return LiteRTCodebookEmbedding(
            layer.compute_codes(),
            layer.compute_codebooks(),
            codebook_pairs=codebook_pairs,
            exact=exact,
            **common,
        )

    try:
        stripped = keras.models.clone_model(model, clone_function=clone)
    except Exception as error:
        raise ValueError(
            f"Model '{model.name}' cannot be cloned for export ({error}). "
            "Export supports Sequential and Functional models."
        ) from None
    for original, copy in zip(model.layers, stripped.layers):
        if not isinstance(original, CodeEmbeddingBase):
            copy.set_weights(original.get_weights())
    return stripped


def exported_id_order(model):
    """The word ids that the exported file of `model` takes, as old ids.

    Exporting an `AdaptiveCodebookEmbedding` renumbers the words so that
    the words of each code length form one range of ids (ids 0 and 1, the
    `"[PAD]"` and `"[UNK]"` of a `WordTokenizer`, keep theirs). This returns
    `order`, the old id of each new id: feed the exported file
    `argsort(order)[ids]`, or write the vocabulary as
    `[vocabulary[i] for i in order]`, which `export_litert(...,
    vocabulary=...)` does. Without an adaptive layer, `order` is None.
    """
    check_model(model)
    adaptive = [
        layer
        for layer in find_codebook_embeddings(model)
        if isinstance(layer, AdaptiveCodebookEmbedding)
    ]
    if not adaptive:
        return None
    from keras_dccl.export.litert_codebook_embedding import adaptive_order

    return adaptive_order(*_adaptive_layout(adaptive[0]))


def _adaptive_layout(layer):
    """Each word's code length, and how many ids keep their number."""
    lengths = np.asarray(layer.code_lengths)[layer.compute_lengths()]
    return lengths, min(RESERVED_IDS, layer.input_dim)


def _input_name(tensor):
    # Keras tensors are named "ids" or "keras_tensor_12"; the signature keeps
    # the user's name so that apps feed the input by it.
    name = tensor.name.split(":")[0]
    return None if name.startswith("keras_tensor") else name


def _fixed_shape(shape, batch_size, sequence_length):
    shape = list(shape)
    shape[0] = batch_size
    if sequence_length is not None:
        shape[1:] = [
            sequence_length if dim is None else dim for dim in shape[1:]
        ]
    return shape
