"""Colorizers as timm builds models: one factory (``create_colorizer``), weights declared as
data and verified by hash, checkpoints loaded without unpickling code."""
