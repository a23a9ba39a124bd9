"""The id rules: frames of any depth, shot = the folder holding the frame, video = the folder
above ``shots/`` where there is one, else the shot's parent; unsafe paths refused."""

from __future__ import annotations

import pytest

from wsvol.data.frame_ids import id_problem, is_frame_id, shot_id_of, video_id_of, video_of_shot


@pytest.mark.parametrize("frame, shot, video", [
    ("cat/video-0001/shot-000002/frame_000005.jpg", "cat/video-0001/shot-000002", "cat/video-0001"),  # synthetic
    ("aeroplane/data/0009/shots/102/frame0001.jpg", "aeroplane/data/0009/shots/102", "aeroplane/data/0009"),  # v1.0
    ("motorbike/video-0004/shot-000151/00013315.jpg", "motorbike/video-0004/shot-000151", "motorbike/video-0004"),
    ("a/b/c/d/e/f/g.PNG", "a/b/c/d/e/f", "a/b/c/d/e"),
    ("clip/f.jpg", "clip", "clip"),
])
def test_shot_and_video_of_a_frame(frame, shot, video):
    assert is_frame_id(frame) and id_problem(frame) is None
    assert shot_id_of(frame) == shot and video_id_of(frame) == video and video_of_shot(shot) == video


def test_shot_entries():
    assert not is_frame_id("aeroplane/data/0013/shots/330")
    assert video_of_shot("aeroplane/data/0013/shots/330") == "aeroplane/data/0013"
    assert video_of_shot("cat/video-0013/shot-000245") == "cat/video-0013"
    assert id_problem("aeroplane/data/0013/shots/330") is None


@pytest.mark.parametrize("bad", ["../x/f.jpg", "a/../../f.jpg", "/etc/x/f.jpg", "a//f.jpg", "a/./f.jpg",
                                 "a\\b/f.jpg", "a /f.jpg", "a/b/", "a/b\x00/f.jpg", "x.jpg"])
def test_unsafe_or_folderless_ids_are_refused(bad):
    assert id_problem(bad) is not None
