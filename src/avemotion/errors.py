"""Errors that reach the user as one line: `<file>: <reason>`, never a traceback."""

from __future__ import annotations

from pathlib import Path

# Machine-readable reasons for a rejected input (used in prepare reports and predict output).
REASONS = (
    "unreadable",  # missing file or no permission
    "corrupt",  # truncated or undecodable container / stream
    "not_video",  # readable but no video stream (audio-only, text, image ...)
    "no_audio",  # video without an audio stream
    "too_short",  # shorter than the audio window needs (offset + duration)
    "too_long",  # longer than a command decodes at once (a stated bound on memory)
    "no_face",  # no face in any sampled frame
    "bad_landmarks",  # landmark CSV unreadable or missing x_0..x_67 / y_0..y_67 columns
    "bad_name",  # file name does not follow the dataset's naming scheme
    "bad_row",  # a manifest row or corpus annotation line that cannot be used (empty label, end <= start, ...)
)


class AvemotionError(Exception):
    """Base class of the errors the CLI prints as one line and exits with status 2."""


class InputError(AvemotionError):
    """A single input file was rejected; `code` is one of REASONS."""

    def __init__(self, path: str | Path, code: str, detail: str):
        if code not in REASONS:
            raise ValueError(f"unknown reason code {code!r}")
        self.path = Path(path)
        self.code = code
        self.detail = detail
        super().__init__(f"{self.path}: {detail}")

    def to_dict(self) -> dict:
        return {"file": str(self.path), "reason": self.code, "detail": self.detail}


class ConfigError(AvemotionError):
    """Settings that cannot work together (wrong fold set, preprocessing mismatch, unknown model...)."""
