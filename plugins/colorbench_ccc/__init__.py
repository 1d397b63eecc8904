"""CCC++ colorizer plugin (seed 000): colour classes, DenseNet encoder-decoder, class-weighted
loss, training, inference and object-selective colour harmonization. See docs/models/ccc.md."""
