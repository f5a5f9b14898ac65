"""conceptvae info / models."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def info(model: str, as_json: bool) -> None:
    """Show a model's config, size, data fingerprint and metrics."""
    from conceptvae.model.info import model_info

    data = model_info(model)
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    cfg = data["config"]
    click.echo(f"model      {data['path']}")
    click.echo(
        f"network    {cfg['arch']} {cfg['image_size']}x{cfg['image_size']}x{cfg['channels']}, "
        f"latent {cfg['latent_dim']}, filters {cfg['filters']}, hidden {cfg['hidden']}, "
        f"{cfg['activation']}, beta {cfg['beta']}, {cfg['recon_loss']} loss"
    )
    c = cfg.get("prior_components", 0)
    click.echo("prior      " + (f"a learned mixture of {c} diagonal Gaussians (prior.npz)"
                                if c else "the standard normal N(0, I)"))  # fmt: skip
    click.echo(f"parameters {data['parameters']:,}")
    click.echo(f"weights    {data['fingerprint']}")
    click.echo(f"backends   {', '.join(data['backends'])}")
    d = data.get("data") or {}
    if d:
        click.echo(
            f"data       {d.get('source')} ({d.get('images')} images, {d.get('fingerprint')})"
        )
    for k, v in sorted((data.get("metrics") or {}).items()):
        click.echo(f"  {k:<26} {v}")
    if data.get("command"):
        click.echo(f"command    {data['command']}")


@click.command()
def models() -> None:
    """List pretrained models and your own (under $CONCEPTVAE_HOME/models)."""
    from conceptvae.model.registry import home, list_models
    from conceptvae.resolve import concept_summary

    entries = list_models()
    if not entries:
        click.echo(f"no models found (pretrained, or under {home() / 'models'})")
    for e in entries:
        click.echo(f"{e.name:<16} {e.source:<11} {e.path}")
        click.echo(f"{'':<16} concepts: {concept_summary(e.path)}")
