"""conceptvae concepts: build, list, show, rm, rename, export, import."""

from __future__ import annotations

import json
from typing import Any

import click

from conceptvae.concepts.methods import method_names
from conceptvae.options import BUILD_BATCH_SIZE, EXPORT_FORMATS

from .options import backend_option, seed_option
from .progress import progress_bar

ignore_fingerprint_option = click.option(
    "--ignore-fingerprint",
    is_flag=True,
    help="Use a library built for other weights of this architecture anyway.",
)


@click.group()
def concepts() -> None:
    """Concept vectors: build them from labeled images and manage the model's library.

    \b
    The library is MODEL/concepts.h5. Concepts are used by name, or combined in
    expressions such as  smile  -smile  smile+0.5*thick-slant  3->8.
    """


@concepts.command()
@click.argument("model")
@click.argument("data")
@click.option("--labels", metavar="CSV", help="Labels CSV for an image folder.")
@click.option(
    "--attribute",
    "-a",
    "attributes",
    multiple=True,
    metavar="NAME",
    help="A 0/1 label column to build (repeatable).",
)
@click.option("--all", "all_attributes", is_flag=True, help="Build every 0/1 label column.")
@click.option(
    "--method",
    type=click.Choice(method_names()),
    default="mean",
    show_default=True,
    help="Estimator for attribute concepts.",
)
@click.option(
    "--orthogonal-to",
    "orthogonal_to",
    multiple=True,
    metavar="A,B",
    help="Make attribute concepts orthogonal to these concepts (comma-separated).",
)
@click.option(
    "--classes", metavar="COLUMN", help="A multi-class column: one concept per class (use as A->B)."
)
@click.option(
    "--pca",
    type=click.IntRange(1, 4096),
    metavar="K",
    help="Add the K principal directions pc1..pcK.",
)
@click.option(
    "--name", metavar="NAME", help="Name of the single attribute concept (or of the class column)."
)
@click.option(
    "--morpho",
    is_flag=True,
    help="Label digit stroke thickness and slant from the pixels (thick, slant).",
)
@click.option("--replace", is_flag=True, help="Overwrite concepts of the same name.")
@ignore_fingerprint_option
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=BUILD_BATCH_SIZE,
    show_default=True,
    help="Images encoded at once.",
)
@seed_option
@backend_option
def build(
    model: str,
    data: str,
    *,
    labels: str | None,
    attributes: tuple[str, ...],
    all_attributes: bool,
    method: str,
    orthogonal_to: tuple[str, ...],
    classes: str | None,
    pca: int | None,
    name: str | None,
    morpho: bool,
    replace: bool,
    ignore_fingerprint: bool,
    batch_size: int,
    seed: int,
    backend: str,
) -> None:
    """Build concepts for MODEL from the labeled images in DATA."""
    from conceptvae.commands.concepts import build_concepts

    with progress_bar("encoding") as progress:
        result = build_concepts(
            model,
            data,
            labels=labels,
            attributes=list(attributes),
            all_attributes=all_attributes,
            method=method,
            orthogonal_to=[o for item in orthogonal_to for o in item.split(",")],
            classes=classes,
            pca=pca or 0,
            name=name,
            morpho=morpho,
            replace=replace,
            ignore_fingerprint=ignore_fingerprint,
            seed=seed,
            batch_size=batch_size,
            backend=backend,
            progress=progress,
        )
    _table(result.concepts)
    click.echo(
        f"added {len(result.concepts)} concept(s) to {result.library} "
        f"({result.images} images, {result.seconds:.1f} s)"
    )


@concepts.command("list")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@ignore_fingerprint_option
def list_(model: str, as_json: bool, ignore_fingerprint: bool) -> None:
    """List the concepts of MODEL's library, with how far to trust each."""
    from conceptvae.commands.concepts import list_concepts

    data = list_concepts(model, ignore_fingerprint)
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    if not data["concepts"]:
        click.echo(f"no concepts yet in {data['library']}")
        return
    _table(data["concepts"])


@concepts.command()
@click.argument("model")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print everything (vector included) as JSON.")
@ignore_fingerprint_option
def show(model: str, name: str, as_json: bool, ignore_fingerprint: bool) -> None:
    """Show one concept (or class column) of MODEL's library in detail."""
    from conceptvae.commands.concepts import show_concept

    data = show_concept(model, name, ignore_fingerprint)
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    if data["kind"] == "class set":
        click.echo(f"{data['name']}: class column with {len(data['classes'])} classes")
        _table(data["rows"])
        return
    _details(data)


@concepts.command()
@click.argument("model")
@click.argument("names", nargs=-1, required=True)
@ignore_fingerprint_option
def rm(model: str, names: tuple[str, ...], ignore_fingerprint: bool) -> None:
    """Remove concepts NAMES (a class column by its name removes all its classes)."""
    from conceptvae.commands.concepts import remove_concepts

    removed = remove_concepts(model, list(names), ignore_fingerprint)
    click.echo(f"removed {', '.join(removed)}")


@concepts.command()
@click.argument("model")
@click.argument("old")
@click.argument("new")
@ignore_fingerprint_option
def rename(model: str, old: str, new: str, ignore_fingerprint: bool) -> None:
    """Rename concept OLD to NEW."""
    from conceptvae.commands.concepts import rename_concept

    rename_concept(model, old, new, ignore_fingerprint)
    click.echo(f"renamed {old} to {new}")


