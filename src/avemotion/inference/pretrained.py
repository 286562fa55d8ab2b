"""Voice weights that ship inside the package (issue 23), in the style of torchvision's `Weights`.

Each entry names a file pair in `avemotion/weights/` (`<stem>.safetensors` + `<stem>.json`, written
by `models.voice_weights.save_voice_model`) and its model card (`<stem>.md`). The SHA-256 of the
weights is written here, in the code: before anything is loaded, the file's digest and the digest
its JSON records must both equal it, so a damaged, replaced or mismatched file is refused (one
line naming the file), never answered from.

    from avemotion.inference.pretrained import get_weights
    rec = get_weights().load()          # the default voice model (DEFAULT_VOICE)
    rec.predict("voice.wav")            # any audio or video file
    print(get_weights("voice-v1").card())

`avemotion predict FILE...` without `--run` uses DEFAULT_VOICE; `avemotion weights` lists WEIGHTS.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from avemotion.errors import ConfigError

PACKAGE_FOLDER = "weights"  # inside the `avemotion` package: src/avemotion/weights/


def weights_folder() -> Path:
    """The folder of the shipped files, located through importlib.resources (any install)."""
    folder = resources.files("avemotion").joinpath(PACKAGE_FOLDER)
    if not isinstance(folder, Path):  # a zipped install: the files have no path of their own
        raise ConfigError("avemotion is installed as a zip archive; its shipped weights need a regular install")
    return folder


@dataclass(frozen=True)
class Weights:
    """One shipped voice model: `name` (what users type), `stem` (file stem in the weights folder),
    `sha256` (of `<stem>.safetensors`), a one-line `summary` and the `licence` it inherits."""

    name: str
    stem: str
    sha256: str
    summary: str
    licence: str

    @property
    def path(self) -> Path:
        return weights_folder() / f"{self.stem}.safetensors"

    @property
    def meta_path(self) -> Path:
        return weights_folder() / f"{self.stem}.json"

    @property
    def card_path(self) -> Path:
        return weights_folder() / f"{self.stem}.md"

    def verify(self) -> dict:
        """The file's metadata, once the weights' SHA-256 and the one their JSON records both equal
        this entry's; ConfigError (one line naming the file) otherwise."""
        from avemotion.models.voice_weights import read_voice_meta
        from avemotion.utils.io import file_sha256

        for path in (self.path, self.meta_path):
            if not path.is_file():
                raise ConfigError(f"{path}: missing: the {self.name} weights are not installed (reinstall avemotion)")
        digest = file_sha256(self.path)
        if digest != self.sha256:
            raise ConfigError(f"{self.path}: checksum mismatch: SHA-256 {digest[:16]}... is not the {self.name} weights' "
                              f"{self.sha256[:16]}...; the file is damaged or was replaced (reinstall avemotion)")
        meta = read_voice_meta(self.meta_path)
        if meta.get("sha256") != self.sha256:
            raise ConfigError(f"{self.meta_path}: records SHA-256 {str(meta.get('sha256'))[:16]}... for other weights than "
                              f"{self.name} ({self.sha256[:16]}...); the metadata does not belong to {self.path.name}")
        return meta

    def card(self) -> str:
        """The model card (Markdown): corpora, speakers, classes, recipe, figures, licence."""
        if not self.card_path.is_file():
            raise ConfigError(f"{self.card_path}: missing: the {self.name} model card is not installed (reinstall avemotion)")
        return self.card_path.read_text(encoding="utf-8")

    def load(self):
        """A VoiceRecognizer of these weights (verified first); its notes name the model and licence."""
        from avemotion.inference.voice import VoiceRecognizer
        from avemotion.models.voice_weights import load_voice_model

        meta = self.verify()
        model, meta = load_voice_model(self.path)
        meta = {**meta, "name": self.name, "licence": self.licence, "licence_short": licence_short(self.licence, meta),
                "weights": self.describe()}
        return VoiceRecognizer(model, meta, name=self.name)

    def describe(self) -> dict:
        return {"name": self.name, "file": f"{self.stem}.safetensors", "sha256": self.sha256, "summary": self.summary,
                "licence": self.licence}

    def info(self) -> dict:
        """What `avemotion weights` shows: the entry, and what its files say when they verify."""
        row = {**self.describe(), "default": self.name == DEFAULT_VOICE, "model": None, "classes": None, "params": None,
               "verified": True, "problem": None}
        try:
            rec = self.load()
        except ConfigError as err:
            return {**row, "verified": False, "problem": str(err)}
        return {**row, "model": rec.meta["model"], "classes": list(rec.labels),
                "params": sum(p.numel() for p in rec.model.parameters()), "licence_short": rec.meta["licence_short"],
                "corpora": rec.meta.get("corpora")}


def licence_short(licence: str, meta: dict) -> str:
    """The licence as the notes say it: "CC BY-NC-SA 4.0, non-commercial" when the metadata says
    non-commercial (`non_commercial`, else an NC licence)."""
    if meta.get("licence_short"):
        return str(meta["licence_short"])
    non_commercial = meta.get("non_commercial")
    if non_commercial is None:
        non_commercial = "NC" in licence.replace("-", " ").split()
    return f"{licence}, non-commercial" if non_commercial else licence


def headline(recognizer) -> str:
    """Which model speaks: "voice model voice-v1 (RAVDESS + EmoDB; CC BY-NC-SA 4.0, non-commercial)"."""
    corpora = recognizer.meta.get("corpora")
    if isinstance(corpora, (list, tuple)):
        corpora = " + ".join(map(str, corpora))
    inside = "; ".join(str(part) for part in (corpora, recognizer.meta.get("licence_short")) if part)
    return f"voice model {recognizer.name}" + (f" ({inside})" if inside else "")


# The registry: one entry per file pair in src/avemotion/weights/, with the SHA-256 of its safetensors
# file. How voice-v1 was trained and chosen: its card (voice-v1.md) and docs/results.md "Voices anywhere".
WEIGHTS: dict[str, Weights] = {
    "voice-v1": Weights(
        name="voice-v1", stem="voice-v1", sha256="a2ae0299b9f20e1d6a07a796371b0159007c73ff4eb5f0841e0a6c51001aa3f6",
        summary="compare_linear (openSMILE ComParE functionals) on RAVDESS speech + EmoDB (28 speakers), 6 classes",
        licence="CC BY-NC-SA 4.0",
    ),
}
DEFAULT_VOICE: str | None = "voice-v1"


def list_weights() -> list[str]:
    return sorted(WEIGHTS)


def get_weights(name: str | None = None) -> Weights:
    """The entry called `name` (default: DEFAULT_VOICE); one-line ConfigError naming the known ones."""
    if name is None:
        if DEFAULT_VOICE is None or not WEIGHTS:
            raise ConfigError("no voice weights ship with this version of avemotion; give --run RUN (a run folder "
                              "written by `avemotion train`), or Recognizer.from_run(RUN) in Python")
        name = DEFAULT_VOICE
    if name not in WEIGHTS:
        known = ", ".join(list_weights()) or "none ship with this version"
        raise ConfigError(f"unknown weights {name!r}; known: {known}")
    return WEIGHTS[name]
