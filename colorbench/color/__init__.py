"""Colour maths: sRGB <-> CIE L*a*b* (``lab``) and the CCC++ colour classes (``classes``)."""

from colorbench.color.lab import (
    AB_SCALE,
    join_lab,
    lab_to_rgb,
    lab_to_rgb8,
    lightness,
    linear_to_srgb,
    normalize_ab,
    normalize_L,
    quantize,
    rgb8_to_lab,
    rgb_to_lab,
    srgb_to_linear,
    to_ab,
)

__all__ = ["AB_SCALE", "join_lab", "lab_to_rgb", "lab_to_rgb8", "lightness", "linear_to_srgb", "normalize_L",
           "normalize_ab", "quantize", "rgb8_to_lab", "rgb_to_lab", "srgb_to_linear", "to_ab"]
