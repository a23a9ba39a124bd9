"""The pseudo-label cache: round trip, quantization vs CorLoc, shards and ranks, stale caches, size."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest

from wsvol.data.pseudo_label_cache import CacheError, PseudoLabelCache, dequantize, quantize
from wsvol.evaluation import evaluate_localization


def ids(n: int) -> list[str]:
    return [f"aeroplane/video-{i // 20:04d}/shot-{i // 4:06d}/frame_{i:06d}.jpg" for i in range(n)]


def maps(n: int, size=(16, 12), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *size), dtype=np.float32)


def make(root, n=23, key="k1", shard_size=5, size=(16, 12), **kw) -> PseudoLabelCache:
    return PseudoLabelCache.create(root, key=key, frame_ids=ids(n), size=size, shard_size=shard_size, **kw)


def fill(cache: PseudoLabelCache, m: np.ndarray, shards=None) -> None:
    for k in range(cache.num_shards) if shards is None else shards:
        rows = cache.shard_rows(k)
        cache.write_shard(k, m[rows.start : rows.stop])


def test_round_trip_is_floor_of_255_levels(tmp_path):
    m = maps(23)
    m[0] = 0.0
    m[1] = 1.0
    cache = make(tmp_path / "c")
    fill(cache, m)
    again = PseudoLabelCache.open(tmp_path / "c", key="k1")
    assert again.complete and len(again) == 23 and again.num_shards == 5
    for i, fid in enumerate(ids(23)):
        got = again(fid)
        assert got.dtype == np.float32 and got.shape == (16, 12)
        np.testing.assert_array_equal(again.read_uint8(fid), np.floor(m[i].astype(np.float64) * 255))
        assert np.abs(got - m[i]).max() < 1 / 255 + 1e-7
    assert again(ids(23)[1]).min() == 1.0 and again(ids(23)[0]).max() == 0.0
    assert isinstance(again._shard(0), np.memmap)  # read through memory maps


def test_quantization_is_exactly_what_corloc_evaluation_sees():
    """A map min-max normalized to [0, 1] quantizes to the uint8 map evaluation computes itself."""
    from wsvol.evaluation.maps import prepare_map

    rng = np.random.default_rng(3)
    for _ in range(20):
        m = rng.random((224, 224)).astype(np.float32) ** 3
        m = (m - m.min()) / (m.max() - m.min())
        np.testing.assert_array_equal(prepare_map(dequantize(quantize(m))), prepare_map(m))


def blobs(n: int, seed: int, normalized: bool) -> tuple[list, list, list, list]:
    """CAM-like maps (a noisy Gaussian blob per frame) and true boxes near the blob."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:224, 0:224]
    out, boxes, sizes, labels = [], [], [], []
    for i in range(n):
        cx, cy, sx, sy = rng.uniform(60, 164), rng.uniform(60, 164), rng.uniform(15, 45), rng.uniform(15, 45)
        m = np.exp(-((xx - cx) ** 2 / (2 * sx**2) + (yy - cy) ** 2 / (2 * sy**2)))
        dx, dy, w = rng.uniform(20, 204), rng.uniform(20, 204), rng.uniform(0.2, 0.9)  # a distractor
        m = m + w * np.exp(-((xx - dx) ** 2 + (yy - dy) ** 2) / (2 * rng.uniform(10, 30) ** 2))
        m = (m - m.min()) / (m.max() - m.min()) if normalized else 0.1 + 0.6 * m / m.max()
        jitter = rng.normal(0, 12, 4)
        box = np.array([cx - 1.6 * sx, cy - 1.6 * sy, cx + 1.6 * sx, cy + 1.6 * sy]) + jitter
        out.append(m.astype(np.float32))
        boxes.append(np.clip(box, 0, 223)[None])
        sizes.append((224, 224))
        labels.append(i % 10)
    return out, boxes, sizes, labels


