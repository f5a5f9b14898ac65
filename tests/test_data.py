import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from conceptvae.data import FolderDataset, open_dataset, read_idx, split_indices
from conceptvae.errors import DataError


def write_idx(path, array, gz=False):
    header = b"\0\0\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def test_folder_with_labels_csv(image_folder):
    ds = open_dataset(image_folder)
    assert isinstance(ds, FolderDataset)
    assert len(ds) == 24 and ds.shape == (20, 20, 1)
    assert ds.labels["left"].dtype == np.int8 and set(ds.labels["left"]) <= {0, 1}
    assert set(ds.labels["shape"]) == {"sq", "big"}
    batches = list(ds.iter_batches(10))
    assert [len(i) for i, _ in batches] == [10, 10, 4]
    assert batches[0][1].dtype == np.uint8 and batches[0][1].shape == (10, 20, 20, 1)


def test_folder_without_labels_is_recursive_and_resizes(image_folder, tmp_path):
    for sub in ("x", "x/y"):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), (255, 0, 0)).save(tmp_path / "x" / "a.jpg")
    Image.new("L", (30, 30), 128).save(tmp_path / "x" / "y" / "b.webp")
    ds = open_dataset(tmp_path, image_size=16, channels=3)
    assert ds.keys == ["x/a.jpg", "x/y/b.webp"]
    x = ds.load_float()
    assert x.shape == (2, 16, 16, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert x[0, 8, 8, 0] > 0.9 and x[0, 8, 8, 1] < 0.1


def test_npz_layouts(npz_data, tmp_path):
    ds = open_dataset(npz_data)
    assert len(ds) == 96 and ds.test is not None and len(ds.test) == 32
    assert ds.labels["label"][0] in {"0", "1"}
    p = tmp_path / "xy.npz"
    np.savez(p, x=np.random.rand(5, 12, 12, 3).astype(np.float32), y=np.arange(5))
    ds2 = open_dataset(p, channels=1)
    assert ds2.load().shape == (5, 12, 12, 1)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_with_labels(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 255, (7, 28, 28))
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", np.arange(7), gz)
    ds = open_dataset(tmp_path / f"train-images-idx3-ubyte{suffix}")
    assert len(ds) == 7 and ds.shape == (28, 28, 1)
    assert list(ds.labels["label"]) == [str(i) for i in range(7)]
    assert np.array_equal(ds.load()[..., 0], images.astype(np.uint8))


def test_truncated_idx_is_refused(tmp_path):
    p = tmp_path / "t-images-idx3-ubyte"
    write_idx(p, np.zeros((4, 8, 8)))
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated"):
        read_idx(p)


def test_keras_name_from_cache_and_offline_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(DataError) as err:
        open_dataset("mnist")
    assert str(tmp_path / "datasets" / "mnist.npz") in str(err.value)
    assert "\n" not in str(err.value)
    (tmp_path / "datasets").mkdir()
    np.savez(tmp_path / "datasets" / "mnist.npz", x_train=np.zeros((3, 28, 28), np.uint8),
             y_train=np.arange(3), x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.arange(2))  # fmt: skip
    ds = open_dataset("mnist")
    assert len(ds) == 3 and len(ds.test) == 2


def _folder(tmp_path, csv_text, names=("a.png", "b.png")):
    for n in names:
        Image.new("L", (8, 8), 0).save(tmp_path / n)
    (tmp_path / "labels.csv").write_text(csv_text)
    return tmp_path


@pytest.mark.parametrize(
    "csv_text, message",
    [
        ("file,smile\na.png,1\nmissing.png,0\n", "not found.*missing.png"),
        ("name,smile\na.png,1\n", "no file column"),
        ("file,smile\na.png,1\na.png,0\n", "duplicate row for 'a.png'"),
        ("file,smile\na.png,1,3\n", "line 2 has 3 fields"),
        ("file,smile\n", "at least one data row"),
    ],
)
def test_bad_labels_csv(tmp_path, csv_text, message):
    root = _folder(tmp_path, csv_text)
    with pytest.raises(DataError, match=message) as err:
        open_dataset(root)
    assert err.value.path.endswith("labels.csv")


def test_missing_column_names_the_columns(image_folder):
    ds = open_dataset(image_folder)
    with pytest.raises(DataError, match="no label column 'smile' \\(columns: left, shape\\)"):
        ds.label_column("smile")


def test_errors_for_missing_and_unknown_sources(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(DataError, match="unrecognised data format"):
        open_dataset(tmp_path / "data.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        open_dataset(tmp_path / "empty")


def test_split_is_seeded_and_disjoint():
    a, b = split_indices(100, 0.1, seed=3)
    a2, b2 = split_indices(100, 0.1, seed=3)
    assert np.array_equal(a, a2) and np.array_equal(b, b2)
    assert len(b) == 10 and not set(a) & set(b) and len(a) + len(b) == 100
