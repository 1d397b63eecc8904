"""Pixel-difference metrics: mse, cpsnr (alias psnr)."""
