"""Shot and frame samplers: coverage per epoch, determinism, distributed partition, epoch hand-off."""

from __future__ import annotations

import pickle
from collections import Counter

import pytest
from torch.utils.data import DataLoader

import wsvol.data.frame_samplers as samplers
from wsvol.data.frame_samplers import EpochIndex, FrameSampler, ShotSampler


class Shots:
    """A dataset stand-in: shot id → frame indices; items report (index, epoch they were drawn for)."""

    def __init__(self, sizes=(3, 1, 5, 2, 4)):
        self.shots, n = {}, 0
        for s, size in enumerate(sizes):
            self.shots[f"c/v/shot-{s}"] = list(range(n, n + size))
            n += size
        self.n, self.epoch = n, 0

    def __len__(self):
        return self.n

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __getitem__(self, index):
        return int(index), getattr(index, "epoch", self.epoch)


def shot_of(ds: Shots) -> dict[int, str]:
    return {i: s for s, idx in ds.shots.items() for i in idx}


def ranks(monkeypatch, make, world: int) -> list[list[int]]:
    """Each simulated rank's indices."""
    out = []
    for rank in range(world):
        monkeypatch.setattr(samplers, "get_dist_info", lambda r=rank: (r, world))
        out.append(list(make()))
    return out


@pytest.mark.parametrize("k", [1, 2, 4])
def test_every_shot_k_times_per_epoch(k):
    ds = Shots()
    sampler = ShotSampler(ds, seed=0, frames_per_shot=k)
    assert len(sampler) == k * len(ds.shots)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        picks = list(sampler)
        assert Counter(shot_of(ds)[i] for i in picks) == {s: k for s in ds.shots}
        for shot, idx in ds.shots.items():  # no repeats unless the shot is shorter than k
            chosen = [i for i in picks if shot_of(ds)[i] == shot]
            assert len(set(chosen)) == min(k, len(idx))


def test_deterministic_and_epochs_differ():
    ds = Shots(sizes=(6,) * 20)
    a, b = ShotSampler(ds, seed=3), ShotSampler(ds, seed=3)
    orders = []
    for epoch in range(3):
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        orders.append(list(a))
        assert orders[-1] == list(b) == list(a)
    assert orders[0] != orders[1] != orders[2]
    assert list(ShotSampler(ds, seed=4)) != list(ShotSampler(ds, seed=3))
    assert ds.epoch == 2  # set_epoch reaches the dataset


def test_no_shuffle_keeps_shot_order():
    ds = Shots()
    picks = list(ShotSampler(ds, shuffle=False, seed=0))
    assert [shot_of(ds)[i] for i in picks] == list(ds.shots)
    assert list(FrameSampler(ds, shuffle=False, seed=0)) == list(range(len(ds)))


def test_frame_sampler_covers_every_frame_once():
    ds = Shots()
    s = FrameSampler(ds, seed=1)
    s.set_epoch(7)
    assert sorted(s) == list(range(len(ds))) and len(s) == len(ds)
    assert list(s) != list(range(len(ds)))


@pytest.mark.parametrize("world", [2, 3])
def test_ranks_partition_the_epoch(monkeypatch, world):
    ds = Shots(sizes=(2,) * 7)  # 7 shots, 15 frames: neither divides evenly

    for make, full in [
        (lambda: ShotSampler(ds, seed=9, frames_per_shot=1), lambda: ShotSampler(ds, seed=9)),
        (lambda: FrameSampler(ds, seed=9), lambda: FrameSampler(ds, seed=9)),
    ]:
        parts = ranks(monkeypatch, make, world)
        monkeypatch.setattr(samplers, "get_dist_info", lambda: (0, 1))
        everything = list(full())
        sizes = {len(p) for p in parts}
        assert len(sizes) == 1 and sizes.pop() == -(
            -len(everything) // world
        )  # equal, ceil(n / world)
        merged = [
            p[j] for j in range(len(parts[0])) for p in parts
        ]  # interleave back: rank r took r::world
        padding = len(merged) - len(everything)
        assert (
            merged[: len(everything)] == everything
            and merged[len(everything) :] == everything[:padding]
        )
        monkeypatch.setattr(samplers, "get_dist_info", lambda: (0, world))
        assert len(make()) == len(parts[0])


def test_no_round_up_gives_exact_shares(monkeypatch):
    ds = Shots()  # 15 frames
    parts = ranks(monkeypatch, lambda: FrameSampler(ds, seed=2, round_up=False), 2)
    assert sorted(parts[0] + parts[1]) == list(range(15)) and [len(p) for p in parts] == [8, 7]


def test_epoch_travels_with_the_index_to_persistent_workers():
    ds = Shots()
    sampler = FrameSampler(ds, seed=0)
    i = EpochIndex(5, 3)
    assert i == 5 and pickle.loads(pickle.dumps(i)).epoch == 3
    loader = DataLoader(
        ds,
        batch_size=4,
        sampler=sampler,
        num_workers=1,
        persistent_workers=True,
        collate_fn=lambda batch: batch,
    )
    for epoch in range(3):
        sampler.set_epoch(epoch)
        items = [x for batch in loader for x in batch]
        assert {e for _, e in items} == {epoch} and sorted(i for i, _ in items) == list(
            range(len(ds))
        )


def test_bad_dataset_or_k():
    with pytest.raises(TypeError, match="shots"):
        ShotSampler(list(range(5)), seed=0)
    with pytest.raises(ValueError, match="frames_per_shot"):
        ShotSampler(Shots(), seed=0, frames_per_shot=0)
