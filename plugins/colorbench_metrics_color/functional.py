"""Colour metrics over uint8 sRGB (colourfulness) and CIE L*a*b* (CIEDE2000), batched, float64."""

from __future__ import annotations

import math

import torch


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler & Süsstrunk 2003 M3 per image on 0..255 values, float64 [B].

    rg = R − G, yb = ½(R + G) − B over all pixels; σ = sqrt(σrg² + σyb²) with population
    variances, μ = sqrt(μrg² + μyb²); CF = σ + 0.3·μ.
    """
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"expected [B, 3, H, W], got {tuple(rgb.shape)}")
    x = rgb.to(torch.float64).flatten(2)
    r, g, b = x.unbind(1)
    rg = r - g
    yb = 0.5 * (r + g) - b
    var_rg, mean_rg = torch.var_mean(rg, dim=1, correction=0)
    var_yb, mean_yb = torch.var_mean(yb, dim=1, correction=0)
    return torch.sqrt(var_rg + var_yb) + 0.3 * torch.sqrt(mean_rg**2 + mean_yb**2)


def _polar_2pi(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r, t = torch.hypot(x, y), torch.atan2(y, x)
    return r, torch.where(t < 0.0, t + 2 * math.pi, t)


def ciede2000(lab1: torch.Tensor, lab2: torch.Tensor, dim: int = -3,
              kL: float = 1.0, kC: float = 1.0, kH: float = 1.0) -> torch.Tensor:
    """CIEDE2000 colour difference (Sharma, Wu, Dalal 2005) per element, channels along ``dim``.

    Follows ``skimage.color.deltaE_ciede2000`` step by step (hue angles in [0, 2π), hue
    difference and mean hue set as in Sharma's note when a chroma is zero).
    """
    L1, a1, b1 = lab1.unbind(dim)
    L2, a2, b2 = lab2.unbind(dim)
    cbar = 0.5 * (torch.hypot(a1, b1) + torch.hypot(a2, b2))
    c7 = cbar**7
    scale = 1.0 + 0.5 * (1.0 - torch.sqrt(c7 / (c7 + 25.0**7)))
    C1, h1 = _polar_2pi(a1 * scale, b1)
    C2, h2 = _polar_2pi(a2 * scale, b2)

    lbar = 0.5 * (L1 + L2)
    tmp = (lbar - 50.0) ** 2
    SL = 1.0 + 0.015 * tmp / torch.sqrt(20.0 + tmp)
    L_term = (L2 - L1) / (kL * SL)

    cbar = 0.5 * (C1 + C2)
    SC = 1.0 + 0.045 * cbar
    C_term = (C2 - C1) / (kC * SC)

    h_diff = h2 - h1
    h_sum = h1 + h2
    CC = C1 * C2
    zero = CC == 0.0
    dH = h_diff - 2 * math.pi * (h_diff > math.pi) + 2 * math.pi * (h_diff < -math.pi)
    dH = torch.where(zero, 0.0, dH)
    dH_term = 2.0 * torch.sqrt(CC) * torch.sin(dH / 2.0)

    wrap = ~zero & (h_diff.abs() > math.pi)
    hbar = h_sum + 2 * math.pi * (wrap & (h_sum < 2 * math.pi)) - 2 * math.pi * (wrap & (h_sum >= 2 * math.pi))
    hbar = torch.where(zero, hbar * 2.0, hbar) * 0.5

    T = (1.0 - 0.17 * torch.cos(hbar - math.radians(30)) + 0.24 * torch.cos(2 * hbar)
         + 0.32 * torch.cos(3 * hbar + math.radians(6)) - 0.20 * torch.cos(4 * hbar - math.radians(63)))
    SH = 1.0 + 0.015 * cbar * T
    H_term = dH_term / (kH * SH)

    c7 = cbar**7
    Rc = 2.0 * torch.sqrt(c7 / (c7 + 25.0**7))
    dtheta = math.radians(30) * torch.exp(-(((torch.rad2deg(hbar) - 275.0) / 25.0) ** 2))
    R_term = -torch.sin(2.0 * dtheta) * Rc * C_term * H_term

    dE2 = L_term**2 + C_term**2 + H_term**2 + R_term
    return torch.sqrt(dE2.clamp_min(0.0))


def mean_ciede2000(lab_gt: torch.Tensor, lab_pred: torch.Tensor) -> torch.Tensor:
    """Mean CIEDE2000 over pixels per image: Lab [B, 3, H, W] -> float64 [B]."""
    return ciede2000(lab_gt, lab_pred, dim=1).flatten(1).mean(1)
