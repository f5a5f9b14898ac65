"""Region-limited blending of an edited decode into the photograph (``--mode blend``,
and ``--mode detail`` for a model that tunes it).

Plain ``--mode detail`` adds the decoded change to the photograph everywhere. Where a
concept redraws a part of the face (a smile redraws the mouth), that leaves the
photograph's old, sharp mouth under a faint new one. Blend mode instead:

1. finds where the edit redraws the decoded face (a soft mask where the change
   is large, see :class:`BlendSettings`);
2. inside it, takes the edited decode with the photograph's own low frequencies
   (lighting, skin tone, colour) put back, ``decode(z') + lowpass(photo - decode(z))``
   (with the default ``redraw`` 1 and ``gain`` 1);
3. outside it, keeps ``photo + change`` (detail mode, which is the photograph
   where the change is 0, so an edit that changes nothing returns the photograph),
   or only the change's shading (``outside_sigma``);
4. joins the two with a Laplacian pyramid (Burt & Adelson 1983): each frequency
   band is mixed under a mask smoothed to that band's scale, so there is no seam.

Pure numpy + Pillow, so inference stays TensorFlow-free.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class BlendSettings:
    """The knobs of blend mode (a model may set them in ``meta.json`` under
    ``edit_defaults.blend``). Grey levels are in [0, 1], on the model's decodes.

    * mask: the blurred size of the change, as a fraction of its largest value in
      the image, ramps from ``rel_low`` to ``rel_high`` (the region the concept
      redraws, not everything it nudges), times ``min(1, largest / full_change)``
      so that a small edit gets a faint mask and no edit none;
    * inside: ``photo + gain * change - redraw * highpass(photo - decode(z))``:
      ``gain`` calibrates the amount for photographs, ``redraw`` 1 takes out the
      photograph's own fine structure there (the old mouth) so the decoder's
      redrawn one is not drawn over it;
    * outside: ``photo + outside_gain * lowpass(change, outside_sigma)`` (gain 1 and
      sigma 0: detail mode's plain sum). A sigma of a pixel or two keeps the
      photograph's own structure there and moves only its shading: the decoder's
      fine texture in the change is not the photograph's, and drawing it over
      the eyes and cheeks costs the person more than it adds to the edit.

    * outside_from, outside_full: the outside change fades in down the model's
      framing, from none above row ``outside_from`` (a fraction of the height) to
      all of it below ``outside_full`` (0 and 0: everywhere). On an aligned faces
      model a smile also moves the decoded hair and forehead a little (what smiling
      photographs share, not the smile), and drawing that on a person costs more
      of the photograph than it adds to the edit; the redraw where the change is
      strong is not limited.

    * removal: where the edit takes away fine structure the start decode had
      (teeth when a smile closes), by ``removal`` grey levels of local contrast
      or more (blurred over ``removal_blur``), the region is redrawn too, even
      where the change itself is small: the photograph's own copy of what the
      edit removes must go, while what an edit adds can be drawn over the
      photograph. 0: off.

    A model may tune these per mode (``edit_defaults.blend``, ``edit_defaults.detail``).
    """

    rel_low: float = 0.3
    rel_high: float = 0.6
    full_change: float = 0.08
    gain: float = 1.0
    redraw: float = 1.0
    outside_gain: float = 1.0
    mask_blur: float = 1.5  # model pixels
    lowpass_sigma: float = 3.0  # model pixels: what "fine structure" means
    outside_sigma: float = 0.0  # model pixels
    outside_from: float = 0.0  # fraction of the height
    outside_full: float = 0.0  # fraction of the height
    removal: float = 0.0  # grey levels of lost local contrast; 0: off
    removal_blur: float = 3.0  # model pixels

    @classmethod
    def from_meta(cls, entry: Any, key: str = "blend") -> BlendSettings:
        if entry is None:
            return cls()
        names = {f.name for f in fields(cls)}
        if (
            not isinstance(entry, dict)
            or not set(entry) <= names
            or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                for v in entry.values()
            )
        ):
            raise ValueError(f"edit_defaults.{key} must map some of {sorted(names)} to numbers")
        made = cls(**{k: float(v) for k, v in entry.items()})
        widths = (made.mask_blur, made.lowpass_sigma, made.outside_sigma, made.removal_blur)
        if not all(0 <= w <= MAX_SIGMA for w in widths):
            raise ValueError(
                f"edit_defaults.{key}: mask_blur, lowpass_sigma, outside_sigma and "
                f"removal_blur must be between 0 and {MAX_SIGMA:g} model pixels"
            )
        limited = made.outside_from or made.outside_full
        if limited and not 0 <= made.outside_from <= made.outside_full <= 1:
            raise ValueError(
                f"edit_defaults.{key}: outside_from and outside_full must satisfy "
                "0 <= outside_from <= outside_full <= 1"
            )
        if not 0 <= made.removal <= 1:
            raise ValueError(f"edit_defaults.{key}: removal must be from 0 (off) to 1")
        if not 0 < made.full_change <= 1:
            raise ValueError(
                f"edit_defaults.{key}: full_change must be more than 0 and at most 1 "
                "(grey levels)"
            )
        if not (0 <= made.rel_low <= 1 and 0 <= made.rel_high <= 1):
            raise ValueError(
                f"edit_defaults.{key}: rel_low and rel_high must be from 0 to 1 (fractions "
                "of the largest change)"
            )
        gains = (made.gain, made.redraw, made.outside_gain)
        if not all(abs(g) <= MAX_GAIN for g in gains):
            raise ValueError(
                f"edit_defaults.{key}: gain, redraw and outside_gain must be from "
                f"-{MAX_GAIN:g} to {MAX_GAIN:g}"
            )
        return made


# Blur widths are in model pixels; a wider one than any model is meaningless (and
# a huge one would only cost time).
MAX_SIGMA = 64.0
# Gains multiply a change in grey levels of [0, 1]: beyond this every pixel
# saturates, and a huge one overflows to inf and NaN.
MAX_GAIN = 100.0


LEVELS = 4


def _resize(channel: np.ndarray, side: int, resample: int = Image.BICUBIC) -> np.ndarray:
    if channel.shape[0] == side:
        return channel.astype(np.float64)
    img = Image.fromarray(np.ascontiguousarray(channel, np.float32), mode="F")
    return np.asarray(img.resize((side, side), resample), np.float64)


def _blur(channel: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D array (edges reflected)."""
    if sigma <= 0:
        return channel
    radius = max(1, int(3.0 * sigma + 0.5))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    k /= k.sum()
    out = np.asarray(channel, np.float64)
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius, radius)
        padded = (
            np.pad(out, pad, mode="symmetric")
            if out.shape[axis] > radius
            else np.pad(out, pad, mode="edge")
        )
        windows = np.lib.stride_tricks.sliding_window_view(padded, len(k), axis=axis)
        out = windows @ k
    return out


