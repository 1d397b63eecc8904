"""The colorbench version (one place; the package root and run.json read it)."""

__version__ = "0.1.0"
