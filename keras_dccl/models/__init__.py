"""Whole models and the training steps around the code embeddings."""

from keras_dccl.models.compress_model import compress_model
from keras_dccl.models.distill import distill
from keras_dccl.models.freeze_codes import freeze_codes
from keras_dccl.models.warm_start import warm_start

__all__ = ["compress_model", "distill", "freeze_codes", "warm_start"]
