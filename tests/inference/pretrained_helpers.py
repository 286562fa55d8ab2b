"""A stand-in for the shipped voice weights: a tiny (untrained, seeded) VoiceCNN saved with
save_voice_model into a temporary folder, registered in place of the package's weights."""

from __future__ import annotations

from pathlib import Path

NAME = "voice-test"
LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgust")
LICENCE = "CC BY-NC-SA 4.0"
CARD = "# voice-test\n\nA tiny untrained VoiceCNN for tests.\n\nLicence: CC BY-NC-SA 4.0 (RAVDESS), non-commercial.\n"


def write_weights(folder: Path, stem: str = NAME) -> str:
    """stem.safetensors + stem.json + stem.md in `folder`; returns the SHA-256 of the weights."""
    import torch

    from avemotion.data.voice import VoiceConfig
    from avemotion.models.voice import create_voice_model
    from avemotion.models.voice_weights import save_voice_model
    from avemotion.utils.io import file_sha256

    torch.manual_seed(0)
    cfg = VoiceConfig()
    model = create_voice_model("voice_cnn", len(LABELS), cfg, width=16, embed=16)
    path = save_voice_model(model, folder / stem, labels=LABELS, cfg=cfg,
                            extra={"corpora": ["RAVDESS", "EmoDB"], "licence": LICENCE, "non_commercial": True})
    (folder / f"{stem}.md").write_text(CARD, encoding="utf-8")
    return file_sha256(path)


def register(monkeypatch, folder: Path, sha256: str, *, name: str = NAME, stem: str = NAME):
    """Make `folder` the package's weights folder holding one entry, the default; returns it."""
    from avemotion.inference import pretrained

    entry = pretrained.Weights(name=name, stem=stem, sha256=sha256, summary="tiny untrained voice_cnn (tests)",
                               licence=LICENCE)
    monkeypatch.setattr(pretrained, "weights_folder", lambda: folder)
    monkeypatch.setattr(pretrained, "WEIGHTS", {name: entry})
    monkeypatch.setattr(pretrained, "DEFAULT_VOICE", name)
    return entry


def flip_byte(path: Path, offset: int = -100) -> None:
    """Change one byte of a tensor's data (near the end of a safetensors file): it still loads."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """`avemotion ARGS` in this process through the real entry point: (exit code, stdout, stderr)."""
    from inference_helpers import run_predict

    return run_predict(monkeypatch, capsys, *args, command=())
