"""Semantic-driven colorization (seed 004): GridNet segmentation + two-stream U-Net."""
