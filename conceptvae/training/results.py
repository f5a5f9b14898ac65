"""The end of a run: the test figures, the saved model (weights, config, meta,
LiteRT files) and its preview."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..config import VAEConfig
from ..data import Dataset
from ..errors import ConceptVAEError, param
from ..io import atomic_path, atomic_write_json
from ..model import files
from ..model.network import build_vae, keras
from ..model.prior import PRIOR_FILE, GaussianMixture
from ..version import __version__
from .batches import rng
from .checkpoint import weights_finite


class Subset:
    """The first 1,000 images of a split, for the end-of-run report."""

    def __init__(self, dataset: Dataset, indices: np.ndarray) -> None:
        self.dataset, self.indices = dataset, indices[:1000]


def test_images(test: Dataset | Subset, limit: int = 10000) -> np.ndarray:
    if isinstance(test, Subset):
        return test.dataset.load(test.indices[:limit])
    return test.load(np.arange(min(len(test), limit)))


def evaluate(vae, test: Dataset | Subset, seed: int) -> dict[str, float]:  # noqa: ANN001
    """Test reconstruction MSE per pixel (posterior mean) and the ELBO in nats per image."""
    x = test_images(test).astype(np.float32) / 255.0
    mse, rec, kl = [], [], []
    for s in range(0, len(x), 500):
        xb = x[s : s + 500]
        eps = rng(seed, 4, s).standard_normal((len(xb), vae.vae_config.latent_dim), np.float32)
        terms = vae.losses_for(xb, xb, eps)
        recon = np.asarray(vae(xb))
        mse.append(np.mean((recon - xb) ** 2, axis=(1, 2, 3)))
        rec.append(float(terms["reconstruction_loss"]) * len(xb))
        kl.append(float(terms["kl_loss"]) * len(xb))
    n = len(x)
    return {
        "test_images": n,
        "test_mse": round(float(np.concatenate(mse).mean()), 6),
        "test_reconstruction_loss": round(sum(rec) / n, 3),
        "test_kl_loss": round(sum(kl) / n, 3),
        "test_elbo": round(-(sum(rec) + sum(kl)) / n, 3),
    }



def face_alignment(data: Any, image_size: int) -> dict | None:
    """A folder made by ``conceptvae align-faces`` holds face_alignment.json: the
    model trained on it records that alignment (at its own image size), which
    makes it a face model that finds and aligns faces in photographs."""
    if not isinstance(data, (str, os.PathLike)) or not Path(data).is_dir():
        return None
    from ..faces.align import FaceAlignment, read_alignment_file

    entry = read_alignment_file(data)
    if entry is None:
        return None
    found = FaceAlignment.from_meta({"face_alignment": entry})
    return found.scaled(image_size).to_meta() if found is not None else None


def save_model(
    out: Path,
    vae,
    cfg: VAEConfig,
    dataset: Dataset,
    opts: dict[str, Any],
    history: dict[str, list[float]],
    metrics: dict[str, Any],
    *,
    command: str | None,
    export: bool = True,
) -> None:  # noqa: ANN001
    from ..model.export import convert_and_verify, write_export

    # Everything that can fail is checked before the first file is replaced.
    plain = plain_network(vae)
    if not weights_finite(plain):
        raise ConceptVAEError(
            "training diverged (the weights became NaN or infinite); no model was saved. "
            f"Try a lower {param('lr')}",
            out,
        )
    if any(isinstance(v, float) and not np.isfinite(v) for v in metrics.values()):
        raise ConceptVAEError(
            "training diverged (the test loss is NaN or infinite); no model was saved. "
            f"Try a lower {param('lr')}",
            out,
        )
    # Every saved model ships its LiteRT flatbuffers, so inference never needs TensorFlow;
    # they are converted and checked against Keras before anything is written.
    if export:
        encoder, decoder, diffs = convert_and_verify(plain, out)
    save_weights(vae, out, plain)
    if plain.prior is not None:  # numpy's copy, for sampling and the likelihood on LiteRT
        GaussianMixture(*(np.asarray(w) for w in plain.prior.get_weights())).save(out / PRIOR_FILE)
    cfg.save(out / files.CONFIG)
    meta = {
        "fingerprint": files.weights_fingerprint(plain.get_weights()),
        "parameters": int(plain.count_params()),
        "data": {"source": dataset.name, "images": len(dataset), "fingerprint": dataset.fingerprint(),
                 "labels": sorted(dataset.labels)},
        "training": {k: v for k, v in opts.items() if k not in ("data", "labels")},
        "metrics": metrics,
        "command": command,
        "conceptvae_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip
    alignment = face_alignment(opts.get("data"), cfg.image_size)
    if alignment is not None:
        meta["face_alignment"] = alignment
    files.write_meta(out, meta)
    atomic_write_json(out / files.HISTORY, history)
    if export:
        write_export(out, encoder, decoder, diffs)


def plain_network(vae):  # noqa: ANN001, ANN201
    """The network alone, as a plain, uncompiled VAE (no discriminator, no optimizer)."""
    plain = build_vae(vae.vae_config)
    plain.set_weights(vae.network_weights())
    return plain


def save_weights(vae, out: Path, plain=None):  # noqa: ANN001, ANN201
    """Write the network alone and return it as a plain, uncompiled VAE.

    A compiled model would also write the optimizer's two moments per weight,
    tripling the file (resuming reads checkpoint.npz), and training-only parts
    (a discriminator) are no part of the model.
    """
    plain = plain if plain is not None else plain_network(vae)
    with atomic_path(out / files.WEIGHTS, suffix=".weights.h5") as tmp:
        tmp.unlink()
        plain.save_weights(tmp)
    return plain


def save_preview(path: Path, vae, test: Dataset | Subset, seed: int) -> None:  # noqa: ANN001
    from ..images import save_pil
    from ..render import grid

    x = test_images(test, 10).astype(np.float32) / 255.0
    recon = np.asarray(vae(x))
    if vae.prior is None:
        z = rng(seed, 5).standard_normal((len(x), vae.vae_config.latent_dim), np.float32)
    else:  # draws from the learned mixture
        z = GaussianMixture(*(np.asarray(w) for w in vae.prior.get_weights())).sample(
            len(x), rng(seed, 5)
        )
    samples = np.asarray(keras.ops.sigmoid(vae.decoder(z)))
    cell = max(vae.vae_config.image_size, 48)
    pic = grid(np.concatenate([x, recon, samples]), ncols=len(x), cell=cell,
               row_labels=["test", "recon", "sample"])  # fmt: skip
    save_pil(pic, path)