# Above this sigma a direct kernel costs O(sigma) per pixel (71 s for a 2048-pixel
# picture); a low-pass that wide is as well computed on a reduced copy.
DIRECT_SIGMA = 8.0


def _lowpass(channel: np.ndarray, sigma: float) -> np.ndarray:
    """``_blur`` for any sigma in time bounded by the image's size: wide blurs run
    on a copy shrunk so that the kernel spans at most ``DIRECT_SIGMA`` pixels."""
    if sigma <= DIRECT_SIGMA:
        return _blur(channel, sigma)
    factor = sigma / DIRECT_SIGMA
    side = channel.shape[0]
    small = max(2, int(round(side / factor)))
    # A box shrink adds its own blur (variance factor**2 / 12 in big pixels' units
    # of 1/12): take it out of the kernel run on the small copy.
    rest = float(np.sqrt(max(DIRECT_SIGMA**2 - 1.0 / 12.0, 0.25)))
    shrunk = _resize(channel, small, Image.BOX)
    return _resize(_blur(shrunk, rest), side, Image.BICUBIC)


def _each(fn, image: np.ndarray, *args) -> np.ndarray:  # noqa: ANN001
    return np.stack([fn(image[..., c], *args) for c in range(image.shape[-1])], axis=-1)


def change_mask(change: np.ndarray, settings: BlendSettings) -> np.ndarray:
    """(S, S) weights in [0, 1] from an (S, S, C) decoded change at model resolution."""
    size = _blur(np.abs(np.asarray(change, np.float64)).max(axis=-1), settings.mask_blur)
    top = float(size.max())
    if top <= 0:
        return np.zeros_like(size)
    ramp = (size / top - settings.rel_low) / max(settings.rel_high - settings.rel_low, 1e-9)
    return np.clip(ramp, 0.0, 1.0) * min(1.0, top / settings.full_change)


