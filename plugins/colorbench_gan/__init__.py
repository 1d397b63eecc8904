"""The ``gan`` colorizer: pix2pix-style conditional GAN with a ResNet18 U-Net generator (seed 002)."""
