"""Pretrained models shipped with conceptvae, one model directory each."""
