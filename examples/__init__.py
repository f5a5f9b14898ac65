"""Example images (installed as conceptvae.examples, for the studio and the docs)."""
