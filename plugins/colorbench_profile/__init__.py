"""colorbench_profile: the colour-profile multi-model colorizer (seed 003)."""
