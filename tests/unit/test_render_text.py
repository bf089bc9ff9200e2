"""Untrusted cluster text cannot spoof or corrupt the terminal output."""

from logos_doctor.render.text import clean


def test_escape_sequences_are_made_visible() -> None:
    hostile = "pod\x1b[2J\x1b]0;owned\x07name"
    out = clean(hostile)
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out


def test_bidi_overrides_are_escaped() -> None:
    assert "\u202e" not in clean("evil\u202etxt.exe")


def test_newlines_cannot_fake_extra_rows() -> None:
    out = clean("first\nCRITICAL fake finding")
    assert "\n" not in out


def test_huge_strings_are_cut() -> None:
    out = clean("x" * 100_000, limit=400)
    assert len(out) == 400 and out.endswith("…")
