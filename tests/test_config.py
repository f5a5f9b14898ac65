import json

import pytest

from conceptvae.config import VAEConfig, default_filters
from conceptvae.errors import ConceptVAEError


def test_round_trip_json(tmp_path):
    cfg = VAEConfig(image_size=16, latent_dim=4, filters=[8, 16], beta=0.5, recon_loss="mse")
    cfg.save(tmp_path / "config.json")
    assert VAEConfig.load(tmp_path / "config.json") == cfg
    assert json.loads((tmp_path / "config.json").read_text())["latent_dim"] == 4


def test_defaults_follow_image_size():
    assert default_filters(28) == [32, 64]
    assert default_filters(64) == [32, 64, 128]
    assert VAEConfig(arch="dense").hidden == [512]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"channels": 2}, "channels"),
        ({"arch": "resnet"}, "arch"),
        ({"beta": -1.0}, "beta"),
        ({"image_size": 28, "filters": [8, 8, 8]}, "divisible"),
        ({"recon_loss": "l1"}, "recon_loss"),
    ],
)
def test_invalid_configs_name_the_field(kwargs, words):
    with pytest.raises(ConceptVAEError, match=words):
        VAEConfig(**kwargs)


def test_unknown_keys_and_bad_json_are_refused(tmp_path):
    p = tmp_path / "config.json"
    p.write_text('{"latent_dim": 4, "lambda": 1}')
    with pytest.raises(ConceptVAEError, match="unknown model config keys: lambda"):
        VAEConfig.load(p)
    p.write_text("{not json")
    with pytest.raises(ConceptVAEError, match="not valid JSON"):
        VAEConfig.load(p)
