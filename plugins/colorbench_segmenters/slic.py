"""``slic``: SLIC superpixels (Achanta et al. 2012) from scikit-image, no weights needed."""

from __future__ import annotations

import numpy as np


class Slic:
    """segment(rgb uint8 [H,W,3]) -> int64 labels [H,W] (0..n-1)."""

    def __init__(self, n_segments: int = 64, compactness: float = 10.0, sigma: float = 1.0):
        self.n_segments, self.compactness, self.sigma = int(n_segments), float(compactness), float(sigma)

    def segment(self, rgb: np.ndarray) -> np.ndarray:
        from skimage.segmentation import slic

        labels = slic(np.asarray(rgb), n_segments=self.n_segments, compactness=self.compactness,
                      sigma=self.sigma, start_label=0, channel_axis=-1)
        return labels.astype(np.int64)
