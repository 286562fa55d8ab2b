"""Data layer: dataset adapters, folds, preprocessing, cache, torch Dataset, transforms, synth, prepare.

Heavy modules (PyAV, OpenCV, librosa, torch) are imported by the submodules that need them, so
importing `avemotion.data` stays cheap.
"""
