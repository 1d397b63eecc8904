"""Make a source checkout discoverable as the ``colorbench`` distribution without building it.

    python3 benchmarks/gpu/site_metadata.py SITE_DIR

writes ``SITE_DIR/colorbench-<version>.dist-info/`` (METADATA, entry_points.txt) from
pyproject.toml. With ``PYTHONPATH=SITE_DIR:<checkout>:<checkout>/plugins``, importlib.metadata
then finds the built-in plugins' entry points (how colorbench discovers plugins, see
colorbench/plugin/manager.py) as an installed colorbench would, with no setuptools, no build
isolation and no package index: what an offline GPU machine needs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def write_dist_info(site: Path, pyproject: Path = ROOT / "pyproject.toml") -> Path:
    """The dist-info folder for the project of ``pyproject`` in ``site`` (replaced if present)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    name, version = project["name"], project["version"]
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                   f"Summary: {project.get('description', '')}\n", encoding="utf-8")
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    text = "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
                   for group, eps in groups.items() if eps)
    (info / "entry_points.txt").write_text(text, encoding="utf-8")
    (info / "INSTALLER").write_text("colorbench benchmarks/gpu/site_metadata.py\n", encoding="utf-8")
    return info


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 benchmarks/gpu/site_metadata.py SITE_DIR")
    print(f"wrote {write_dist_info(Path(sys.argv[1]))}")