@pytest.mark.parametrize("normalized", [True, False])
def test_uint8_cache_keeps_corloc_within_0_1_point(tmp_path, normalized):
    n = 300
    float_maps, boxes, sizes, labels = blobs(n, seed=7, normalized=normalized)
    cache = PseudoLabelCache.create(tmp_path / "c", key="k", frame_ids=ids(n), size=(224, 224), shard_size=64)
    fill(cache, np.stack(float_maps))
    cached = [cache(f) for f in ids(n)]
    a = evaluate_localization(float_maps, boxes, sizes, labels, num_classes=10, keep_maps=False)
    b = evaluate_localization(cached, boxes, sizes, labels, num_classes=10, keep_maps=False)
    assert 20 < a.corloc < 95  # a sweep where thresholds matter
    assert abs(a.corloc - b.corloc) <= 0.1
    if normalized:  # maps in [0, 1] with min 0 and max 1: the same quantized maps, frame by frame
        np.testing.assert_array_equal(a.correct, b.correct)
    else:  # other maps: quantization moves few frames at few thresholds
        assert (np.asarray(a.correct) != np.asarray(b.correct)).mean() < 0.01


def test_shards_split_between_ranks_and_resume(tmp_path):
    cache = make(tmp_path / "c", n=23, shard_size=5)
    r0, r1 = cache.missing_shards(0, 2), cache.missing_shards(1, 2)
    assert r0 == [0, 2, 4] and r1 == [1, 3] and sorted(r0 + r1) == list(range(5))
    assert [len(cache.shard_rows(k)) for k in range(5)] == [5, 5, 5, 5, 3]
    m = maps(23)
    fill(cache, m, shards=[0, 3])
    resumed = make(tmp_path / "c", n=23, shard_size=5)  # same source and frames: resume
    assert resumed.missing_shards() == [1, 2, 4] and not resumed.complete
    with pytest.raises(CacheError, match=r"incomplete \(2 of 5 shards.*wsvol pseudo-labels"):
        resumed(ids(23)[7])
    np.testing.assert_array_equal(resumed.read_uint8(ids(23)[16]), quantize(m[16]))


def test_a_changed_source_is_refused_with_the_differences_unless_overwrite(tmp_path):
    root = tmp_path / "c"
    old = {"source": {"type": "clip_es", "pretrained": "sha256:aaa", "template": "a clean origami {}."}}
    new = {"source": {"type": "clip_es", "pretrained": "sha256:bbb", "template": "a clean origami {}."}}
    fill(make(root, key="k1", describe=old), maps(23))
    with pytest.raises(CacheError) as err:
        make(root, key="k2", describe=new)
    msg = str(err.value)
    assert "is stale: the source changed" in msg and "source.pretrained: 'sha256:aaa' → 'sha256:bbb'" in msg
    assert "--overwrite" in msg
    with pytest.raises(CacheError, match="3 frames added, 0 removed"):
        make(root, n=26, key="k1", describe=old)
    with pytest.raises(CacheError, match=r"size changed: \[16, 12\] → \[8, 8\]"):
        make(root, key="k1", size=(8, 8), describe=old)
    with pytest.raises(CacheError, match="made by another source"):
        PseudoLabelCache.open(root, key="k2")
    (root / "notes.txt").write_text("mine")
    rebuilt = make(root, key="k2", describe=new, overwrite=True)
    assert rebuilt.missing_shards() == list(range(5)) and rebuilt.index["key"] == "k2"
    assert (root / "notes.txt").read_text() == "mine"  # only the cache's own files are deleted


def test_damage_and_unknown_frames_are_reported(tmp_path):
    cache = make(tmp_path / "c")
    fill(cache, maps(23))
    with pytest.raises(CacheError, match="is not in the pseudo-label cache"):
        cache("cat/video-0001/shot-000001/frame_000001.jpg")
    np.save(cache.shard_path(1), np.zeros((4, 16, 12), np.uint8))  # a wrongly sized shard
    with pytest.raises(CacheError, match=r"shard-00001\.npy: holds uint8 \(4, 16, 12\), expected uint8 \(5, 16, 12\)"):
        PseudoLabelCache.open(tmp_path / "c")(ids(23)[6])
    with pytest.raises(ValueError, match=r"needs maps of shape \(5, 16, 12\)"):
        cache.write_shard(0, maps(4))


