"""Build the git-ignored bundle that the GPU check needs on an offline machine.

    .venv/bin/python benchmarks/gpu/prepare.py            # from the project root, on this machine

writes ``benchmarks/gpu/_bundle/`` (idempotent: files already there are kept):

  wheels/   the dependencies the GPU machine lacks (pyproject's dependencies, cp312 manylinux
            x86_64 or pure-Python wheels) and whatever their Requires-Dist adds that is
            not preinstalled there
  data/     imagenet-sample: a spread of its train split and of its val split, re-encoded
            (JPEG, short side <= 256), and its whole held-out test split byte for byte;
            cbsd68: every image re-encoded as JPEG at its own size; flowers-recognition:
            its held-out test split byte for byte. Splits are the ``folder`` dataset's
            seeded hash split of the ids, so ``split: test`` of colorbench/benchmarks/cpu-real.yaml
            selects the same images here as on ../shared/data.
  MANIFEST.json   what was made, and the options

and prints the bundle's size, the checkout's and their sum against the 64 MiB that travel.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = Path(__file__).resolve().parent / "_bundle"
LIMIT_MIB = 64
# On the GPU machine (Python 3.12, torch and torchvision preinstalled) these exist, with
# their own dependencies (joblib, threadpoolctl come with scikit-learn).
PREINSTALLED = frozenset({
    "torch", "torchvision", "numpy", "pandas", "scipy", "scikit-image", "scikit-learn", "pillow", "pyyaml",
    "rich", "typer", "pluggy", "tqdm", "matplotlib", "opencv-python-headless", "opencv-python", "timm",
    "torchmetrics", "pytest", "pytest-xdist", "hypothesis", "joblib", "threadpoolctl", "packaging"})
TARGET = {"python_version": "3.12", "python_full_version": "3.12.0", "platform_machine": "x86_64",
          "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def missing_requirements(requirements: list[str]) -> list[tuple[str, str]]:
    """(name, "name<specifier>") of the requirements that apply on the GPU machine (markers
    evaluated for it, extras left out) and are not preinstalled there."""
    from packaging.requirements import Requirement

    out = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(TARGET):
            continue
        if canonical(req.name) not in PREINSTALLED:
            out.append((canonical(req.name), f"{req.name}{req.specifier}"))
    return out


def wheel_requires(wheel: Path) -> list[str]:
    """Requires-Dist of a wheel (every line; markers are evaluated by the caller)."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(meta).decode("utf-8").splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]


def wheel_name(wheel: Path) -> str:
    return canonical(wheel.name.split("-")[0])


def locked(lock: Path) -> dict[str, str]:
    """name -> the exact ``name==version`` the lock file pins for the GPU machine."""
    from packaging.requirements import Requirement

    out = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(TARGET):
                out[canonical(req.name)] = f"{req.name}{req.specifier}"
    return out


def download_wheels(dest: Path) -> list[Path]:
    """pyproject's dependencies missing on the GPU machine, then their missing requirements,
    each at the version requirements/lock.txt pins (the one the tests ran with)."""
    dest.mkdir(parents=True, exist_ok=True)
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = locked(ROOT / "requirements" / "lock.txt")
    todo, done = missing_requirements(deps), set()
    while todo:
        name, req = todo.pop(0)
        if name in done:
            continue
        done.add(name)
        req = pins.get(name, req)
        have = [w for w in dest.glob("*.whl") if wheel_name(w) == name]
        if not have:
            platforms = [a for p in PLATFORMS for a in ("--platform", p)]
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                   "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest), req]
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
            have = [w for w in dest.glob("*.whl") if wheel_name(w) == name]
        todo += missing_requirements(wheel_requires(have[0]))
    return sorted(dest.glob("*.whl"))


