import numpy as np
import pytest

from conceptvae.errors import ConceptVAEError
from conceptvae.latent import lerp, outside_typical_shell, path, slerp


def test_slerp_endpoints_and_constant_norm():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(8), rng.standard_normal(8)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    t = np.linspace(0, 1, 11)
    z = slerp(a, b, t)
    np.testing.assert_allclose(z[0], a, atol=1e-5)
    np.testing.assert_allclose(z[-1], b, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), np.linalg.norm(a), rtol=1e-5)
    # lerp sags toward the origin in between
    assert np.linalg.norm(lerp(a, b, 0.5)) < np.linalg.norm(a)


def test_slerp_identical_and_opposite_endpoints():
    a = np.array([3.0, 4.0, 0.0])
    np.testing.assert_allclose(slerp(a, a, np.linspace(0, 1, 5)), np.tile(a, (5, 1)), atol=1e-6)
    z = slerp(a, -a, np.linspace(0, 1, 9))
    assert np.isfinite(z).all()
    np.testing.assert_allclose(z[0], a, atol=1e-5)
    np.testing.assert_allclose(z[-1], -a, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 5.0, rtol=1e-5)
    assert abs(z[4] @ a) < 1e-4  # the midpoint is perpendicular, not the origin


@pytest.mark.parametrize("frames", [1, 2, 7, 30])
@pytest.mark.parametrize("loop", [False, True])
def test_path_has_exactly_n_frames_through_every_key(frames, loop):
    keys = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    z = path(keys, frames, loop=loop, easing="cosine")
    assert z.shape == (frames, 4)
    np.testing.assert_allclose(z[0], keys[0], atol=1e-5)
    if not loop and frames > 1:
        np.testing.assert_allclose(z[-1], keys[-1], atol=1e-5)
    if loop and frames > 2:
        step_to_start = np.linalg.norm(z[-1] - z[0])
        assert step_to_start < np.linalg.norm(keys[1] - keys[0])


def test_path_passes_through_the_middle_key():
    keys = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    z = path(keys, 31)  # 2 segments, 15 steps each: frame 15 is the middle key
    np.testing.assert_allclose(z[15], keys[1], atol=1e-5)
    steps = np.linalg.norm(np.diff(z, axis=0), axis=1)
    assert steps.max() < 3 * np.median(steps)  # smooth: no jumps between frames


def test_bad_arguments():
    with pytest.raises(ConceptVAEError, match="frames"):
        path(np.zeros((2, 3)), 0)
    with pytest.raises(ConceptVAEError, match="easing"):
        path(np.ones((2, 3)), 5, easing="bounce")


def test_typical_shell():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((100, 64))
    assert not outside_typical_shell(z)
    assert outside_typical_shell(z[:1] * 5)