def test_an_unreadable_index_is_reported_and_overwritten(tmp_path):
    make(tmp_path / "c")
    (tmp_path / "c" / "index.json").write_text('{"format": 0}')
    with pytest.raises(CacheError, match="cache format 0, this wsvol reads format 1"):
        make(tmp_path / "c")
    assert make(tmp_path / "c", overwrite=True).index["format"] == 1


def test_leftovers_of_a_killed_writer_are_cleaned_on_resume_a_live_writers_kept(tmp_path):
    import subprocess
    import sys

    from wsvol.utils.files import writer_tag

    cache = make(tmp_path / "c")
    host = writer_tag().split("-")[0]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "c" / f".shard-00002.npy.{host}-{dead.pid}.0a1b2c3d.tmp").write_bytes(b"half a shard")
        writing = tmp_path / "c" / f".shard-00003.npy.{host}-{live.pid}.0a1b2c3d.tmp"
        writing.write_bytes(b"a shard being written")
        make(tmp_path / "c")
        assert [p.name for p in (tmp_path / "c").glob(".*.tmp")] == [writing.name]
    finally:
        live.kill()
        live.wait()
    assert cache.missing_shards() == list(range(5))


def test_open_memory_maps_are_bounded(tmp_path, monkeypatch):
    import wsvol.data.pseudo_label_cache as cache_module

    monkeypatch.setattr(cache_module, "MAX_OPEN_SHARDS", 2)
    cache = make(tmp_path / "c")
    m = maps(23)
    fill(cache, m)
    for i in (0, 6, 0, 12, 17, 22, 0):  # shards 0, 1, 0, 2, 3, 4, 0
        np.testing.assert_array_equal(cache.read_uint8(ids(23)[i]), quantize(m[i]))
        assert len(cache._shards) <= 2
    assert list(cache._shards) == [4, 0]  # the most recently used ones


def test_the_reader_pickles_for_dataloader_workers(tmp_path):
    cache = make(tmp_path / "c")
    fill(cache, maps(23))
    cache(ids(23)[0])  # opens a memory map
    clone = pickle.loads(pickle.dumps(cache))
    assert clone._shards == {}
    np.testing.assert_array_equal(clone(ids(23)[9]), cache(ids(23)[9]))


def test_cache_is_at_most_a_quarter_of_float32_per_frame_files(tmp_path):
    n = 300
    m = maps(n, size=(224, 224))
    cache = PseudoLabelCache.create(tmp_path / "c", key="k", frame_ids=ids(n), size=(224, 224), shard_size=128)
    fill(cache, m)
    ref = tmp_path / "float32"
    ref.mkdir()
    for i in range(n):
        np.save(ref / f"{i}.npy", m[i])
    apparent, allocated = cache.nbytes_on_disk()
    ref_apparent = sum(p.stat().st_size for p in ref.iterdir())
    ref_allocated = sum(p.stat().st_blocks * 512 for p in ref.iterdir())
    assert apparent <= 0.25 * ref_apparent
    assert allocated <= 0.25 * ref_allocated


# -- damaged files are reported naming them --------------------------------------------------
IDS = [f"cat/video-0001/shot-000001/frame_{i:06d}.jpg" for i in range(7)]


def _cache(root) -> PseudoLabelCache:
    cache = PseudoLabelCache.create(root, key="k", frame_ids=IDS, size=(16, 12), shard_size=4)
    maps = np.random.default_rng(0).random((len(IDS), 16, 12), dtype=np.float32)
    for k in range(cache.num_shards):
        rows = cache.shard_rows(k)
        cache.write_shard(k, maps[rows.start : rows.stop])
    return cache


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.05, 0.0])  # cut in the data, in the header; empty
def test_truncated_shard_is_reported_naming_it(tmp_path, keep):
    cache = _cache(tmp_path / "c")
    shard = cache.shard_path(1)
    data = shard.read_bytes()
    shard.write_bytes(data[: int(len(data) * keep)])
    reader = PseudoLabelCache.open(tmp_path / "c")
    assert reader.complete  # the file is there: only reading it finds the damage
    with pytest.raises(CacheError, match=rf"{re.escape(str(shard))}: unreadable shard \(.*damaged cache\); rebuild it with --overwrite"):
        reader(IDS[5])
    np.testing.assert_array_equal(reader(IDS[0]), cache(IDS[0]))  # the intact shard still reads
