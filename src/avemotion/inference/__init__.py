"""Prediction on any video: `Recognizer` (a run's fold or fold ensemble), typed results, writers;
`Recognizer.pretrained()` / `VoiceRecognizer`: the voice model that ships with the package."""

from avemotion.inference.pretrained import Weights, get_weights, list_weights
from avemotion.inference.recognizer import Recognizer
from avemotion.inference.results import FileError, Prediction, Result, Timeline
from avemotion.inference.voice import VoiceRecognizer

__all__ = ["Recognizer", "VoiceRecognizer", "Weights", "get_weights", "list_weights", "Prediction", "Timeline",
           "FileError", "Result"]
