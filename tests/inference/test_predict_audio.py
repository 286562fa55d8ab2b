"""`predict` with a run trained on real RAVDESS voices (audio only): every common audio format, a
long recording as a timeline, the Python API and the CLI, and a video file's audio track."""

from __future__ import annotations

import json
import subprocess
import sys

import av
import numpy as np
import pytest
import soundfile

from avemotion.inference import Recognizer
from avemotion.inference.results import Prediction, Timeline

CLIP = "Actor_02/03-01-05-02-01-01-02.flac"  # a real angry clip of a trained-on actor's fold mate
# (container, codec) for each format a user may hand in
FORMATS = {"wav": ("wav", "pcm_s16le"), "mp3": ("mp3", "libmp3lame"), "m4a": ("ipod", "aac"),
           "aac": ("adts", "aac"), "ogg": ("ogg", "libopus")}


def write_audio(path, samples: np.ndarray, rate: int, container: str, codec: str) -> None:
    """Encode mono float samples with PyAV (fixed-size frames through a FIFO, as encoders want)."""
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=48000 if codec == "libopus" else rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples[None].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=stream.rate)
        fifo = av.AudioFifo()
        for f in resampler.resample(frame) + resampler.resample(None):
            fifo.write(f)
        size = stream.codec_context.frame_size or 1024
        while fifo.samples:
            out.mux(stream.encode(fifo.read(min(size, fifo.samples))))
        out.mux(stream.encode(None))


@pytest.fixture(scope="module")
def recognizer(speech_run):
    _, run = speech_run
    return Recognizer.from_run(run, ensemble=True)


@pytest.fixture(scope="module")
def clip(ravdess_speech_dir):
    samples, rate = soundfile.read(ravdess_speech_dir / CLIP, dtype="float32")
    return ravdess_speech_dir / CLIP, samples, rate


def test_flac_gives_one_prediction_from_audio_with_probabilities(recognizer, clip):
    result = recognizer.predict(clip[0])
    assert isinstance(result, Prediction) and result.modalities == ("audio",)
    assert abs(sum(result.probabilities.values()) - 1) < 1e-6 and len(result.probabilities) == 8
    assert result.end == pytest.approx(len(clip[1]) / clip[2], abs=0.05)


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_each_audio_format_predicts_like_the_original(recognizer, clip, tmp_path, ext):
    path, samples, rate = clip
    encoded = tmp_path / f"clip.{ext}"
    write_audio(encoded, samples, rate, *FORMATS[ext])
    ours, reference = recognizer.predict(encoded), recognizer.predict(path)
    assert isinstance(ours, Prediction) and ours.modalities == ("audio",)
    diff = np.abs(ours.probs_array() - reference.probs_array()).max()
    if ext == "wav":  # lossless 16-bit: the same features up to the quantisation of the samples
        assert diff < 1e-3
    else:  # lossy codecs change the spectrum a little, not the recording's emotion evidence
        assert diff < 0.25, diff


def test_a_long_recording_gives_a_timeline_that_follows_its_clips(recognizer, ravdess_speech_dir, tmp_path):
    names = ["Actor_01/03-01-05-02-01-01-01.flac", "Actor_02/03-01-04-02-02-01-02.flac", "Actor_01/03-01-01-01-01-01-01.flac"]
    rate, gap, parts, starts = 48000, 1.0, [], []
    for name in names:
        samples, _ = soundfile.read(ravdess_speech_dir / name, dtype="float32")
        starts.append(sum(len(p) for p in parts) / rate)
        # silence up to a whole second, plus `gap`: every clip starts on the 1 s hop grid
        silence = (-len(samples)) % rate + int(gap * rate)
        parts += [samples, np.zeros(silence, np.float32)]
    long = tmp_path / "three_clips.flac"
    soundfile.write(long, np.concatenate(parts), rate)
    result = recognizer.predict(long)
    assert isinstance(result, Timeline)
    assert result.duration == pytest.approx(sum(len(p) for p in parts) / rate, abs=0.05)
    assert result.windows[0].start == 0 and result.windows[-1].end == pytest.approx(result.duration, abs=1e-3)
    assert all(w.modalities == ("audio",) for w in result.windows)
    # the window that starts with each clip sees the same samples as that clip alone, from 0.5 s
    for name, start in zip(names, starts):
        window = next(w for w in result.windows if abs(w.start - start) < 1e-6)
        alone = recognizer.predict(ravdess_speech_dir / name)
        assert np.abs(window.probs_array() - alone.probs_array()).max() < 1e-3, name


def test_a_video_file_with_an_audio_run_uses_its_audio_track(speech_run, crema_dir):
    _, run = speech_run
    rec = Recognizer.from_run(run, pad_short=True)
    result = rec.predict(sorted(crema_dir.glob("*.flv"))[0])
    assert isinstance(result, Prediction) and result.modalities == ("audio",)


def test_cli_predicts_audio_files_as_json(speech_run, clip, tmp_path):
    _, run = speech_run
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "avemotion.cli.main", "predict", str(clip[0]), "--run", str(run),
                           "--format", "json", "-o", str(out), "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    result = doc["results"][0] if "results" in doc else doc
    assert result["modalities"] == ["audio"] and result["emotion"] in result["probabilities"]
