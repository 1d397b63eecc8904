"""colorbench colorize: colour your own black-and-white photos."""

from __future__ import annotations

from pathlib import Path

import typer

from colorbench.cli.app import app, handle_errors, registries


@app.command("colorize")
@handle_errors
def colorize_command(
    model: str = typer.Argument(..., help="Colorizer to use."),
    inputs: list[Path] = typer.Argument(..., help="Image files or directories."),
    out: Path = typer.Option(..., "--out", help="Output directory (PNG files, same relative names)."),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Checkpoint file or 'train --out' directory."),
    size: int = typer.Option(256, help="The model sees the photo at SIZE x SIZE; colour is upsampled to the full photo (0: native size)."),
    set_: list[str] = typer.Option([], "--set", help="KEY=VALUE colorizer option (repeatable)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    save_maps: bool = typer.Option(False, "--save-maps", help="Also write the model's intermediate maps (e.g. semantic maps) to OUT/maps/<id>.png, for colorizers with a save_maps hook."),
) -> None:
    """Colorize photos at their full resolution: the model predicts a*b* at SIZE, which is
    upsampled and joined with each photo's own L*.

    Example: colorbench colorize gray old_photos/ --out colored/

    With --save-maps, a colorizer that has a save_maps(DIR) hook (e.g. semantic) also writes
    the maps it used, as editable PNGs in OUT/maps/.
    """
    import torch

    from colorbench.device import resolve_device
    from colorbench.errors import ColorbenchError
    from colorbench.evaluation.images import (
        is_image_file,
        list_image_files,
        load_rgb,
        refuse_collisions,
        save_png,
    )
    from colorbench.models.factory import create_colorizer, resolve_checkpoint
    from colorbench.models.inference import colorize_rgb
    from colorbench.plugin.options import resolve_options, with_defaults

    regs = registries()
    spec = regs.colorizers.get(model)
    given = resolve_options(set_, [spec])[spec.name]
    ckpt = resolve_checkpoint(spec, checkpoint, with_defaults(spec, given))
    files: list[tuple[str, Path]] = []
    for item in inputs:
        if item.is_dir():
            ids, paths = list_image_files(item)
            files += list(zip(ids, paths, strict=True))
        elif item.is_file() and is_image_file(item):
            files.append((item.stem, item))
        else:
            raise ColorbenchError(f"{item}: not an image file or directory")
    if not files:
        raise ColorbenchError("no images found in the inputs")
    refuse_collisions(files, "colorize")  # two inputs would write one output file
    dev = resolve_device(device)
    colorizer = create_colorizer(regs, spec.name, ckpt, dev, given)
    if save_maps and not spec.saves_maps:
        raise ColorbenchError(f"--save-maps: colorizer {spec.name!r} has no maps to save (its spec does not declare saves_maps)")
    failed = 0
    for image_id, path in files:
        try:
            rgb = load_rgb(path)
            with torch.inference_mode():
                result = colorize_rgb(colorizer, rgb, size=size, device=dev, image_id=image_id,
                                      with_info=spec.provides_info)
            save_png(result, out / f"{image_id}.png")
            if save_maps:
                colorizer.save_maps(out / "maps")
        except ColorbenchError as exc:
            failed += 1
            typer.echo(f"error: {exc}", err=True)
        except Exception as exc:  # a colorizer's own bug fails this photo, not the command
            failed += 1
            typer.echo(f"error: {path}: colorizer {spec.name!r} failed: {type(exc).__name__}: "
                       f"{' '.join(str(exc).split())}", err=True)
    typer.echo(f"wrote {len(files) - failed} images to {out}" + (f"; {failed} failed" if failed else ""))
    if failed:
        raise typer.Exit(1)
