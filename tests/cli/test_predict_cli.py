"""`wsvol predict`'s argument checks: a frame rate an mp4 cannot hold is refused by the parser,
naming --fps, before any work."""

from __future__ import annotations

import pytest

from wsvol.cli import predict_commands
from wsvol.visualization import mp4


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0.00001", "0", "-1", "1e9", "fast"])
def test_fps_out_of_range_is_an_argument_error(tmp_path, capsys, value):
    from wsvol.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["predict", "ckpt.pth", "v.mp4", "--out", str(tmp_path / "o"), f"--fps={value}"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "argument --fps: " in err and repr(value) in err, err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["0.001", "12.5", "1000"])
def test_fps_in_range_is_taken(value):
    assert predict_commands._fps(value) == float(value)


def test_the_parser_refuses_what_the_mp4_writer_refuses():
    assert (predict_commands.MIN_FPS, predict_commands.MAX_FPS) == (mp4.MIN_FPS, mp4.MAX_FPS)
    for value in (mp4.MIN_FPS / 2, mp4.MAX_FPS * 2, float("inf")):
        with pytest.raises(ValueError, match="fps must be a number of frames per second"):
            mp4.check_fps(value)