def removal_mask(start: np.ndarray, edited: np.ndarray, settings: BlendSettings) -> np.ndarray:
    """(S, S) weights in [0, 1]: where the edited decode has lost the start decode's
    fine structure (its contrast above a 1.5-pixel blur) by ``settings.removal``."""
    fine = lambda im: np.abs(im - _each(_blur, im, 1.5))  # noqa: E731
    drop = (fine(np.asarray(start, np.float64)) - fine(np.asarray(edited, np.float64))).max(-1)
    return np.clip(_blur(drop, settings.removal_blur) / settings.removal, 0.0, 1.0)


def _pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Laplacian pyramid of an (S, S, C) image: band-pass levels, then the residual."""
    out, cur = [], image
    for _ in range(levels):
        side = cur.shape[0]
        if side < 4:
            break
        small = _each(_resize, _each(_blur, cur, 1.0), (side + 1) // 2, Image.BILINEAR)
        out.append(cur - _each(_resize, small, side, Image.BILINEAR))
        cur = small
    out.append(cur)
    return out


def _collapse(pyr: list[np.ndarray]) -> np.ndarray:
    cur = pyr[-1]
    for band in reversed(pyr[:-1]):
        cur = band + _each(_resize, cur, band.shape[0], Image.BILINEAR)
    return cur


def pyramid_blend(inside: np.ndarray, outside: np.ndarray, mask: np.ndarray,
                  levels: int = LEVELS) -> np.ndarray:  # fmt: skip
    """Multi-band blend of two (S, S, C) images under an (S, S) mask (1 = inside)."""
    pa, pb = _pyramid(inside, levels), _pyramid(outside, levels)
    m, bands = mask.astype(np.float64), []
    for a, b in zip(pa, pb):
        mm = _resize(m, a.shape[0], Image.BILINEAR)[..., None]
        bands.append(mm * a + (1.0 - mm) * b)
        m = _blur(m, 1.0)
    return _collapse(bands)


def blend_edit(photo: np.ndarray, start: np.ndarray, edited: np.ndarray,
               settings: BlendSettings | None = None) -> np.ndarray:  # fmt: skip
    """The blend-mode edit of ``photo`` (S, S, C in [0, 1], any S) given the model's
    decodes ``start`` = decode(z) and ``edited`` = decode(z') (s, s, c)."""
    st = settings or BlendSettings()
    photo = np.asarray(photo, np.float64)
    start, edited = np.asarray(start, np.float64), np.asarray(edited, np.float64)
    side, channels = photo.shape[0], photo.shape[-1]
    mask = change_mask(edited - start, st)
    if st.removal > 0:
        mask = np.maximum(mask, removal_mask(start, edited, st))
    scale = side / start.shape[0]
    up = lambda im: np.broadcast_to(  # noqa: E731 - a grey model's decode on every channel
        _each(_resize, im, side), (side, side, channels)
    )
    start_up = up(start)
    change = up(edited) - start_up
    shading = _each(_lowpass, change, st.outside_sigma * scale) if st.outside_sigma else change
    if st.outside_full > 0:
        rows = (np.arange(side) + 0.5) / side
        ramp = (rows - st.outside_from) / max(st.outside_full - st.outside_from, 1e-9)
        shading = shading * np.clip(ramp, 0.0, 1.0)[:, None, None]
    outside = photo + st.outside_gain * shading
    if not mask.any():  # no change (or outside_gain's share of it) anywhere
        return np.clip(outside, 0.0, 1.0).astype(np.float32)
    residual = photo - start_up
    fine = residual - _each(_lowpass, residual, st.lowpass_sigma * scale)
    inside = photo + st.gain * change - st.redraw * fine
    levels = LEVELS + max(0, int(np.log2(max(scale, 1.0))))
    out = pyramid_blend(inside, outside, _resize(mask, side, Image.BILINEAR), levels)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
