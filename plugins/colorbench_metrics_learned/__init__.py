"""Learned metrics that need pretrained networks: lpips, lpips-vgg, fid, kid."""
