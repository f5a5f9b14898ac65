"""grid, scatter and the labelled sample sheet: sizes, layouts, colours, same bytes twice."""

import hashlib
import shutil
from statistics import NormalDist

import numpy as np
import pytest
from conftest import invoke
from PIL import Image

from conceptvae.concepts.library import Concept, ConceptLibrary
from conceptvae.config import VAEConfig
from conceptvae.errors import ConceptVAEError
from conceptvae.latent_maps import grid, grid_latents, project, scatter
from conceptvae.model.identity import model_ref
from conceptvae.model.loaded import VAEModel
from conceptvae.render import PALETTE, plot_points, sample_sheet


class RecordingBackend:
    """Decodes z to a flat image of brightness sigmoid(z1); remembers what it decoded."""

    name = "fake"

    def __init__(self):
        self.seen = []

    def decode(self, z):
        self.seen.append(np.array(z))
        v = 1 / (1 + np.exp(-z[:, :1]))
        return np.broadcast_to(v[:, None, None, :], (len(z), 16, 16, 1)).astype(np.float32)

    def encode(self, x):
        m = np.stack([x.mean((1, 2, 3)), x[:, :8].mean((1, 2, 3))], 1).astype(np.float32)
        return m, np.zeros_like(m)


def fake_model(latent_dim=2):
    cfg = VAEConfig(image_size=16, latent_dim=latent_dim, filters=[8, 16])
    return VAEModel(cfg, RecordingBackend())


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def with_concepts(tmp_path, tiny_model):
    """A copy of the tiny model with a concept library holding smile, pc1 and pc2."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    ref = model_ref(model)
    lib = ConceptLibrary(ref.latent_dim, ref.fingerprint)
    for name, kind, v in [("smile", "attribute", [1, 0, 0, 0]), ("pc1", "pc", [0, 2, 0, 0]),
                          ("pc2", "pc", [0, 0, 0, 1.5])]:  # fmt: skip
        lib.add_concept(Concept(name, kind, "mean", np.asarray(v, np.float32)))
    lib.write(ref.library_path)
    return model


# -- grid ----------------------------------------------------------------------------------


def test_2d_latent_grid_walks_normal_quantiles():
    model = fake_model(2)
    z, labels = grid_latents(model, n=5)
    q = [NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, 5)]
    assert z.shape == (25, 2)
    np.testing.assert_allclose(z[:5, 0], q, atol=1e-6)  # columns: z1 rising to the right
    np.testing.assert_allclose(z[::5, 1], q[::-1], atol=1e-6)  # rows: z2 rising upwards
    assert labels["x"] == "z1" and labels["cols"][0] == "-1.64" and labels["rows"][0] == "+1.64"
    pic = grid(model, n=5)
    assert pic.mode == "RGB" and pic.size[0] > 5 * 48 and pic.size[1] > 5 * 48
    np.testing.assert_allclose(model.backend.seen[-1], z)
    assert grid(model, n=5).tobytes() == pic.tobytes()


def test_grid_needs_axes_for_larger_latents_and_checks_options(tiny_model):
    model = fake_model(4)
    with pytest.raises(ConceptVAEError, match=r"latent has 4 dimensions: name two axes"):
        grid(tiny_model, n=3)
    with pytest.raises(ConceptVAEError, match=r"n \(cells per side\) must be"):
        grid_latents(model, n=1, axes=("z1", "z2"))
    with pytest.raises(ConceptVAEError, match=r"span must be a finite number"):
        grid_latents(model, n=3, axes=("z1", "z2"), span=float("inf"))
    with pytest.raises(ConceptVAEError, match=r"axis 'z9' is not a latent axis"):
        grid_latents(model, n=3, axes=("z1", "z9"))
    z, _ = grid_latents(model, n=3, axes=("z2", "z4"), span=1.5)
    np.testing.assert_allclose(z[0], [0, -1.5, 0, 1.5])  # top left: -span across, +span up
    np.testing.assert_allclose(z[4], 0)  # the middle cell is the centre


def test_grid_cli_with_latent_axes(runner, tiny_model, tmp_path):
    out = tmp_path / "g.png"
    r = invoke(runner, "grid", "-m", tiny_model, "--axes", "z1,z3", "-n", 4, "-o", out)
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:
        assert im.mode == "RGB" and min(im.size) > 4 * 48
    first = digest(out)
    invoke(runner, "grid", "-m", tiny_model, "--axes", "z1,z3", "-n", 4, "-o", out)
    assert digest(out) == first
    r = invoke(runner, "grid", "-m", tiny_model, "-o", out)
    assert r.exit_code == 2 and "--axes A,B" in r.stderr
    r = invoke(runner, "grid", "-m", tiny_model, "--axes", "z1", "-o", out)
    assert r.exit_code == 2 and "two names separated by a comma" in r.stderr


def test_grid_along_concepts_and_principal_directions(runner, with_concepts, tmp_path):
    from conceptvae.model.api import load_model

    model = load_model(with_concepts)
    z, labels = grid_latents(model, n=3, span=1.0, center="seed:3")  # default: pc1, pc2
    c = np.random.default_rng(3).standard_normal(4).astype(np.float32)
    np.testing.assert_allclose(z[4], c, atol=1e-6)
    np.testing.assert_allclose(z[5] - z[4], [0, 2, 0, 0], atol=1e-6)  # one step right: +pc1
    np.testing.assert_allclose(z[1] - z[4], [0, 0, 0, 1.5], atol=1e-6)  # one step up: +pc2
    assert labels["title"] == "pc1 across, pc2 up, around seed 3"
    out = tmp_path / "smile.png"
    r = invoke(runner, "grid", "-m", with_concepts, "--axes", "smile,z2", "--center", "seed:1",
               "-n", 3, "--size", 32, "-o", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    r = invoke(runner, "grid", "-m", with_concepts, "--axes", "smil,z2", "-o", out)
    assert r.exit_code == 2 and "smil" in r.stderr and "smile" in r.stderr


# -- scatter -----------------------------------------------------------------------------


def colour_pixels(im, colour, tol=12):
    a = np.asarray(im.convert("RGB")).astype(int)
    return int((np.abs(a - np.array(colour)).max(-1) <= tol).sum())


def test_scatter_cli_draws_classes_with_a_legend(runner, tiny_model, npz_data, tmp_path):
    out = tmp_path / "sc.png"
    r = invoke(runner, "scatter", npz_data, "-m", tiny_model, "-o", out)
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:
        assert im.size == (800, 600)
        assert colour_pixels(im, PALETTE[0]) > 50 and colour_pixels(im, PALETTE[1]) > 50
        assert colour_pixels(im, PALETTE[2]) == 0  # two classes, two colours
    first = digest(out)
    invoke(runner, "scatter", npz_data, "-m", tiny_model, "-o", out)
    assert digest(out) == first
    r = invoke(runner, "scatter", npz_data, "-m", tiny_model, "-o", out, "--color-by", "nope")
    assert r.exit_code == 2 and "no label column 'nope' (columns: label)" in r.stderr
    r = invoke(runner, "scatter", npz_data, "-m", tiny_model, "-o", out, "--max-points", 0)
    assert r.exit_code == 2 and "--max-points must be" in r.stderr


def test_scatter_of_a_labelled_folder_with_tsne(tiny_model, image_folder):
    pic = scatter(tiny_model, image_folder, color_by="left", method="tsne", width=500,
                  height=400, max_points=20)  # fmt: skip
    assert pic.size == (500, 400)
    assert colour_pixels(pic, PALETTE[0]) > 0 and colour_pixels(pic, PALETTE[1]) > 0
    default = scatter(tiny_model, image_folder, width=500, height=400)  # colours by "shape"
    assert colour_pixels(default, PALETTE[0]) > 0


def test_projection():
    z = np.random.default_rng(0).standard_normal((50, 2))
    xy, names = project(z)
    np.testing.assert_array_equal(xy, z)
    assert names == ("z1", "z2")
    z5 = np.random.default_rng(0).standard_normal((50, 5)) * [5, 2, 1, 1, 1]
    xy, names = project(z5, "pca")
    assert xy.shape == (50, 2) and names[0].startswith("PC1 (") and "% of variance" in names[0]
    assert np.var(xy[:, 0]) > np.var(xy[:, 1])
    with pytest.raises(ConceptVAEError, match="unknown projection 'umap'"):
        project(z5, "umap")


def test_many_classes_share_an_other_colour():
    rng = np.random.default_rng(0)
    xy = rng.standard_normal((300, 2))
    cat = rng.integers(-1, 30, 300)
    pic = plot_points(xy, cat, [f"c{i}" for i in range(30)], ("x", "y"), "thirty classes")
    assert pic.size == (800, 600)
    for colour in PALETTE[:19]:
        assert colour_pixels(pic, colour, tol=4) > 0


# -- sample --grid ------------------------------------------------------------------------


def test_sample_grid_is_labelled(runner, tiny_model, tmp_path):
    out = tmp_path / "g.png"
    r = invoke(runner, "sample", "-m", tiny_model, "-n", 64, "--grid", "-o", out)
    assert r.exit_code == 0, r.output
    with Image.open(out) as im:
        w, h = im.size
        a = np.asarray(im.convert("L"))
    assert w > 8 * 18 + 10 and h > 8 * 18 + 10  # room for row labels and the title
    assert a[:20].min() < 100  # the title is drawn above the grid
    sheet = sample_sheet(np.zeros((10, 16, 16, 1), np.float32))
    assert sheet.size[0] < sample_sheet(np.zeros((10, 16, 16, 1)), seed=0).size[0]


def test_one_layout_routine_draws_every_look():
    from conceptvae.render import CAPTIONED, FIGURE, GRID, layout

    a = Image.fromarray(np.full((4, 4), 10, np.uint8))
    b = Image.fromarray(np.full((4, 4), 200, np.uint8))
    pic = layout([a, b], 2, GRID, pad=2)
    assert pic.mode == "L" and pic.size == (2 * (4 + 2) + 2, 4 + 2 + 2)
    assert pic.getpixel((2, 2)) == 10 and pic.getpixel((8, 2)) == 200 and pic.getpixel((0, 0)) == 255
    # A blank cell stays page-white; captions widen their column and add a line.
    cap = layout([a, None], 2, CAPTIONED, pad=4, captions=["a long caption", ""])
    assert cap.size[0] > 2 * (4 + 4) + 4 and cap.size[1] > 4 + 2 * 4
    assert cap.getpixel((cap.size[0] - 6, 6)) == 255
    fig = layout([a, b], 2, FIGURE, title="t", x_caption="x", y_caption="y")
    assert fig.mode == "RGB" and fig.size[1] > pic.size[1] + 22
