"""The contract both code embeddings keep, one test class run over each.

`CodebookEmbedding` and `AdaptiveCodebookEmbedding` share a base class and
two forms: the frozen form (uint8 codes, trainable codebooks) and the
training form (a float table and a Gumbel-softmax encoder). Each subclass
below names a layer, small constructor arguments and the counts of its
parts; what is particular to one layer stays in its own test file.
"""

import numpy as np
from layer_test_case import LayerTestCase

from keras_dccl.layers.adaptive_codebook_embedding import (
    AdaptiveCodebookEmbedding,
)
from keras_dccl.layers.codebook_embedding import CodebookEmbedding

OUTPUT_DIM = 6
# Every id below 12, the smaller of the two layers' vocabularies; zeros for
# masking. Enough words that every adaptive length occurs on any backend.
IDS = np.array(
    [[3, 1, 0, 0], [2, 0, 5, 7], [4, 6, 8, 0], [9, 10, 11, 0]], "int32"
)


class CodeEmbeddingContract:
    """Mixed into a `LayerTestCase` whose class attributes say:

    - `layer_class` and `init_kwargs` (frozen form, without `learn_codes`);
    - `training_kwargs`: extra arguments of the training form, each of which
      adds to what the layer trains (so that one fit step changes it all);
    - `frozen_counts` and `training_counts`: `(trainable weights,
      non-trainable weights, seed generators, losses)` of each form.
    """

    layer_class = None
    init_kwargs = {}
    training_kwargs = {}
    frozen_counts = ()
    training_counts = ()

    def kwargs(self, learn_codes, **extra):
        training = self.training_kwargs if learn_codes else {}
        return {
            **self.init_kwargs,
            **training,
            "learn_codes": learn_codes,
            **extra,
        }

    def run_contract(self, learn_codes, counts, **extra):
        trainable, non_trainable, seed_generators, losses = counts
        self.run_layer_test(
            self.layer_class,
            self.kwargs(learn_codes, **extra),
            input_data=IDS,
            expected_output_shape=(*IDS.shape, OUTPUT_DIM),
            supports_masking=extra.get("mask_zero", False),
            expected_num_trainable_weights=trainable,
            expected_num_non_trainable_weights=non_trainable,
            expected_num_seed_generators=seed_generators,
            expected_num_losses=losses,
        )

    def test_frozen_form(self):
        self.run_contract(False, self.frozen_counts)

    def test_training_form(self):
        self.run_contract(True, self.training_counts)

    def test_masking(self):
        for learn_codes, counts in (
            (False, self.frozen_counts),
            (True, self.training_counts),
        ):
            with self.subTest(learn_codes=learn_codes):
                self.run_contract(learn_codes, counts, mask_zero=True)
        layer = self.layer_class(**self.kwargs(False))
        self.assertIsNone(layer.compute_mask(np.array([2, 1, 0])))

    def test_freeze_codes_errors(self):
        self.check_freeze_errors(
            self.layer_class(**self.kwargs(False)),
            self.layer_class(**self.kwargs(True)),
        )

    def test_warm_start_errors(self):
        frozen = self.layer_class(**self.kwargs(False))
        frozen.build()
        with self.assertRaisesRegex(ValueError, "training form"):
            frozen.warm_start()
        training = self.layer_class(**self.kwargs(True))
        training.build()
        with self.assertRaisesRegex(ValueError, "Received: epochs=0"):
            training.warm_start(epochs=0)

    def test_temperature_variables(self):
        frozen = self.layer_class(**self.kwargs(False))
        training = self.layer_class(**self.kwargs(True))
        self.assertEqual(training.temperature_variables(), [])
        frozen.build()
        training.build()
        self.assertEqual(frozen.temperature_variables(), [])
        variables = training.temperature_variables()
        self.assertIn(training.encoder.temperature, variables)
        for variable in variables:
            self.assertIn(variable, training.non_trainable_weights)


class CodebookEmbeddingContractTest(CodeEmbeddingContract, LayerTestCase):
    layer_class = CodebookEmbedding
    init_kwargs = {
        "input_dim": 12,
        "output_dim": OUTPUT_DIM,
        "num_codebooks": 3,
        "codebook_size": 4,
        "seed": 1,
    }
    training_kwargs = {
        "hidden_units": 5,
        "temperature": 0.5,
        "straight_through": True,
        "reconstruction_weight": 0.5,
    }
    # Frozen: codebooks; codes. Training: embeddings, codebooks, the
    # encoder's two kernels and biases; its temperature; its noise; the
    # reconstruction loss.
    frozen_counts = (1, 1, 0, 0)
    training_counts = (6, 1, 1, 1)


class AdaptiveCodebookEmbeddingContractTest(
    CodeEmbeddingContract, LayerTestCase
):
    layer_class = AdaptiveCodebookEmbedding
    init_kwargs = {
        "input_dim": 12,
        "output_dim": OUTPUT_DIM,
        "code_lengths": (0, 1, 3),
        "codebook_size": 4,
        "seed": 1,
    }
    training_kwargs = {
        "target_bits_per_word": 3.0,
        "size_penalty": 0.5,
        "hidden_units": 5,
        "temperature": 0.5,
    }
    # Frozen: fallback, codebooks; lengths, codes. Training: embeddings,
    # length logits, fallback, codebooks, the encoder's four; the two
    # temperatures; the length noise and the encoder's; the size penalty.
    frozen_counts = (2, 2, 0, 0)
    training_counts = (8, 2, 2, 1)
