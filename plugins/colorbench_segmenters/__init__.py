"""Segmenter plugins: ``slic`` (scikit-image superpixels, no weights) and ``sam``
(Segment Anything automatic masks). Used by colour harmonization (e.g. ``ccc-harmonized``)."""
