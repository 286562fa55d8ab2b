"""avemotion: audio-video emotion recognition (CFN-SR, its fusion baselines and TACFN)."""

__version__ = "0.1.0"

EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
"""The 8 RAVDESS classes; label = RAVDESS emotion code - 1. Other datasets map into this label space."""
