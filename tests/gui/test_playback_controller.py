"""gui.playback.PlaybackController: frames stepped by hand, a clock the test controls."""
from __future__ import annotations

import pytest

from core.errors import InvalidInputError
from gui.playback import PlaybackController


class Played:
    """A model that plays ``length`` simulated seconds: the callback's side of the contract."""

    def __init__(self, length: float) -> None:
        self.length = length
        self.t = 0.0
        self.steps: list[float] = []

    def advance(self, seconds: float) -> bool:
        self.steps.append(seconds)
        self.t = min(self.t + seconds, self.length)
        return self.t >= self.length


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_frames_move_speed_times_dt_until_the_callback_says_the_end(qapp):
    model = Played(10.0)
    pc = PlaybackController(model.advance, speed=4.0, clock=Clock())
    events: list[object] = []
    pc.playingChanged.connect(lambda p: events.append(p))
    pc.finished.connect(lambda: events.append("finished"))
    pc.play()
    assert pc.playing and events == [True]
    assert not pc.step_frame(1.0) and not pc.step_frame(1.0)  # 4 + 4 of 10 s
    assert pc.step_frame(1.0)  # 12 >= 10: the end
    assert model.steps == [4.0, 4.0, 4.0] and not pc.playing
    assert events == [True, False, "finished"]


def test_timer_frames_read_the_injected_clock_and_cap_a_stalled_frame(qapp):
    model = Played(1e9)
    clock = Clock()
    pc = PlaybackController(model.advance, speed=10.0, clock=clock, max_frame_s=0.25)
    pc.play()
    clock.now += 0.1
    pc._on_timer()  # what the QTimer calls: dt from the clock since play()
    clock.now += 5.0  # a frame that stalled for 5 s moves at most 0.25 s
    pc._on_timer()
    pc._on_timer()  # the clock did not move: nothing to play
    assert model.steps == pytest.approx([1.0, 2.5, 0.0])
    pc.pause()


def test_without_a_clock_every_timer_frame_is_one_interval(qapp):
    """How a feed that plays by fixed frames (the main window's) would use it."""
    model = Played(1e9)
    pc = PlaybackController(model.advance, speed=60.0, frame_ms=20, clock=None)
    pc.play()
    pc._on_timer()
    pc._on_timer()
    assert model.steps == pytest.approx([1.2, 1.2]) and pc.frame_s == pytest.approx(0.02)
    pc.pause()


def test_play_is_refused_when_there_is_nothing_to_play_and_speed_is_checked(qapp):
    pc = PlaybackController(Played(1.0).advance, can_play=lambda: False)
    seen: list[bool] = []
    pc.playingChanged.connect(seen.append)
    pc.play()
    assert not pc.playing and seen == []
    speeds: list[float] = []
    pc.speedChanged.connect(speeds.append)
    pc.set_speed(30.0)
    assert pc.speed == 30.0 and speeds == [30.0]
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InvalidInputError) as exc:
            pc.set_speed(bad)
        assert exc.value.field == "speed"
    assert pc.speed == 30.0


def test_toggle_and_pause_are_idempotent(qapp):
    pc = PlaybackController(Played(1.0).advance, clock=Clock())
    seen: list[bool] = []
    pc.playingChanged.connect(seen.append)
    pc.toggle()
    pc.play()
    pc.toggle()
    pc.pause()
    assert seen == [True, False] and not pc.playing
