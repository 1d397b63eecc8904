"""Colour metrics: colorfulness, delta_colorfulness, deltae2000."""
