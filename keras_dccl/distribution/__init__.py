"""Training past one device: layouts for `keras.distribution`."""

from keras_dccl.distribution.codebook_layout_map import codebook_layout_map

__all__ = ["codebook_layout_map"]
