"""conceptvae export."""

from __future__ import annotations

import click


@click.command()
@click.argument("model")
@click.option("--force", is_flag=True, help="Re-create the flatbuffers even if the model has them.")
def export(model: str, force: bool) -> None:
    """Write MODEL's LiteRT flatbuffers (encoder.tflite, decoder.tflite).

    Models trained with this version already have them; inference commands
    use them and skip TensorFlow. Each graph is checked against the Keras
    model on random inputs (max |diff| <= 1e-4) before it is written.
    """
    from conceptvae.model.export import export_model

    result = export_model(model, force=force)
    if result.skipped:
        click.echo(f"{result.paths[0].parent}: already has its flatbuffers (--force re-creates)")
        return
    diff = max(result.max_abs_diff.values())
    for path in result.paths:
        click.echo(str(path))
    click.echo(f"verified against Keras: max |diff| {diff:.2g} ({result.seconds:.1f} s)")
