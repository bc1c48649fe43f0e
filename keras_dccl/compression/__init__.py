"""Compressing a table into codes and codebooks, in NumPy.

Importing this package loads neither Keras nor TensorFlow: only the
Gumbel-softmax recipes load them, when they run.
"""

from keras_dccl.compression.compress import RECIPES
from keras_dccl.compression.compress import Recipe
from keras_dccl.compression.compress import compress
from keras_dccl.compression.compress import default_recipe
from keras_dccl.compression.gumbel_settings import GumbelSettings

__all__ = ["GumbelSettings", "RECIPES", "Recipe", "compress", "default_recipe"]
