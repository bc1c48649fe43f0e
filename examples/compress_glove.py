"""
Title: Compressing GloVe word vectors into discrete codes
Author: keras-dccl developers
Description: Learn 4-bit codes for 20,000 GloVe words, check what the
compression keeps, and use the codes as a Keras embedding layer.

## Introduction

A word-embedding table stores one float vector per word: 20,000 words of 50
dimensions take 4 MB in float32. keras-dccl replaces each vector by M small
integer codes and M shared codebooks of K vectors; a word's vector is the sum
of the M codebook rows its codes select (Shu & Nakayama, "Compressing Word
Embeddings via Deep Compositional Code Learning", ICLR 2018).

With M=32 codes of K=16 values, a word costs 32 x 4 bits = 16 bytes instead
of 200 bytes, plus 32 x 16 x 50 floats of codebooks shared by all words.

This example needs the GloVe data package: `pip install "keras-dccl[glove]"`.
"""

import os

import keras
import numpy as np

import keras_dccl

"""
## Load the word vectors

The first rows of GloVe are its most frequent words, so the top N rows are a
realistic N-word vocabulary. (Set KERAS_DCCL_EXAMPLE_WORDS to try another
size; the tests run this file on a small one.)
"""

num_words = int(os.environ.get("KERAS_DCCL_EXAMPLE_WORDS", 20000))
words, vectors = keras_dccl.readers.load_glove_package(num_words)
print(f"{len(words)} words of dimension {vectors.shape[1]}")

"""
## Learn the codes

`compress` starts from residual k-means and alternates closed-form
least-squares codebooks with a perturbed local search over the codes, holding
out 5% of the words to stop when it no longer helps.
"""

compressed = keras_dccl.compress(
    vectors, num_codebooks=32, codebook_size=16, vocabulary=words
)
print(compressed.summary())

"""
## What the compression keeps

The mean Euclidean distance between each vector and its reconstruction,
against the mean norm of the vectors; then the nearest neighbours of a few
words, by cosine similarity, in the original and the reconstructed table.
"""

reconstruction = compressed.reconstruct()
mean_norm = np.linalg.norm(vectors, axis=1).mean()
print(
    f"mean distance {compressed.metadata['mean_distance']:.3f} "
    f"(mean vector norm {mean_norm:.3f})"
)


def neighbours(table, word, count=5):
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    scores = unit @ unit[words.index(word)]
    return [words[index] for index in np.argsort(-scores)[1 : count + 1]]


for word in ["king", "france", "good"]:
    if word in words:
        print(f"{word}: original {neighbours(vectors, word)}")
        print(f"{word}: codes    {neighbours(reconstruction, word)}")

"""
## Save and load

The artifact is one `.npz` file: packed codes, codebooks, vocabulary and a
checksum. Loading validates all of it.
"""

compressed.save("glove-codes.npz")
compressed = keras_dccl.CompressedTable.load("glove-codes.npz")

"""
## Use the codes in a Keras model

`CodebookEmbedding` is a drop-in for `keras.layers.Embedding`. Built from the
artifact, it holds the codes as a non-trainable uint8 weight and the codebooks
as trainable floats, so a downstream task can fine-tune the codebooks.
"""

model = keras.Sequential()
model.add(keras_dccl.CodebookEmbedding.from_compressed(compressed))
model.add(keras.layers.GlobalAveragePooling1D())
model.add(keras.layers.Dense(1, activation="sigmoid"))
sentence = np.array([[words.index(w) for w in ["the", "movie", "was"]]])
print("prediction", model.predict(sentence, verbose=0))
embedding = model.layers[0]
print(
    "embedding outputs match the artifact:",
    np.allclose(
        embedding(sentence)[0], compressed.reconstruct(sentence[0]), atol=1e-5
    ),
)