def spread(items: list, n: int) -> list:
    """``n`` items evenly spaced over ``items`` (all of them when there are fewer)."""
    if n >= len(items):
        return list(items)
    return [items[(i * len(items)) // n] for i in range(n)]


def write_jpeg(src: Path, dst: Path, quality: int, short_side: int) -> None:
    """Decode as colorbench does (EXIF, any mode -> RGB8), shrink to ``short_side``, JPEG."""
    from PIL import Image

    from colorbench.evaluation.images import load_rgb

    img = Image.fromarray(load_rgb(src))
    scale = short_side / min(img.size)
    if scale < 1:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    tmp = dst.with_name(f".{dst.name}.tmp")
    img.save(tmp, "JPEG", quality=quality)
    tmp.replace(dst)


def copy_dataset(src: Path, dst: Path, plan: dict[str, tuple[int | None, str]], quality: int, short_side: int,
                 seed: int = 0) -> dict[str, int]:
    """Copy the splits of ``src`` named in ``plan`` (split -> (how many or None for all,
    "copy" byte for byte or "jpeg")) into ``dst``, keeping the ids; returns counts."""
    from colorbench_datasets.folder import split_of

    from colorbench.evaluation.images import list_image_files

    ids, files = list_image_files(src)
    by_split: dict[str, list[tuple[str, Path]]] = {}
    for image_id, path in zip(ids, files, strict=True):
        split = "all" if "all" in plan else split_of(image_id, seed, 0.1, 0.1)
        by_split.setdefault(split, []).append((image_id, path))
    counts = {}
    for split, (n, how) in plan.items():
        chosen = spread(by_split.get(split, []), n) if n is not None else by_split.get(split, [])
        for image_id, path in chosen:
            suffix = path.suffix if how == "copy" else ".jpg"
            target = dst / f"{image_id}{suffix}"
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if how == "copy":
                shutil.copyfile(path, target)
            else:
                write_jpeg(path, target, quality, short_side)
        counts[split] = len(chosen)
    return counts


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def checkout_bytes(bundle: Path) -> int:
    """What the device copy takes besides the bundle: tracked and untracked, not ignored."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    paths = [ROOT / p for p in listed if p]
    return sum(p.stat().st_size for p in paths if p.is_file() and bundle not in p.parents)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data",
                    help="folder with imagenet-sample/, cbsd68/, flowers-recognition/ (default: ../shared/data)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle folder (default: benchmarks/gpu/_bundle)")
    ap.add_argument("--train-images", type=int, default=512, help="imagenet-sample train images (spread over the split)")
    ap.add_argument("--val-images", type=int, default=120,
                    help="imagenet-sample val images (training's validation; the router labels them: all 111 by default)")
    ap.add_argument("--train-quality", type=int, default=85, help="JPEG quality of the training images")
    ap.add_argument("--test-quality", type=int, default=90, help="JPEG quality of re-encoded test images (cbsd68)")
    ap.add_argument("--no-wheels", action="store_true", help="skip the wheels (tests; no registry needed)")
    args = ap.parse_args(argv)
    source, out = args.source, args.out
    for name in ("imagenet-sample", "cbsd68", "flowers-recognition"):
        if not (source / name).is_dir():
            print(f"error: {source / name} not found; pass --source with the shared data folder "
                  "(see ../shared/data/README.md)", file=sys.stderr)
            return 2
    data = out / "data"
    made = {
        "imagenet-sample": copy_dataset(source / "imagenet-sample", data / "imagenet-sample",
                                        {"train": (args.train_images, "jpeg"), "val": (args.val_images, "jpeg"),
                                         "test": (None, "copy")}, args.train_quality, 256),
        "cbsd68": copy_dataset(source / "cbsd68", data / "cbsd68", {"all": (None, "jpeg")}, args.test_quality, 512),
        "flowers-recognition": copy_dataset(source / "flowers-recognition", data / "flowers-recognition",
                                            {"test": (None, "copy")}, args.test_quality, 512),
    }
    wheels = [] if args.no_wheels else download_wheels(out / "wheels")
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or None
    manifest = {"format": "colorbench-gpu-bundle/1", "commit": commit, "options": {k: str(v) for k, v in vars(args).items()
                                                                  if k not in ("source", "out")},
                "datasets": made, "wheels": {w.name: hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels}}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for name, counts in made.items():
        print(f"data/{name}: " + ", ".join(f"{split} {n}" for split, n in counts.items())
              + f" ({tree_bytes(data / name) / 2**20:.1f} MiB)")
    for w in wheels:
        print(f"wheels/{w.name} ({w.stat().st_size / 2**10:.0f} KiB)")
    du = subprocess.run(["du", "-sh", str(out)], capture_output=True, text=True).stdout.split("\t")[0]
    bundle, checkout = tree_bytes(out), checkout_bytes(out.resolve())
    total = (bundle + checkout) / 2**20
    print(f"bundle {out}: {du} (du -sh); checkout {checkout / 2**20:.1f} MiB; total {total:.1f} MiB "
          f"of the {LIMIT_MIB} MiB that travel")
    if total > LIMIT_MIB:
        print(f"error: {total:.1f} MiB is over {LIMIT_MIB} MiB; lower --train-images", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
