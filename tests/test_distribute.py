"""train --distribute: MirroredStrategy over two logical CPUs, and two
MultiWorkerMirroredStrategy workers on 127.0.0.1 (killed, resumed, loaded, edited).

Strategies are per process and must exist before TensorFlow runs anything, so
every distributed run here is a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conceptvae.cli.options import flag
from conftest import invoke
from PIL import Image

from conceptvae.errors import ConceptVAEError
from conceptvae.model import files

TINY = ["--latent-dim", "4", "--filters", "8", "--batch-size", "32", "--seed", "3"]

MIRRORED = """
import json, sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from conceptvae.errors import ConceptVAEError
from conceptvae.training import train

data, out = sys.argv[1], sys.argv[2]
# 80 images, 16 held out: 64 training images make two whole batches of 32, so
# one device and two replicas see exactly the same batches.
kw = dict(latent_dim=4, filters=[8], epochs=3, batch_size=32, val_split=0.2, seed=3, verbose=0)
one = train(data, out + "/one", **kw)
two = train(data, out + "/two", distribute="mirrored", devices=["CPU:0", "CPU:1"], **kw)
# --iwae K: the chief's validation computes the IWAE's loss on K draws per image.
iw = {**kw, "iwae": 3, "recon_loss": "bernoulli"}
one_iw = train(data, out + "/one_iwae", **iw)
two_iw = train(data, out + "/two_iwae", distribute="mirrored", devices=["CPU:0", "CPU:1"], **iw)
try:
    train(data, out + "/odd", distribute="mirrored", devices=["CPU:0", "CPU:1"], **{**kw, "batch_size": 33})
    odd = "trained"
except ConceptVAEError as exc:
    odd = str(exc)
print(json.dumps({"one": [one.metrics, one.history], "two": [two.metrics, two.history], "odd": odd,
                  "iwae": [[one_iw.metrics, one_iw.history], [two_iw.metrics, two_iw.history]]}))