@concepts.command()
@click.argument("model")
@click.argument("names", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    help="Output format [default: from the file name].",
)
@click.option("--out", "-o", required=True, metavar="FILE", help="Output .json or .npz.")
@ignore_fingerprint_option
def export(
    model: str, names: tuple[str, ...], fmt: str | None, out: str, ignore_fingerprint: bool
) -> None:
    """Export MODEL's concepts (all, or NAMES) to a JSON or npz file."""
    from conceptvae.commands.concepts import export_library

    path, count = export_library(model, out, fmt, list(names) or None, ignore_fingerprint)
    click.echo(f"wrote {path}: {count} concept(s)")


@concepts.command("import")
@click.argument("model")
@click.argument("file")
@click.argument("names", nargs=-1)
@click.option("--replace", is_flag=True, help="Overwrite concepts of the same name.")
@ignore_fingerprint_option
def import_(
    model: str, file: str, names: tuple[str, ...], replace: bool, ignore_fingerprint: bool
) -> None:
    """Import concepts (all, or NAMES) from an export or another concepts.h5 into MODEL."""
    from conceptvae.commands.concepts import import_library

    added = import_library(model, file, replace, ignore_fingerprint, list(names) or None)
    click.echo(f"imported {len(added)} concept(s): {', '.join(added)}")


# -- formatting ----------------------------------------------------------------------------


def _num(value: Any, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _trust(row: dict[str, Any]) -> str:
    return row.get("trust") or "-"


def _counts(row: dict[str, Any]) -> str:
    if row.get("n_pos") is None:
        return "-"
    return f"{row['n_pos']}/{row['n_neg']}" if row.get("n_neg") is not None else str(row["n_pos"])


def _table(rows: list[dict[str, Any]]) -> None:
    header = ["NAME", "KIND", "METHOD", "+/-", "ACC", "AUC", "P", "STABILITY", "NORM", "TRUST"]
    body = [
        [
            r["name"],
            r["kind"],
            r["method"],
            _counts(r),
            _num(r.get("probe_accuracy")),
            _num(r.get("probe_auc")),
            _p(r.get("p_value")),
            _num(r.get("stability")),
            _num(r.get("norm")),
            _trust(r),
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    for line in [header, *body]:
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())


def _details(d: dict[str, Any]) -> None:
    info = d.get("info") or {}
    m = info.get("metrics") or {}
    lines: list[tuple[str, str]] = [("name", d["name"])]
    if d["kind"] == "attribute":
        origin = "measured from pixels" if info.get("labels") == "morpho" else "from labels"
        lines.append(("kind", f"attribute (column {info.get('column')}, {origin})"))
    elif d["kind"] == "pc":
        lines.append(("kind", f"principal direction {info.get('component')}"))
    else:
        lines.append(("kind", f"class of column {info.get('column')} (set {d.get('class_set')})"))
    lines.append(("method", d["method"]))
    if d["kind"] == "attribute":
        lines.append(
            (
                "examples",
                f"{info.get('n_pos')} with, {info.get('n_neg')} without, "
                f"{info.get('n_unknown', 0)} unknown",
            )
        )
    elif d["kind"].startswith("class"):
        lines.append(("examples", f"{d.get('n_pos')} of {d.get('n_pos', 0) + d.get('n_neg', 0)}"))
    lines.append(("norm", f"{_num(d.get('norm'), '.4f')} (amount 1.0 = one typical difference)"))
    if d["kind"] == "pc":
        lines.append(("variance", f"{_num(m.get('explained_variance_ratio'), '.1%')} of the total"))
    else:
        sample = m.get("sample_size")
        lines.append(
            (
                "probe",
                f"balanced accuracy {_num(d.get('probe_accuracy'))}, "
                f"AUC {_num(d.get('probe_auc'))} (held out; sample of {sample})",
            )
        )
        if m.get("direction_auc") is not None:
            lines.append(
                ("direction", f"held-out AUC of the projection {_num(m['direction_auc'])}")
            )
        significant = d.get("p_value") is not None and d["p_value"] < m.get("alpha", 0.05)
        lines.append(
            (
                "significance",
                f"p = {_p(d.get('p_value'))} "
                f"({m.get('permutations', info.get('permutations'))} label permutations): "
                f"{'significant' if significant else 'NOT SIGNIFICANT'} at {m.get('alpha', 0.05)}",
            )
        )
        lines.append(("trust", f"{_trust(d)} (from the probe and the test above)"))
    lines.append(
        (
            "stability",
            f"{_num(d.get('stability'))} (mean cosine over {m.get('bootstraps')} bootstrap fits)",
        )
    )
    if info.get("balanced_on"):
        lines.append(("balanced on", ", ".join(info["balanced_on"])))
    if info.get("orthogonal_to"):
        lines.append(("orthogonal to", ", ".join(info["orthogonal_to"])))
    data = info.get("data") or {}
    if data:
        lines.append(
            (
                "data",
                f"{data.get('source')} ({data.get('images')} images, {data.get('fingerprint')})",
            )
        )
    lines.append(("created", str(info.get("created"))))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        click.echo(f"{k:<{width}}  {v}")
