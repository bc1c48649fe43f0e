"""Argument checks shared by the keras-dccl layers and the compressor."""

import numbers


def check_integer(name, value, minimum=1, maximum=None):
    """Returns `value` as an `int`, or raises if it is out of range.

    `bool` is rejected even though it is an `int` subclass.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        if maximum is None:
            expected = f"an integer >= {minimum}"
        else:
            expected = f"an integer between {minimum} and {maximum}"
        raise ValueError(
            f"`{name}` must be {expected}. Received: {name}={value!r}"
        )
    return int(value)


def check_non_negative_float(name, value):
    """Returns `value` as a `float`, or raises if it is negative or NaN."""
    return _check_float(name, value, allow_zero=True)


def check_positive_float(name, value):
    """Returns `value` as a `float`, or raises if it is not positive."""
    return _check_float(name, value, allow_zero=False)


def _check_float(name, value, allow_zero):
    # `not value > 0` (rather than `value <= 0`) also rejects NaN.
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (value >= 0 if allow_zero else value > 0)
    ):
        expected = "a non-negative" if allow_zero else "a positive"
        raise ValueError(
            f"`{name}` must be {expected} number. Received: {name}={value}"
        )
    return float(value)
