"""colorbench train: train a colorizer that declares training support."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from colorbench.cli.app import app, handle_errors, registries


@app.command("train")
@handle_errors
def train_command(
    model: str = typer.Argument(..., help="Colorizer to train (see `colorbench list colorizers`)."),
    dataset: str = typer.Option(..., "--dataset", help="Training dataset name or image directory."),
    data_root: str = typer.Option(None, "--data-root", help="Directory holding one folder per dataset (default: $COLORBENCH_DATA)."),
    split: str = typer.Option("train", help="Training split."),
    val_split: str = typer.Option("val", "--val-split", help="Validation split ('' for none)."),
    config: str = typer.Option(None, "--config", help="A config name of the model (e.g. tiny, paper) or a YAML file."),
    epochs: int = typer.Option(None, help="Epochs (overrides the config)."),
    steps: int = typer.Option(None, help="Optimizer steps (overrides the config and --epochs)."),
    batch_size: int = typer.Option(None, "--batch-size", "-b", help="Global batch (all processes): under torchrun each of N processes takes batch/N."),
    lr: float = typer.Option(None, help="Learning rate."),
    set_: list[str] = typer.Option([], "--set", help="KEY=VALUE training setting (repeatable; keys of the config)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    out: Path = typer.Option(None, "--out", help="Output directory (default: runs/train-<model>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the checkpoint in --out."),
    seed: int = typer.Option(0, help="Random seed."),
    precision: str = typer.Option(None, "--precision", help="fp32, bf16 or fp16 (fp16 with a GradScaler); default: the config's, else fp32."),
    workers: int = typer.Option(None, "--workers", help="DataLoader worker processes (overrides the config)."),
) -> None:
    """Train a colorizer; writes OUT/checkpoint.pt, OUT/config.json and OUT/train_log.csv.

    Use the result with `colorbench run --checkpoint MODEL=OUT`.

    Example: colorbench train ccc --dataset shapes --config tiny --steps 30 --out runs/ccc-tiny
    """
    import torch

    from colorbench import results
    from colorbench.device import resolve_device
    from colorbench.errors import ColorbenchError
    from colorbench.evaluation.selection import resolve_datasets
    from colorbench.models.factory import resolve_checkpoint
    from colorbench.plugin.options import with_defaults
    from colorbench.reporting import Reporter
    from colorbench.results.lock import run_dir_lock
    from colorbench.training import TrainContext, resolve_train_config
    from colorbench.training.state import check_resume

    regs = registries()
    spec = regs.colorizers.get(model)
    if not spec.trainable:
        trainable = ", ".join(s.name for s in regs.colorizers if s.trainable) or "none installed"
        raise ColorbenchError(f"colorizer {spec.name!r} does not support training (trainable: {trainable})")
    cfg = resolve_train_config(spec, config, {"epochs": epochs, "steps": steps, "batch_size": batch_size, "lr": lr,
                                              "precision": precision, "workers": workers}, set_)
    out_dir = out or Path("runs") / f"train-{spec.name}"
    with run_dir_lock(out_dir, "train"):  # one writer per output directory
        if (out_dir / "checkpoint.pt").exists() and not resume:
            raise ColorbenchError(f"{out_dir} already holds a checkpoint; pass --resume to continue or choose another --out")
        if resume:  # the factory's resolution: the same file `run --checkpoint MODEL=OUT` loads
            try:
                resolved = resolve_checkpoint(spec, out_dir)
            except ColorbenchError:
                raise ColorbenchError(f"--resume: no checkpoint.pt in {out_dir} to resume from") from None
            check_resume(resolved.path, cfg)  # before anything is written
        (ds,) = resolve_datasets(regs, [dataset])
        opts = with_defaults(ds.spec, {})
        train_ds = ds.build(split=split, data_root=data_root, options=opts)
        val_ds = None
        if val_split:
            try:
                val_ds = ds.build(split=val_split, data_root=data_root, options=opts)
            except ColorbenchError as exc:
                typer.echo(f"warning: no validation split ({exc})", err=True)
        torch.manual_seed(seed)
        out_dir.mkdir(parents=True, exist_ok=True)
        if int(os.environ.get("RANK", "0") or 0) == 0:  # under torchrun, rank 0 alone writes
            results.write_json(out_dir / "config.json", {"model": spec.name, "dataset": ds.name, "split": split,
                                                          "val_split": val_split or None, "seed": seed, **cfg})
        ctx = TrainContext(dataset=train_ds, val_dataset=val_ds, config=cfg, out_dir=out_dir,
                           device=resolve_device(device), resume=resume, seed=seed, reporter=Reporter(),
                           dataset_name=str(ds.folder) if ds.folder else ds.name, split=split, data_root=data_root, registries=regs)
        assert spec.train is not None
        spec.train(ctx)
    typer.echo(f"checkpoint: {out_dir / 'checkpoint.pt'}")
    typer.echo(f"use it with: colorbench run --models {spec.name} --checkpoint {spec.name}={out_dir}")
