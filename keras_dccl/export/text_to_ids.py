"""Raw-text input for exported models: the tokenizer inside the graph.

Only the exporter builds `TextToIds` (TensorFlow is imported here, and
tensorflow-text lazily, only when a raw-text model is exported or run). Its
ops become three TFLite custom ops of tensorflow-text, FastBertNormalize,
FastWordpieceTokenizeWithOffsets and RaggedTensorToTensor, which a runtime
must register (see `text_interpreter`).
"""

import os

import keras
import tensorflow as tf

from keras_dccl.export.export_options import import_tensorflow_text
from keras_dccl.text.word_tokenizer import PAD_ID
from keras_dccl.text.word_tokenizer import UNK_TOKEN

# The TFLite custom ops that `TextToIds` converts to.
TEXT_CUSTOM_OPS = (
    "FastBertNormalize",
    "FastWordpieceTokenizeWithOffsets",
    "RaggedTensorToTensor",
)
TEXT_INPUT_NAME = "text"
# FastWordpieceTokenizer's default. A longer word becomes "[UNK]", so the
# limit is raised to the longest vocabulary word where needed.
_MAX_BYTES_PER_WORD = 100


class TextToIds(keras.layers.Layer):
    """Strings -> padded word ids, as `WordTokenizer` computes them.

    The graph form of `WordTokenizer`: tensorflow-text's
    `FastBertNormalizer(lower_case_nfd_strip_accents=True)` and an end-to-end
    `FastWordpieceTokenizer` over the tokenizer's vocabulary of whole words
    (no "##" pieces, so a word outside it is one "[UNK]") split a string
    exactly as `split_words` does; the ids are then cut or padded with 0 to
    `sequence_length`.

    Args:
        tokenizer: A `WordTokenizer`.

    Input shape:
        1D string tensor `(batch,)`.

    Output shape:
        2D int32 tensor `(batch, tokenizer.sequence_length)`.
    """

    def __init__(self, tokenizer, **kwargs):
        super().__init__(**kwargs)
        tf_text = import_tensorflow_text()
        self.sequence_length = tokenizer.sequence_length
        longest = max(
            len(token.encode("utf-8")) for token in tokenizer.vocabulary
        )
        self.normalizer = tf_text.FastBertNormalizer(
            lower_case_nfd_strip_accents=True
        )
        self.wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=tokenizer.vocabulary,
            max_bytes_per_word=max(longest, _MAX_BYTES_PER_WORD),
            token_out_type=tf.int32,
            unknown_token=UNK_TOKEN,
            no_pretokenization=False,
            support_detokenization=False,
        )

    def call(self, inputs):
        ids = self.wordpiece.tokenize(self.normalizer.normalize(inputs))
        return ids.to_tensor(PAD_ID, shape=[None, self.sequence_length])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(
            (inputs.shape[0], self.sequence_length), dtype="int32"
        )


def add_text_input(model, tokenizer):
    """`model` (word ids -> outputs) behind a `TextToIds`: strings -> outputs.

    Args:
        model: A Keras model with one input of integer word ids of shape
            `(batch, length)`, the length fixed to the tokenizer's or dynamic.
        tokenizer: The `WordTokenizer` that made the model's training ids.

    Returns:
        A `keras.Model` taking a string tensor `(batch,)` named "text".
    """
    text = keras.Input((), dtype="string", name=TEXT_INPUT_NAME)
    ids = TextToIds(tokenizer, name="text_to_ids")(text)
    dtype = keras.backend.standardize_dtype(model.inputs[0].dtype)
    if dtype != "int32":
        ids = keras.ops.cast(ids, dtype)
    return keras.Model(text, model(ids), name=f"{model.name}_text")


def text_spec(batch_size=None):
    """The `tf.TensorSpec` of a raw-text model's input: strings `(batch,)`."""
    return tf.TensorSpec((batch_size,), tf.string, name=TEXT_INPUT_NAME)


def text_interpreter(path, num_threads=None):
    """Opens a raw-text `.tflite` file with tensorflow-text's ops registered.

    Args:
        path: The `.tflite` file written by `export_litert(...,
            tokenizer=...)`.
        num_threads: Optional number of interpreter threads.

    Returns:
        An `ai_edge_litert.interpreter.InterpreterWithCustomOps`. Run it
        through its signature, which takes a NumPy array of strings:

        >>> runner = text_interpreter(path).get_signature_runner()
        >>> runner(text=np.array(["A fine film."]))["output_0"]
    """
    from ai_edge_litert.interpreter import InterpreterWithCustomOps

    tf_text = import_tensorflow_text()
    return InterpreterWithCustomOps(
        custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS,
        model_path=os.fspath(path),
        num_threads=num_threads,
    )
