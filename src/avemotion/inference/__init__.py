"""Prediction on any video: `Recognizer` (a run's fold or fold ensemble), typed results, writers."""

from avemotion.inference.recognizer import Recognizer
from avemotion.inference.results import FileError, Prediction, Result, Timeline

__all__ = ["Recognizer", "Prediction", "Timeline", "FileError", "Result"]