"""


def test_mirrored_over_two_logical_cpus_matches_one_device(tmp_path):
    x = (np.random.default_rng(0).random((100, 16, 16)) > 0.6).astype(np.uint8) * 255
    data = tmp_path / "d.npz"
    np.savez(
        data, x_train=x[:80], y_train=np.arange(80) % 2, x_test=x[80:], y_test=np.arange(20) % 2
    )
    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(data), str(tmp_path)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    (m1, h1), (m2, h2) = got["one"], got["two"]
    assert abs(m1["test_mse"] - m2["test_mse"]) < 1e-5
    for key in ("loss", "val_loss", "val_mse"):
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-5)
    (m1, h1), (m2, h2) = got["iwae"]
    assert abs(m1["test_elbo"] - m2["test_elbo"]) < 1e-3
    for key in ("loss", "val_loss", "val_reconstruction_loss"):
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-5)
    assert "multiple of the 2 replicas" in got["odd"]
    meta = json.loads((tmp_path / "two" / files.META).read_text())
    assert meta["training"]["distribute"] == {"strategy": "mirrored", "replicas": 2, "workers": 1}
    names = {p.name for p in (tmp_path / "one").iterdir()}
    assert names == {p.name for p in (tmp_path / "two").iterdir()}


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _workers(data: Path, outs: list[Path], *args: str) -> list[subprocess.Popen]:
    hosts = [f"127.0.0.1:{p}" for p in _free_ports(len(outs))]
    procs = []
    for i, out in enumerate(outs):
        env = dict(os.environ)
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI's own quiet default applies
        env["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}
        )
        cmd = [sys.executable, "-m", "conceptvae", "train", str(data), "--out", str(out),
               *TINY, "--distribute", "multiworker", *args]  # fmt: skip
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    return procs


def _finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"worker still running after {timeout} s: {err[-2000:]}")
    return proc.returncode, out, err


def test_two_workers_killed_resumed_then_the_model_loads_and_edits(npz_data, tmp_path, runner):
    """The chief killed with SIGKILL makes the other worker exit with one line;
    both restarted with --resume finish the run from the chief's checkpoint;
    only the chief wrote anything."""
    from conceptvae import load_model
    from conceptvae.training import read_checkpoint_state

    model, elsewhere = tmp_path / "model", tmp_path / "worker1"  # worker 1's --out
    chief, other = _workers(npz_data, [model, elsewhere], "--epochs", "1000")
    ckpt = model / files.CHECKPOINT
    deadline = time.monotonic() + 180
    while not ckpt.exists() and time.monotonic() < deadline and chief.poll() is None:
        time.sleep(0.2)
    assert ckpt.exists(), _finish(chief, 5)
    chief.send_signal(signal.SIGKILL)
    code, _, err = _finish(other, 120)
    chief.communicate()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: lost another worker"), err
    assert "restart every worker with --resume" in lines[0]

    done = read_checkpoint_state(ckpt)["epoch"]
    procs = _workers(npz_data, [model, elsewhere], "--resume", "--epochs", str(done + 1))
    results = [_finish(p) for p in procs]
    assert [r[0] for r in results] == [0, 0], [r[2][-2000:] for r in results]
    assert results[0][1].strip().splitlines()[-1].startswith(f"saved {model}: test MSE")
    assert f"the chief saved (on its machine) {model}: test MSE" in results[1][1]
    assert not elsewhere.exists()  # the other worker wrote nothing, anywhere

    history = json.loads((model / files.HISTORY).read_text())
    assert len(history["loss"]) == done + 1 and "val_loss" in history
    meta = json.loads((model / files.META).read_text())
    assert meta["training"]["distribute"] == {
        "strategy": "multiworker",
        "replicas": 2,
        "workers": 2,
    }
    m = load_model(model)  # the LiteRT flatbuffers, as after one-device training
    assert m.encode(np.zeros((1, 16, 16, 1), np.float32)).shape == (1, 4)
    assert m.backend.name == "litert"
    r = invoke(runner, "concepts", "build", model, npz_data, "--classes", "label")
    assert r.exit_code == 0, r.output
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    r = invoke(
        runner, "edit", tmp_path / "a.png", "-c", "0->1", "-m", model, "-o", tmp_path / "e.png"
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "e.png").is_file()


def test_a_worker_started_with_other_options_stops_every_worker(monkeypatch):
    """The decision logic of check_command; the all-reduce of the flags (a stand-in
    here) runs for real in every two-worker test."""
    from conceptvae.distribute import Cluster, check_command, collectives

    chief, other = (
        Cluster(None, "multiworker", 2, 2, 0, True),
        Cluster(None, "multiworker", 2, 2, 1, False),
    )
    run = {"latent_dim": 4, "filters": [8], "data": "d.npz", "epochs": 3}
    monkeypatch.setattr(collectives, "_sum", lambda cluster, v: np.array([1.0]))  # one differs
    with pytest.raises(ConceptVAEError) as exc:
        check_command(other, {"latent_dim": 8, "filters": (8,), "data": "d.npz"}, run)
    assert exc.value.render(flag) == (
        "this worker's --latent-dim 8 differs from the chief's run (4); run the same command on "
        "every worker"
    )
    with pytest.raises(ConceptVAEError, match="another worker was started with other options"):
        check_command(chief, {"latent_dim": 4}, run)
    monkeypatch.setattr(collectives, "_sum", lambda cluster, v: np.array([0.0]))
    check_command(other, {"filters": [8], "epochs": 3}, run)  # the same command


@pytest.mark.parametrize(
    ("tf_config", "args", "message"),
    [
        (None, ["--distribute", "multiworker"], "needs the TF_CONFIG environment variable"),
        ("{not json", ["--distribute", "multiworker"], "TF_CONFIG must be JSON"),
        (json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}),
         ["--distribute", "multiworker"], "task index 3 is not one of the 1 worker task(s)"),
        (None, ["--devices", "CPU:0"], "--devices needs --distribute mirrored"),
        (None, ["--distribute", "mirrored", "--devices", "GPU:7"], "no device 'GPU:7' here"),
        (None, ["--mixed-precision"], "--mixed-precision needs a GPU"),
        (None, ["--mixed-precision", "--adversarial", "0.1"],
         "--adversarial trains on one device, without --mixed-precision"),
    ],
)  # fmt: skip
def test_bad_distribution_options_are_one_line_errors(
    npz_data, tmp_path, runner, monkeypatch, tf_config, args, message
):
    # All refused before any strategy exists, so they can run in this process.
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf_config is not None:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    r = invoke(runner, "train", npz_data, "--out", tmp_path / "m", *TINY, "--epochs", "1", *args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], r.stderr
    assert not (tmp_path / "m").exists()


def test_mixed_precision_trains_a_float32_model_directory(npz_data, tmp_path, monkeypatch):
    """The float16 path, forced on this CPU (the CLI refuses it without a GPU):
    it learns as float32 does, and the model directory holds float32 weights
    and LiteRT graphs like any other."""
    import keras

    from conceptvae import distribute, load_model
    from conceptvae.training import train

    monkeypatch.setattr(distribute, "check_mixed_precision", lambda: None)
    kw = dict(latent_dim=4, filters=[8], epochs=3, batch_size=32, seed=1, verbose=0)
    mixed = train(npz_data, tmp_path / "mp", mixed_precision=True, **kw)
    plain = train(npz_data, tmp_path / "fp", **kw)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is put back
    np.testing.assert_allclose(mixed.history["loss"], plain.history["loss"], rtol=0.01)
    assert abs(mixed.metrics["test_mse"] - plain.metrics["test_mse"]) < 0.002
    m = load_model(tmp_path / "mp", backend="keras")
    assert all(w.dtype == np.float32 for w in m.backend.vae.get_weights())
    assert {p.name for p in (tmp_path / "mp").iterdir()} == {
        p.name for p in (tmp_path / "fp").iterdir()
    }
    assert json.loads((tmp_path / "mp" / files.META).read_text())["training"]["mixed_precision"]


def test_lost_worker_errors_become_one_line():
    import tensorflow as tf

    from conceptvae.distribute import Cluster, lost_worker

    two, one = Cluster(None, "multiworker", 2, 2, 0, True), Cluster(None, "mirrored", 2, 1, 0, True)
    heartbeat = tf.errors.UnavailableError(
        None, None, "Collective ops is aborted by: Error reported from /job:worker/task:1: The "
        "following tasks are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1\n",
    )  # fmt: skip
    assert str(lost_worker(heartbeat, two)) == (
        "lost another worker (worker 1 stopped sending heartbeats); restart every worker with resume"
    )
    reset = tf.errors.InternalError(None, None, "Collective ops is aborted by: Socket closed\nmore")
    assert "(Socket closed)" in str(lost_worker(reset, two))
    assert lost_worker(heartbeat, one) is None  # one process: nobody else to lose
    assert lost_worker(tf.errors.InternalError(None, None, "a bug"), two) is None
    assert lost_worker(ValueError("x"), two) is None


def _config(workers, index=0, **extra) -> str:
    return json.dumps({"cluster": {"worker": workers, **extra}, "task": {"type": "worker", "index": index}})


@pytest.mark.parametrize(
    ("tf_config", "message"),
    [
        (_config(["127.0.0.1:1", "127.0.0.1:2"], ps=["127.0.0.1:3"]), "names a 'ps' job"),
        (_config(["127.0.0.1:5", "127.0.0.1:5"]), "lists 127.0.0.1:5 twice"),
        (_config(["127.0.0.1:1", "no-such-host.invalid:2"]), "cannot be resolved"),
        (_config(["127.0.0.1:1", "127.0.0.1:2"], index=True), "index must be a whole number"),
        (_config(["127.0.0.1:1", "127.0.0.1:2"], index=float("inf")), "index must be a whole number"),
        (_config(["127.0.0.1:1", "127.0.0.1:2"], index=1.5), "index must be a whole number"),
        (_config(["127.0.0.1:1", "127.0.0.1:http"]), "port from 1 to 65535"),
        (_config(["127.0.0.1:1", "127.0.0.1:70000"]), "port from 1 to 65535"),
        (_config(["127.0.0.1:1", 5]), "must be host:port"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "evaluator", "index": 0}}',
         "task type must be chief or worker"),
    ],
)  # fmt: skip
def test_tf_configs_that_can_never_start_are_refused(
    npz_data, tmp_path, runner, monkeypatch, tf_config, message
):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    r = invoke(runner, "train", npz_data, "--out", tmp_path / "m", *TINY, "--epochs", "1",
               "--distribute", "multiworker")  # fmt: skip
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], r.stderr
    assert not (tmp_path / "m").exists()


def test_a_port_already_in_use_is_one_line(npz_data, tmp_path, runner, monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        other = _free_ports(1)[0]
        monkeypatch.setenv("TF_CONFIG", _config([f"127.0.0.1:{port}", f"127.0.0.1:{other}"]))
        r = invoke(runner, "train", npz_data, "--out", tmp_path / "m", *TINY, "--epochs", "1",
                   "--distribute", "multiworker")  # fmt: skip
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("Error: ") and f"port {port} is not free" in r.stderr, r.stderr


def _lone_worker(npz_data, out, timeout: str) -> subprocess.Popen:
    env = dict(os.environ)
    env["TF_CONFIG"] = _config([f"127.0.0.1:{p}" for p in _free_ports(2)])
    env["CONCEPTVAE_COLLECTIVE_TIMEOUT"] = timeout
    cmd = [sys.executable, "-m", "conceptvae", "train", str(npz_data), "--out", str(out),
           *TINY, "--epochs", "1", "--distribute", "multiworker"]  # fmt: skip
    # Ctrl-C as at a terminal: a test run started in the background (a shell's `&`)
    # passes SIGINT on ignored, and a program started so rightly keeps ignoring it.
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip


def test_a_worker_whose_peer_never_starts_says_so_and_gives_up(npz_data, tmp_path):
    code, _, err = _finish(_lone_worker(npz_data, tmp_path / "m", "4"), 120)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert "waiting for worker 1 (127.0.0.1:" in err and "of at most 4 s" in err
    assert lines[-1].startswith("Error: TF_CONFIG: worker 1 (127.0.0.1:")
    assert "did not start within 4 s" in lines[-1]
    assert "Traceback" not in err and not (tmp_path / "m").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_waiting_worker_stops_on_sigterm_and_ctrl_c(npz_data, tmp_path, sig):
    proc = _lone_worker(npz_data, tmp_path / "m", "600")
    seen = ""
    while "waiting for" not in seen:  # the first report comes after 2 s of waiting
        line = proc.stderr.readline()
        assert line or proc.poll() is None, seen
        seen += line
    proc.send_signal(sig)
    code, _, err = _finish(proc, 60)
    assert code == 130, seen + err
    assert (seen + err).strip().splitlines()[-1] in ("Aborted.", "Interrupted.")
    assert not (tmp_path / "m").exists()
