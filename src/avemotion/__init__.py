"""avemotion: audio-video emotion recognition (CFN-SR, its fusion baselines and TACFN)."""

__version__ = "0.1.0"

EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
"""The 8 RAVDESS classes; label = RAVDESS emotion code - 1. Other corpora have their own class names
(recorded by their cache: data/labels.py); a cache, checkpoint or run that records none holds these."""
