"""VAEModel: one model object whatever computes it (Keras or LiteRT)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import VAEConfig
from ..errors import ConceptVAEError, ModelError
from ..images import load_image
from . import files
from .backends import Backend
from .prior import PRIOR_FILE, GaussianMixture

ImagesLike = np.ndarray | Sequence[str | os.PathLike]


# Decoded images are float32 (N, S, S, C): 2 GiB of them at most per call.
MAX_DECODED_VALUES = 1 << 29


class VAEModel:
    """A trained VAE: ``encode``, ``decode``, ``reconstruct`` and ``sample``.

    Images are float32 arrays (N, S, S, C) in [0, 1] (a single (S, S, C) image
    or uint8 is accepted too), or a list of image file paths.
    """

    def __init__(
        self,
        config: VAEConfig,
        backend: Backend | Callable[[], Backend],
        path: Path | None = None,
        meta: dict[str, Any] | None = None,
        prior: GaussianMixture | None = None,
    ) -> None:
        self.config = config
        # The learned prior of a model trained with a mixture (config.prior_components);
        # None is N(0, I).
        self.prior = prior
        # A factory defers the engine (and its imports) to the first encode or
        # decode, so bad inputs are refused before TensorFlow or LiteRT loads.
        self._backend = backend
        self.path = path
        self.meta = meta or {}

    @property
    def backend(self) -> Backend:
        if callable(self._backend) and not hasattr(self._backend, "decode"):
            self._backend = self._backend()
        return self._backend

    @property
    def meta_path(self) -> Path | None:
        """The model's meta.json, which errors in its metadata name (None: made in memory)."""
        return Path(self.path) / files.META if self.path else None

    @property
    def backend_name(self) -> str:
        be = self._backend
        return be.name if hasattr(be, "decode") else getattr(be, "backend_name", "lazy")

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return f"<VAEModel {self.config.arch} {self.config.image_size}px latent={self.latent_dim} backend={self.backend_name}{where}>"

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.config.input_shape

    @property
    def fingerprint(self) -> str:
        fp = self.meta.get("fingerprint")
        if fp:
            return str(fp)
        compute = getattr(self.backend, "fingerprint", None)
        return compute() if compute else "unknown"

    def as_images(self, images: ImagesLike) -> np.ndarray:
        """Convert paths / arrays to float32 (N, S, S, C) at this model's format."""
        if isinstance(images, (str, os.PathLike)):
            images = [images]
        if (
            isinstance(images, (list, tuple))
            and images
            and isinstance(images[0], (str, os.PathLike))
        ):
            return np.stack(
                [load_image(p, self.config.image_size, self.config.channels) for p in images]
            )
        arr = np.asarray(images)
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        arr = arr.astype(np.float32, copy=False)
        if arr.ndim == 3 and arr.shape == self.image_shape:
            arr = arr[None]
        if arr.ndim == 3 and self.config.channels == 1 and arr.shape[1:] == self.image_shape[:2]:
            arr = arr[..., None]
        if arr.ndim != 4 or arr.shape[1:] != self.image_shape:
            raise ConceptVAEError(
                f"expected images of shape (N, {', '.join(map(str, self.image_shape))}), got {arr.shape}"
            )
        return arr

    def encode_posterior(
        self, images: ImagesLike, batch_size: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        x = self.as_images(images)
        means, log_vars = [], []
        for start in range(0, len(x), batch_size):
            m, lv = self.backend.encode(x[start : start + batch_size])
            means.append(m)
            log_vars.append(lv)
        if not means:
            return np.zeros((0, self.latent_dim), np.float32), np.zeros(
                (0, self.latent_dim), np.float32
            )
        mean, log_var = np.concatenate(means), np.concatenate(log_vars)
        if not (np.isfinite(mean).all() and np.isfinite(log_var).all()):
            raise self._damaged("encoder")
        return mean, log_var

    def encode(
        self,
        images: ImagesLike,
        sample: bool = False,
        seed: int | None = None,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Latents (N, D): the posterior mean, or a draw from the posterior if ``sample``."""
        mean, log_var = self.encode_posterior(images, batch_size)
        return posterior_draw(mean, log_var, seed) if sample else mean

    def decode(self, z: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Images (N, S, S, C) in [0, 1] from latents (N, D)."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ConceptVAEError(
                f"latents must have shape (N, {self.latent_dim}) for this model, got {z.shape}"
            )
        if not np.isfinite(z).all():
            raise ConceptVAEError("latents contain NaN or infinite values")
        values = len(z) * int(np.prod(self.image_shape))
        if values > MAX_DECODED_VALUES:
            raise ConceptVAEError(
                f"decoding {len(z):,} images of {self.image_shape[0]}x{self.image_shape[1]} at "
                f"once needs {values * 4:,} bytes; at most {MAX_DECODED_VALUES * 4:,}: ask for "
                "fewer images"
            )
        out = [self.backend.decode(z[s : s + batch_size]) for s in range(0, len(z), batch_size)]
        if not out:
            return np.zeros((0, *self.image_shape), np.float32)
        images = np.concatenate(out)
        if not np.isfinite(images).all():
            raise self._damaged("decoder")
        return images

    def decode_each(self, *latents: np.ndarray) -> list[np.ndarray]:
        """``[self.decode(z) for z in latents]``, the arrays decoded together when
        the backend pads every decoder pass to a fixed batch (``pads_decoder_batch``:
        LiteRT's exported decoder runs 8 rows and gives each row the same bits
        wherever it sits in them). An edit's two decodes of one face then cost one
        pass instead of two. Other backends (Keras: a row's bits can depend on the
        batch it is in) decode each array on its own."""
        zs = [np.asarray(z, dtype=np.float32) for z in latents]
        together = (
            len(zs) > 1
            and all(z.ndim == 2 and z.shape[1] == self.latent_dim for z in zs)
            and sum(map(len, zs)) * int(np.prod(self.image_shape)) <= MAX_DECODED_VALUES
            and getattr(self.backend, "pads_decoder_batch", False)
        )
        if not together:
            return [self.decode(z) for z in zs]
        images = self.decode(np.concatenate(zs))
        return np.split(images, np.cumsum([len(z) for z in zs])[:-1])

    def _damaged(self, part: str) -> ModelError:
        # Finite inputs in, NaN out: the weights themselves are NaN or infinite
        # (a tampered or diverged file), and every picture would be garbage.
        return ModelError(
            f"the model's {part} returns NaN or infinite values: its weights are damaged",
            self.path,
        )

    def reconstruct(self, images: ImagesLike, batch_size: int = 256) -> np.ndarray:
        return self.decode(self.encode(images, batch_size=batch_size), batch_size)

    def sample(self, n: int, temperature: float = 1.0, seed: int | None = None) -> np.ndarray:
        """Decode ``n`` draws from the prior: N(0, temperature^2 I), or the learned
        mixture with each component's spread scaled by ``temperature``."""
        if n < 1:
            raise ConceptVAEError(f"number of samples must be at least 1, got {n}")
        if not np.isfinite(temperature) or temperature < 0:
            raise ConceptVAEError(f"temperature must be a finite number >= 0, got {temperature}")
        rng = np.random.default_rng(seed)
        if self.prior is not None:
            return self.decode(self.prior.sample(n, rng, float(temperature)))
        z = rng.standard_normal((n, self.latent_dim)).astype(np.float32)
        return self.decode(z * np.float32(temperature))


def posterior_draw(mean: np.ndarray, log_var: np.ndarray, seed: int | None) -> np.ndarray:
    """z = mean + exp(log_var / 2) * eps, eps seeded for the whole (N, D) array."""
    eps = np.random.default_rng(seed).standard_normal(mean.shape).astype(np.float32)
    return mean + np.exp(0.5 * log_var) * eps


def load_model_dir(model_dir: Path, backend: str = "auto") -> VAEModel:
    if model_dir.is_file():
        raise ModelError("is a file; a model is a directory (or a .keras file)", model_dir)
    if not model_dir.is_dir():
        raise ModelError("model directory not found", model_dir)
    files.require_files(model_dir, [files.CONFIG])
    cfg = VAEConfig.load(model_dir / files.CONFIG)
    meta = files.read_meta(model_dir)
    choice = backend
    if choice == "auto":
        choice = "litert" if _has_litert(model_dir) else "keras"
    if choice == "litert":
        files.require_files(model_dir, [files.ENCODER_TFLITE, files.DECODER_TFLITE])

        def factory() -> Backend:
            from .litert import LiteRTBackend

            return LiteRTBackend.from_dir(model_dir, cfg)
    elif choice == "keras":
        files.require_files(model_dir, [files.WEIGHTS])

        def factory() -> Backend:
            from .backends import KerasBackend

            return KerasBackend.from_dir(model_dir, cfg)
    else:
        raise ModelError(f"unknown backend {backend!r}; use auto, keras or litert")
    factory.backend_name = choice  # type: ignore[attr-defined]
    prior = None
    if cfg.prior_components:
        files.require_files(model_dir, [PRIOR_FILE])
        prior = GaussianMixture.load(model_dir / PRIOR_FILE, cfg.prior_components, cfg.latent_dim)
    return VAEModel(cfg, factory, model_dir, meta, prior)


def _has_litert(model_dir: Path) -> bool:
    if not (
        (model_dir / files.ENCODER_TFLITE).is_file()
        and (model_dir / files.DECODER_TFLITE).is_file()
    ):
        return False
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:
        return False
    return True


def load_keras_file(path: Path) -> VAEModel:
    """A whole-model ``.keras`` file, loaded with safe_mode (Lambda layers refused)."""
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ModelError("not a .keras file (it is not a zip archive)", path)
    check_keras_archive(path)
    from .backends import KerasBackend
    from .network import VAE, keras  # network imports TensorFlow quietly

    try:
        vae = keras.saving.load_model(path, safe_mode=True, custom_objects={"VAE": VAE})
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for refused/corrupt files
        text = " ".join(str(exc).split())
        if "Lambda" in text or "safe_mode" in text:
            raise ModelError(
                "refused: the file holds a Lambda layer (arbitrary code), which is never loaded",
                path,
            ) from None
        raise ModelError(f"unreadable .keras file ({type(exc).__name__})", path) from None
    if not isinstance(vae, VAE):
        raise ModelError(f"not a conceptvae model (found {type(vae).__name__})", path)
    prior = None
    if vae.prior is not None:
        prior = GaussianMixture(*(np.asarray(w) for w in vae.prior.get_weights()))
    return VAEModel(vae.vae_config, KerasBackend(vae), path, {}, prior)


# A .keras file is checked before Keras builds anything from it: building the
# layers a hostile config asks for (64 dense layers of 4096 units) can exhaust
# memory or crash the process before any weight is read.
MAX_KERAS_PARAMETERS = 200_000_000
MAX_KERAS_LAYERS = 500
MAX_KERAS_CONFIG_BYTES = 16 << 20


def check_keras_archive(path: Path) -> None:
    """Refuse a .keras archive whose config or weights are beyond any conceptvae model."""
    import zipfile

    from ..readers import loads_json

    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            info = infos.get("config.json")
            if info is None:
                raise ModelError("not a .keras file (no config.json inside)", path)
            if info.file_size > MAX_KERAS_CONFIG_BYTES:
                raise ModelError("refused: its config.json is larger than 16 MiB", path)
            weights = sum(i.file_size for n, i in infos.items() if n.endswith(".h5"))
            if weights > MAX_KERAS_PARAMETERS * 4 * 3:
                raise ModelError(f"refused: it holds {weights:,} bytes of weights", path)
            raw = zf.read(info)
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile and zlib raise many types
        raise ModelError(f"unreadable .keras file ({type(exc).__name__})", path) from None
    config = loads_json(raw, path, ".keras config", ModelError)
    layers, params = 0, 0
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node and isinstance(node.get("config"), dict):
                layers += 1
                cfg = node["config"]
                for key in ("units", "filters"):
                    v = cfg.get(key)
                    if isinstance(v, int) and not isinstance(v, bool):
                        if not 0 < v <= 65536:
                            raise ModelError(f"refused: a layer asks for {key}={v}", path)
                        # A layer's weights are at most its width times the widest
                        # layer before it; width squared bounds that from above.
                        params += v * v * (9 if key == "filters" else 1)
                vae_config = cfg.get("vae_config")
                if node.get("class_name") == "VAE" and isinstance(vae_config, dict):
                    from ..config import VAEConfig

                    VAEConfig.from_dict(vae_config, path)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    if layers > MAX_KERAS_LAYERS:
        raise ModelError(f"refused: its config has {layers} layers (at most {MAX_KERAS_LAYERS})", path)
    if params > MAX_KERAS_PARAMETERS:
        raise ModelError(
            f"refused: its config asks for about {params:,} parameters (at most "
            f"{MAX_KERAS_PARAMETERS:,})",
            path,
        )
