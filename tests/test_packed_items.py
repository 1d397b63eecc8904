"""A loader batch leaves a worker as one tensor per field and shape (packed.PackedItems)."""

import io
import pickle
from multiprocessing.reduction import ForkingPickler

import torch
import torch.multiprocessing  # registers the shared-memory tensor reductions

from colorbench.evaluation.loader import Item, collate


def _through_a_worker_pipe(batch):
    buf = io.BytesIO()
    ForkingPickler(buf, pickle.HIGHEST_PROTOCOL).dump(batch)
    return pickle.loads(buf.getvalue())


def _item(name, size, pred=False):
    g = torch.Generator().manual_seed(len(name) * 7 + size)
    rgb = torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g)
    return Item(name, rgb, torch.rand(1, size, size, generator=g),
                pred=rgb.flip(0).clone() if pred else None, gray=size == 4, values={"mse": 0.5})


def test_items_arrive_equal_with_one_storage_per_field_and_shape():
    items = [_item("a", 8), _item("bb", 8, pred=True), Item("bad", error="broken", trace="tb"),
             _item("ccc", 4), _item("dddd", 8)]
    out = _through_a_worker_pipe(collate(items))
    assert [o.id for o in out] == ["a", "bb", "bad", "ccc", "dddd"]
    for a, b in zip(items, out, strict=True):
        for name in ("rgb", "L", "pred"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None and y is None) or (torch.equal(x, y) and x.dtype == y.dtype)
        assert (a.error, a.trace, a.gray, a.values) == (b.error, b.trace, b.gray, b.values)
    storages = {o.rgb.untyped_storage().data_ptr() for o in out if o.rgb is not None and o.rgb.shape[-1] == 8}
    assert len(storages) == 1  # the three 8x8 ground truths travel as one tensor
    assert out[3].rgb.untyped_storage().data_ptr() not in storages  # the 4x4 one in its own


def test_unpickled_batch_is_still_a_packed_list():
    out = _through_a_worker_pipe(collate([_item("a", 8)]))
    assert isinstance(out, list) and type(out).__name__ == "PackedItems"
    assert _through_a_worker_pipe(out)[0].id == "a"  # packs again
