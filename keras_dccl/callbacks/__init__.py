from keras_dccl.callbacks.temperature_schedule import TemperatureSchedule

__all__ = ["TemperatureSchedule"]
