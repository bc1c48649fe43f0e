"""Whole models: compress a model's embeddings, then distill it."""

from keras_dccl.models.compress_model import compress_model
from keras_dccl.models.distill import distill

__all__ = ["compress_model", "distill"]
