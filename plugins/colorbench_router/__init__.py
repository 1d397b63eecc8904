"""colorbench router: best-colorizer routing (seed 001)."""
