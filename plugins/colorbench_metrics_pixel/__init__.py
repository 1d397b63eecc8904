"""Pixel metrics: mse, cpsnr (alias psnr), ssim, uiqi."""
