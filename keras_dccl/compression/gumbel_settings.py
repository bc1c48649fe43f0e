"""`GumbelSettings`: how the Gumbel-softmax encoder is trained."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class GumbelSettings:
    """How the encoder is trained.

    Attributes:
        epochs: Maximum number of passes over the training rows.
        batch_size: Rows per gradient step.
        learning_rate: Adam's learning rate.
        global_clipnorm: Clip the global gradient norm to this, or None.
        start_temperature: Gumbel-softmax temperature of the first epoch.
        end_temperature: Temperature of the last epoch (geometric schedule).
        straight_through: Hard one-hot codes forward, relaxed gradients back.
        patience: Stop after this many epochs without a better validation
            distance (None: run all epochs, keep the best).
        init_scale: Kernels and codebooks start uniform in +-init_scale (the
            authors' 0.01), unless the codebooks come from an initialiser.
    """

    epochs: int
    batch_size: int
    learning_rate: float
    global_clipnorm: float | None
    start_temperature: float
    end_temperature: float
    straight_through: bool
    patience: int | None
    init_scale: float = 0.01
