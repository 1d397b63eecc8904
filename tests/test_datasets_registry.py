"""The six standard datasets as registered: metadata, lazy factories, one-line missing-root errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from colorbench_datasets import plugin

from colorbench.errors import DatasetError
from colorbench.plugin.manager import load

STANDARD = ("coco", "flowers", "places365", "imagenet", "celeba", "ade20k")


@pytest.fixture(scope="module")
def regs():
    return load(entry_points=False, extra_plugins=[("datasets", plugin)])


@pytest.mark.parametrize("name", STANDARD)
def test_spec_metadata(regs, name):
    spec = regs.datasets.get(name)
    assert spec.needs_root and spec.default_split in spec.splits
    assert spec.homepage.startswith("http") and spec.licence
    assert all(alias != name for alias in spec.root_names)


@pytest.mark.parametrize("name", STANDARD)
def test_missing_root_is_one_line_with_source(regs, name, tmp_path):
    spec = regs.datasets.get(name)
    with pytest.raises(DatasetError) as err:
        spec.factory(split=spec.default_split, root=tmp_path / name)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"dataset {name!r}: folder missing")
    assert f"Expected: {tmp_path / name}/" in text and "does not exist" in text
    assert spec.homepage.split(" ")[0] in text


def test_registration_does_not_import_the_loaders():
    code = (
        "import sys; from colorbench_datasets import plugin; specs = []; "
        "plugin.register_datasets(specs.append); "
        "print(sorted(m for m in sys.modules if m.startswith(('colorbench_datasets.', 'pycocotools', 'scipy.io'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['colorbench_datasets.layout', 'colorbench_datasets.plugin']"


def test_an_undeclared_split_is_refused_before_the_factory_runs():
    from colorbench import DatasetSpec
    from colorbench.errors import ColorbenchError
    from colorbench.evaluation.selection import ResolvedDataset

    calls = []
    spec = DatasetSpec(name="toy", factory=lambda **kw: calls.append(kw), splits=("test",))
    with pytest.raises(ColorbenchError) as err:
        ResolvedDataset("toy", spec).build(split="val", data_root=None, options={})
    assert calls == []
    assert str(err.value) == "dataset 'toy' has no split 'val': choose one of test (--split)"
    ResolvedDataset("toy", spec).build(split="test", data_root=None, options={})
    assert calls == [{"split": "test", "root": None}]
