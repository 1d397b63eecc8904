"""The ``gray`` colorizer: a* = b* = 0, the lower bound every model should beat."""
