"""A small sentiment model exported as the demos expect it.

The contract of `examples/web` and `examples/android` (the same as
`examples/sentiment.py`'s export): `sentiment.tflite` takes int32 ids of shape
(1, SEQUENCE_LENGTH) and returns a float32 (1, 1) probability that the
sentence is positive ("fresh"); `vocabulary.txt` beside it is a
`WordTokenizer` vocabulary file.
"""

import os

import keras
import numpy as np

from keras_dccl.export.export_litert import export_litert
from keras_dccl.layers.codebook_embedding import CodebookEmbedding
from keras_dccl.readers.rotten_tomatoes import load_rotten_tomatoes
from keras_dccl.text.word_tokenizer import WordTokenizer

SEQUENCE_LENGTH = 64


def train_demo_model(directory, num_sentences=3000):
    """Trains one quick epoch; returns `(tflite_path, vocabulary_path)`."""
    sentences, labels = load_rotten_tomatoes()
    sentences, labels = sentences[:num_sentences], labels[:num_sentences]
    tokenizer = WordTokenizer.from_texts(
        sentences, SEQUENCE_LENGTH, max_words=3000
    )
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SEQUENCE_LENGTH,), dtype="int32", name="ids")
    # 16 codebooks of 16 x 64: 16,384 values, so the file widens them with
    # one DEQUANTIZE (`WIDEN_FIRST_VALUES`), which LiteRT.js runs too.
    vectors = CodebookEmbedding(
        tokenizer.vocabulary_size, 64, 16, 16, mask_zero=True, seed=0
    )(inputs)
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    outputs = keras.layers.Dense(1, activation="sigmoid")(pooled)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "binary_crossentropy")
    model.fit(tokenizer(sentences), labels.astype(np.float32), verbose=0)
    tflite_path = os.path.join(directory, "sentiment.tflite")
    vocabulary_path = os.path.join(directory, "vocabulary.txt")
    export_litert(
        model, tflite_path, sequence_length=SEQUENCE_LENGTH, batch_size=1
    )
    tokenizer.save_vocabulary(vocabulary_path)
    return tflite_path, vocabulary_path
