"""Choices, defaults and ranges shared by the library and its front ends.

Plain constants, no imports: the library checks values against them and the
CLI builds its ``Choice`` lists, ``IntRange`` bounds and ``--help`` defaults from
them, so a choice or a bound is written once. (Training defaults live on
:class:`conceptvae.config.TrainOptions`.)
"""

# -- models --------------------------------------------------------------------
BACKENDS = ("auto", "keras", "litert")
ARCHES = ("conv", "dense")
# The decoder's pixel likelihood. "bce" and "bernoulli" are the same loss (the
# decoder emits logits; the cross-entropy is the Bernoulli log-likelihood);
# "bernoulli" says the model is meant for binary pixels (--binarize), which makes
# its test NLL (`evaluate --nll`) a normalised likelihood. "mse" is a Gaussian
# of fixed variance up to a constant, and has no NLL.
RECON_LOSSES = ("bce", "mse", "bernoulli")
MAX_IWAE_SAMPLES = 1000  # --iwae K: each step decodes every image K times
MAX_PRIOR_COMPONENTS = 10_000  # --prior-components C: a mixture prior's Gaussians
MAX_NLL_SAMPLES = 100_000  # evaluate --samples
DEFAULT_NLL_SAMPLES = 500  # the usual quick setting; the papers' tables use 5000
ACTIVATIONS = ("relu", "swish", "gelu", "leaky_relu", "elu")
# How the conv decoder doubles its resolution: "transpose" (stride-2 transposed
# convs, the original networks) or "resize" (nearest-neighbour upsampling, then
# a 3x3 conv: no checkerboard from uneven kernel overlap, Odena et al. 2016).
UPSAMPLES = ("transpose", "resize")
MAX_SIZE = 4096  # pixels per side of an output picture or frame (--size)

# -- editing ---------------------------------------------------------------------
# The edit modes, one line of help each: the one table of modes. Each name is a module
# of conceptvae/editing/modes/ holding its ``MODE``; a new mode is that module plus an
# entry here (the CLI's --mode choices and help, meta.json checks and the studio read it).
EDIT_MODES = {
    "decode": "the decoder's image",
    "detail": "input + (decode(z') - decode(z)) at the input's own resolution (keeps the "
    "photograph's detail)",
    "blend": "detail outside the region the concept changes, the edited decode (with the "
    "photo's lighting) inside it, joined by a Laplacian pyramid",
    "warp": "faces in photographs: the photo's own pixels moved as the decoder moves the "
    "face's shape (colour, texture and identity kept; a mouth it opens drawn in), faces "
    "turned far or tiny left as they are; other inputs as detail",
}
# Amount 1 is one typical difference between images without and with a concept;
# beyond a hundred of those the latent is nowhere near the data, so it is a typo.
MAX_AMOUNT = 100.0
DEFAULT_AMOUNT = 1.0
DEFAULT_MAX_AMOUNT = 3.0
MAX_STEPS = 64  # amounts in a traversal or sweep
DEFAULT_RANGE = (-3.0, 3.0)
DEFAULT_TRAVERSE_STEPS = 9
MAX_ANALOGY_STEPS = 16
DEFAULT_ANALOGY_STEPS = 3

# -- sequences and animations ------------------------------------------------------
EASINGS = ("linear", "cosine")
INTERPOLATIONS = ("slerp", "lerp")
DEFAULT_STEPS = 8
DEFAULT_FRAMES = 48
MAX_FRAMES = 10000
MAX_FPS = 100.0
# The slowest rate every format holds exactly: a frame of 100 s is 10,000
# hundredths in a GIF (at most 65,535) and 100,000 ms in a WebP (at most 2**24 - 1);
# slower rates would be truncated or overflow the frame-delay fields.
MIN_FPS = 0.01
MAX_SEED = 2**64 - 1  # seeds of --seed and seed:N (numpy's generators take any size)
# Pixels one command may render in all (every frame of an animation, every file of
# a sample folder): about a minute of encoding; beyond that an in-range
# --frames x --size asks for hours.
MAX_TOTAL_PIXELS = 1_000_000_000
MAX_THREADS = 64  # CONCEPTVAE_THREADS: the LiteRT runtime crashes on absurd counts
DEFAULT_FPS = 12.0

# -- sampling and latent maps -------------------------------------------------------
MAX_SAMPLES = 10000
MAX_TEMPERATURE = 100.0
DEFAULT_GRID_N = 9
MAX_GRID = 50
DEFAULT_SPAN = 2.0
MAX_SPAN = 10.0
PROJECTIONS = ("pca", "tsne")
DEFAULT_MAX_POINTS = 2000
MAX_POINTS = 100_000
PLOT_PIXELS = (200, 4000)  # width and height of a scatter plot

# -- concepts -------------------------------------------------------------------------
EXPORT_FORMATS = ("json", "npz")
BUILD_BATCH_SIZE = 512
