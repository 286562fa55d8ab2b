"""`avemotion download`: fake sources on 127.0.0.1 (tests/data/download_server.py) or a file:// mirror;
no test reaches the internet. Archives are made here in the real file names and layouts."""

from __future__ import annotations

import hashlib
import io
import json
import signal
import sys
import time
import zipfile
from pathlib import Path

import pytest

from avemotion.data.download import extract as extract_mod
from avemotion.data.download import fetch, runner, sources
from avemotion.errors import ConfigError
from cli_run import run_cli

sys.path.insert(0, str(Path(__file__).parent))
from download_server import FakeSource, lfs_pointer, zenodo_record, zip_bytes  # noqa: E402

SPEECH, LANDMARKS = sources.RAVDESS_RECORD, sources.RAVDESS_LANDMARKS_RECORD
STEMS = ("01-01-01-01-01-01-01", "01-01-03-01-01-01-01")  # neutral and happy, actor 01
DUPLICATE = "02-01-01-01-01-01-01"  # the video-only copy the archive also holds (prepare skips it)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(fetch, "RETRY_WAIT", 0.0)


@pytest.fixture(scope="module")
def ravdess_archives(tmp_path_factory) -> dict[str, bytes]:
    """Two real-looking RAVDESS clips of actor 01 (synth, 160x120) with OpenFace CSVs, in the release's
    archive names: per-actor speech zips, the landmark zip of all actors, the audio zip of all actors."""
    from avemotion.data.synth import SynthOptions, synth_clip

    out = tmp_path_factory.mktemp("ravdess_src")
    opts = SynthOptions(actors=1, seed=0, width=160, height=120, statements=1, repetitions=1)
    for emotion in (1, 3):
        synth_clip(out, (emotion, 1, 1, 1, 1), opts)
    mp4 = {s: (out / "Actor_01" / f"{s}.mp4").read_bytes() for s in STEMS}
    csv = {s: (out / "landmarks" / f"{s}.csv").read_bytes() for s in STEMS}
    root = "FacialTracking_Actors_01-24"
    return {
        "Video_Speech_Actor_01.zip": zip_bytes({**{f"Actor_01/{s}.mp4": b for s, b in mp4.items()},
                                                f"Actor_01/{DUPLICATE}.mp4": mp4[STEMS[0]]}),
        "Video_Speech_Actor_02.zip": zip_bytes({"Actor_02/01-01-01-01-01-01-02.mp4": b"actor 02"}),
        "Audio_Speech_Actors_01-24.zip": zip_bytes({"Audio_Speech_Actors_01-24/Actor_01/03-01-01-01-01-01-01.wav": b"a1",
                                                    "Audio_Speech_Actors_01-24/Actor_02/03-01-01-01-01-01-02.wav": b"a2"}),
        "FacialTracking_Actors_01-24.zip": zip_bytes({**{f"{root}/Actor_01/{s}.csv": b for s, b in csv.items()},
                                                      f"{root}/Actor_02/01-01-01-01-01-01-02.csv": b"x_0\n",
                                                      f"{root}/README.txt": b"OpenFace 2.1.0 tracking"}),
    }


def serve_ravdess(source: FakeSource, archives: dict[str, bytes], wrong_md5=(), replace: dict | None = None) -> None:
    """Zenodo's two records in the mirror layout: /zenodo.org/api/records/<id> and its files."""
    files = {**archives, **(replace or {})}
    speech = {k: v for k, v in files.items() if not k.startswith("FacialTracking")}
    landmarks = {k: v for k, v in files.items() if k.startswith("FacialTracking")}
    for record, group in ((SPEECH, speech), (LANDMARKS, landmarks)):
        source.files[f"/zenodo.org/api/records/{record}"] = zenodo_record(record, group, wrong_md5)
        for key, data in group.items():
            source.files[f"/zenodo.org/records/{record}/files/{key}"] = data


def member(archives: dict[str, bytes], archive: str, suffix: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(archives[archive])) as zf:
        return next(zf.read(n) for n in zf.namelist() if n.endswith(suffix))


@pytest.fixture
def source(ravdess_archives):
    src = FakeSource()
    serve_ravdess(src, ravdess_archives)
    yield src
    src.close()


def download(monkeypatch, capsys, *args):
    return run_cli(monkeypatch, capsys, "download", *map(str, args))


def zips_requested(source: FakeSource) -> list[str]:
    return [p for p, _ in source.requests if p.endswith(".zip")]


def failed_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("failed:")]


# ---------------------------------------------------------------------------------------------- RAVDESS

def test_ravdess_actor_subset_layout_rerun_and_prepare_with_landmarks(monkeypatch, capsys, tmp_path, source,
                                                                      ravdess_archives):
    dest = tmp_path / "ravdess"
    code, out = download(monkeypatch, capsys, "ravdess", dest, "--actors", "1", "--accept-licence", "--mirror", source.url)
    assert code == 0, out
    assert "CC BY-NC-SA 4.0" in out and "Livingstone" in out
    assert f"next: avemotion prepare {dest} --out cache/ravdess" in out
    for stem in STEMS:  # byte-identical, where prepare looks for them
        assert (dest / "Actor_01" / f"{stem}.mp4").read_bytes() == member(ravdess_archives, "Video_Speech_Actor_01.zip", f"{stem}.mp4")
        assert (dest / "landmarks" / "Actor_01" / f"{stem}.csv").is_file()
    assert (dest / "Actor_01" / f"{DUPLICATE}.mp4").is_file()
    # the actor subset: actor 02's archive is never requested, its landmark CSV (from the all-actor zip) not placed
    assert not any("Actor_02" in p for p in zips_requested(source))
    assert not (dest / "landmarks" / "Actor_02").exists() and not (dest / "Actor_02").exists()
    assert "CC BY-NC-SA 4.0" in (dest / "LICENCE-ravdess.md").read_text()
    assert not list(dest.rglob("*.part")) and not list((dest / ".downloads").glob("*.zip"))  # archives deleted

    # a rerun verifies what is there and fetches nothing (the licence is already accepted)
    before = len(zips_requested(source))
    code, out = download(monkeypatch, capsys, "ravdess", dest, "--actors", "1", "--mirror", source.url)
    assert code == 0, out
    assert "2 already complete" in out and "0 files fetched" in out
    assert len(zips_requested(source)) == before
    # a placed file gone: its archive is fetched and extracted again
    (dest / "Actor_01" / f"{STEMS[1]}.mp4").unlink()
    code, out = download(monkeypatch, capsys, "ravdess", dest, "--actors", "1", "--mirror", source.url)
    assert code == 0 and "1 files fetched" in out and (dest / "Actor_01" / f"{STEMS[1]}.mp4").is_file(), out

    # straight into the pipeline: prepare needs no option to find the landmarks
    code, out = run_cli(monkeypatch, capsys, "prepare", dest, "--out", tmp_path / "cache", "--frames", "4",
                        "--size", "32", "--workers", "1")
    assert code == 0, out
    assert "faces: 2 from landmarks" in out, out


def test_ctrl_c_keeps_part_and_rerun_resumes_byte_identical(monkeypatch, capsys, tmp_path, source, ravdess_archives):
    monkeypatch.setattr(fetch, "CHUNK", 4096)
    path = f"/zenodo.org/records/{SPEECH}/files/Video_Speech_Actor_01.zip"
    total = len(ravdess_archives["Video_Speech_Actor_01.zip"])
    source.faults[path] = [f"sigint:{total // 2}"]
    dest = tmp_path / "ravdess"
    part = dest / ".downloads" / "Video_Speech_Actor_01.zip.part"

    def received():  # Ctrl-C once the client has written some of what it received
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (part.is_file() and part.stat().st_size > 0):
            time.sleep(0.02)

    source.before_sigint = received
    # Ctrl-C as a terminal delivers it, whatever this test process inherited
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        code, out = download(monkeypatch, capsys, "ravdess", dest, "--actors", "1", "--parts", "video",
                             "--accept-licence", "--mirror", source.url, "--jobs", "1")
    finally:
        signal.signal(signal.SIGINT, old)
        if signal.SIGINT in blocked:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    assert code == 130, out
    assert "interrupted: 1 partial files kept as .part" in out and "run the same command again" in out
    assert "Traceback" not in out
    kept = part.stat().st_size
    assert 0 < kept < total
    assert not (dest / ".downloads" / "Video_Speech_Actor_01.zip").exists() and not (dest / "Actor_01").exists()

    code, out = download(monkeypatch, capsys, "ravdess", dest, "--actors", "1", "--parts", "video", "--mirror", source.url)
    assert code == 0, out
    assert source.fetched("Video_Speech_Actor_01.zip")[-1] == f"bytes={kept}-"  # continued, not started over
    for stem in STEMS:
        assert (dest / "Actor_01" / f"{stem}.mp4").read_bytes() == member(ravdess_archives, "Video_Speech_Actor_01.zip", f"{stem}.mp4")
    assert not part.exists()


def test_dropped_connection_then_500_then_200(monkeypatch, capsys, tmp_path, source, ravdess_archives):
    path = f"/zenodo.org/records/{SPEECH}/files/Video_Speech_Actor_01.zip"
    source.faults[path] = ["drop:5000", "500"]
    dest = tmp_path / "ravdess"
    code, out = download(monkeypatch, capsys, "ravdess", dest, "--actors", "1", "--parts", "video",
                         "--accept-licence", "--mirror", source.url)
    assert code == 0, out
    ranges = source.fetched("Video_Speech_Actor_01.zip")
    assert len(ranges) == 3 and ranges[0] is None and ranges[1] == ranges[2] and ranges[1].startswith("bytes=")
    assert 0 < int(ranges[1][6:-1]) <= 5000
    for stem in STEMS:
        assert (dest / "Actor_01" / f"{stem}.mp4").read_bytes() == member(ravdess_archives, "Video_Speech_Actor_01.zip", f"{stem}.mp4")


def test_gives_up_after_retries_one_line_exit_3(monkeypatch, capsys, tmp_path, source):
    source.faults[f"/zenodo.org/records/{SPEECH}/files/Video_Speech_Actor_01.zip"] = ["500"] * 3
    code, out = download(monkeypatch, capsys, "ravdess", tmp_path / "r", "--actors", "1", "--parts", "video",
                         "--accept-licence", "--mirror", source.url, "--retries", "2")
    assert code == 3, out
    assert failed_lines(out) == ["failed: Video_Speech_Actor_01.zip: HTTP 500 scripted failure; gave up after 2 "
                                 "retries, 0 bytes kept in Video_Speech_Actor_01.zip.part (run again to resume)"]


def test_wrong_checksum_refused_kept_as_part_from_zenodo_like_api(monkeypatch, capsys, tmp_path, ravdess_archives):
    """Without a mirror: the module-level bases point at a Zenodo-like API on 127.0.0.1."""
    src = FakeSource()
    try:
        serve_ravdess(src, ravdess_archives, wrong_md5=("Video_Speech_Actor_01.zip",))
        monkeypatch.setattr(sources, "ZENODO", f"{src.url}/zenodo.org")
        monkeypatch.delenv("AVEMOTION_MIRROR", raising=False)
        dest = tmp_path / "ravdess"
        code, out = download(monkeypatch, capsys, "ravdess", dest, "--actors", "1", "--accept-licence")
    finally:
        src.close()
    assert code == 3, out
    lines = failed_lines(out)
    assert len(lines) == 1 and lines[0].startswith("failed: Video_Speech_Actor_01.zip: checksum mismatch (md5:"), out
    assert "Traceback" not in out
    part = dest / ".downloads" / "Video_Speech_Actor_01.zip.part"
    assert part.read_bytes() == ravdess_archives["Video_Speech_Actor_01.zip"]  # kept, whole, not under its name
    assert not (dest / ".downloads" / "Video_Speech_Actor_01.zip").exists() and not (dest / "Actor_01").exists()
    assert (dest / "landmarks" / "Actor_01" / f"{STEMS[0]}.csv").is_file()  # the other file went on


def test_archive_member_outside_the_target_refused(monkeypatch, capsys, tmp_path, source, ravdess_archives):
    evil = zip_bytes({f"Actor_01/{STEMS[0]}.mp4": b"clip", "../evil.mp4": b"owned"})
    serve_ravdess(source, ravdess_archives, replace={"Video_Speech_Actor_01.zip": evil})
    dest = tmp_path / "ravdess"
    code, out = download(monkeypatch, capsys, "ravdess", dest, "--actors", "1", "--parts", "video",
                         "--accept-licence", "--mirror", source.url)
    assert code == 3, out
    assert failed_lines(out) == ["failed: Video_Speech_Actor_01.zip: member '../evil.mp4' has a '..' component "
                                 "(it would be written outside the target folder); nothing was extracted"]
    assert not (tmp_path / "evil.mp4").exists() and not (dest / "Actor_01").exists()
    assert not list((dest / ".downloads").glob("*.tmp"))


def test_audio_part_checked_against_the_published_md5(monkeypatch, capsys, tmp_path, source, ravdess_archives):
    dest = tmp_path / "ravdess"
    args = ("ravdess", dest, "--actors", "1", "--parts", "audio", "--accept-licence", "--mirror", source.url)
    code, out = download(monkeypatch, capsys, *args)  # the fake record's MD5 is not the published one
    assert code == 3, out
    md5 = hashlib.md5(ravdess_archives["Audio_Speech_Actors_01-24.zip"]).hexdigest()
    assert failed_lines(out) == [f"failed: Audio_Speech_Actors_01-24.zip: the record gives md5:{md5}, the published "
                                 "checksum is md5:bc696df654c87fed845eb13823edef8a; refused"]
    assert zips_requested(source) == []
    monkeypatch.setattr(sources, "PINNED", {"Audio_Speech_Actors_01-24.zip": f"md5:{md5}"})
    code, out = download(monkeypatch, capsys, *args)
    assert code == 0, out
    assert (dest / "audio-speech" / "Actor_01" / "03-01-01-01-01-01-01.wav").read_bytes() == b"a1"
    assert not (dest / "audio-speech" / "Actor_02").exists() and not (dest / "Actor_01").exists()
    assert f"next: avemotion prepare {dest}/audio-speech --out cache/ravdess-speech" in out


@pytest.mark.parametrize("members,links,why", [
    ({"/etc/passwd": b""}, None, "is an absolute path"),
    ({"C:/x.mp4": b""}, None, "is an absolute path"),
    ({"Actor_01\\..\\..\\x.mp4": b""}, None, "'..' component"),
    ({}, {"Actor_01/link": "../../outside"}, "is a link to '../../outside'"),
    ({}, {"Actor_01/link": "/etc/passwd"}, "is a link to '/etc/passwd'"),
])
def test_unsafe_members_refused_before_writing(tmp_path, members, links, why):
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes({"Actor_01/ok.txt": b"ok", **members}, links))
    with pytest.raises(extract_mod.ArchiveError, match="nothing was extracted") as err:
        extract_mod.extract(archive, tmp_path / "out", tmp_path, lambda m: m)
    assert why in str(err.value)
    assert not (tmp_path / "out").exists()


def test_link_inside_the_archive_is_not_created(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes({"d/ok.txt": b"ok"}, {"d/link": "ok.txt"}))
    placed = extract_mod.extract(archive, tmp_path / "out", tmp_path, lambda m: m)
    assert placed == {"d/ok.txt": 2} and not (tmp_path / "out" / "d" / "link").exists()


def test_licence_required_before_any_request(monkeypatch, capsys, tmp_path, source):
    dest = tmp_path / "ravdess"
    code, out = download(monkeypatch, capsys, "ravdess", dest, "--mirror", source.url)
    assert code == 2, out
    assert "CC BY-NC-SA 4.0" in out and "Livingstone SR, Russo FA (2018)" in out
    assert out.strip().splitlines()[-1] == ("error: ravdess: its licence (CC BY-NC-SA 4.0, printed above) must be "
                                            "accepted before the download: pass --accept-licence")
    assert source.requests == [] and not (dest / "LICENCE-ravdess.md").exists()


def test_dry_run_lists_and_writes_nothing(monkeypatch, capsys, tmp_path, source, ravdess_archives):
    dest = tmp_path / "ravdess"
    code, out = download(monkeypatch, capsys, "ravdess", dest, "--actors", "1-2", "--dry-run", "--mirror", source.url)
    assert code == 0, out
    md5 = hashlib.md5(ravdess_archives["Video_Speech_Actor_02.zip"]).hexdigest()
    assert f"Video_Speech_Actor_02.zip  md5:{md5}" in out and "FacialTracking_Actors_01-24.zip" in out
    assert "dry run: 3 files to fetch" in out and f"then: avemotion prepare {dest} --out cache/ravdess" in out
    assert zips_requested(source) == [] and not dest.exists()


def test_free_space_checked_before_fetching(monkeypatch, capsys, tmp_path, source):
    monkeypatch.setattr(runner, "free_space", lambda dest: 1000)
    code, out = download(monkeypatch, capsys, "ravdess", tmp_path / "r", "--actors", "1", "--accept-licence",
                         "--mirror", source.url)
    assert code == 2, out
    assert "of free disk space, 1.0 KB is free" in out.strip().splitlines()[-1]
    assert zips_requested(source) == []


def test_one_corpus_per_folder(monkeypatch, capsys, tmp_path, source):
    dest = tmp_path / "d"
    (dest / ".downloads").mkdir(parents=True)
    (dest / ".downloads" / "state.json").write_text(json.dumps({"corpus": "crema-d"}))
    code, out = download(monkeypatch, capsys, "ravdess", dest, "--accept-licence", "--mirror", source.url)
    assert code == 2 and "holds a crema-d download" in out, out


# ---------------------------------------------------------------------------------------------- CREMA-D

CREMA_RAW = "/raw.githubusercontent.com/CheyneyComputerScience/CREMA-D/master"
CREMA_MEDIA = "/media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master"
CREMA_CLIPS = ("1001_DFA_ANG_XX", "1001_DFA_HAP_XX", "1001_DFA_NEU_XX")


def test_crema_d_from_lfs_pointers_subset_and_repaired_pointer(monkeypatch, capsys, tmp_path, crema_dir):
    src = FakeSource()
    names = CREMA_CLIPS + ("1002_DFA_ANG_XX",)
    src.files[f"{CREMA_RAW}/SentenceFilenames.csv"] = ('"Stimulus_Number","Filename"\n' + "".join(
        f'{i},"{n}"\n' for i, n in enumerate(names, 1))).encode()
    src.files[f"{CREMA_RAW}/VideoDemographics.csv"] = (
        b'"ActorID","Age","Sex","Race","Ethnicity"\n1001,51,"Male","Caucasian","Not Hispanic"\n'
        b'1002,21,"Female","Caucasian","Not Hispanic"\n')
    for n in CREMA_CLIPS:
        flv, wav = (crema_dir / f"{n}.flv").read_bytes(), f"RIFF {n}".encode()
        for path, data in ((f"VideoFlash/{n}.flv", flv), (f"AudioWAV/{n}.wav", wav)):
            src.files[f"{CREMA_RAW}/{path}"], src.files[f"{CREMA_MEDIA}/{path}"] = lfs_pointer(data), data
    bad = f"{CREMA_RAW}/AudioWAV/1001_DFA_NEU_XX.wav"
    src.files[bad] = lfs_pointer(b"RIFF 1001_DFA_NEU_XY")  # the pointer disagrees with the media: refused
    dest = tmp_path / "crema"
    try:
        code, out = download(monkeypatch, capsys, "crema-d", dest, "--actors", "1001", "--parts", "video,audio",
                             "--accept-licence", "--mirror", src.url)
        assert code == 3, out
        lines = failed_lines(out)
        assert len(lines) == 1 and lines[0].startswith("failed: AudioWAV/1001_DFA_NEU_XX.wav: checksum mismatch (sha256:")
        assert (dest / "audio" / "1001_DFA_NEU_XX.wav.part").is_file() and not (dest / "audio" / "1001_DFA_NEU_XX.wav").exists()
        assert not any("1002_" in p for p, _ in src.requests)  # the actor subset
        for n in CREMA_CLIPS:  # the real clips, verified against their LFS pointers' SHA-256
            assert hashlib.sha256((dest / f"{n}.flv").read_bytes()).digest() == \
                hashlib.sha256((crema_dir / f"{n}.flv").read_bytes()).digest()

        from avemotion.data.datasets import scan_dataset

        scan = scan_dataset(dest)
        assert scan.dataset == "crema-d" and len(scan.records) == 3 and {r.gender for r in scan.records} == {"male"}
        manifest = (dest / "audio" / "manifest.csv").read_text().splitlines()
        assert manifest[0] == "path,label,speaker,gender" and manifest[1:] == [
            "1001_DFA_ANG_XX.wav,angry,1001,male", "1001_DFA_HAP_XX.wav,happy,1001,male"]

        # the repository fixes the pointer: the rerun reads that pointer again (the others are kept)
        src.files[bad] = lfs_pointer(src.files[f"{CREMA_MEDIA}/AudioWAV/1001_DFA_NEU_XX.wav"])
        seen = len(src.requests)
        code, out = download(monkeypatch, capsys, "crema-d", dest, "--actors", "1001", "--parts", "video,audio",
                             "--mirror", src.url)
        assert code == 0, out
        again = [p for p, _ in src.requests[seen:]]
        assert [p for p in again if p.startswith(CREMA_RAW + "/AudioWAV") or p.startswith(CREMA_RAW + "/VideoFlash")] == [bad]
        # the kept .part now matches the pointer: verified and put in place without fetching it again
        assert [p for p in again if p.startswith(CREMA_MEDIA)] == []
        assert (dest / "audio" / "1001_DFA_NEU_XX.wav").is_file() and not list(dest.rglob("*.part"))
        assert len((dest / "audio" / "manifest.csv").read_text().splitlines()) == 4
        assert f"next: avemotion prepare {dest} --out cache/crema-d" in out
    finally:
        src.close()


# ---------------------------------------------------------------------------------------------- EmoDB

EMODB_STEMS = ("03a01Fa", "03a01Nc")


@pytest.fixture
def emodb_wavs(monkeypatch) -> dict[str, bytes]:
    """Two real EmoDB utterances as the release's 16-bit WAVs (decoded from the shared lossless copy);
    the package's list of expected samples narrowed to them."""
    import soundfile as sf

    from avemotion.data.download import emodb_samples

    shared = Path(__file__).parents[2].parent / "shared/data/emodb"
    wavs = {}
    for stem in EMODB_STEMS:
        data, rate = sf.read(shared / f"{stem}.flac", dtype="int16")
        buf = io.BytesIO()
        sf.write(buf, data, rate, format="WAV", subtype="PCM_16")
        wavs[stem] = buf.getvalue()
    monkeypatch.setattr(emodb_samples, "SAMPLES", {s: emodb_samples.SAMPLES[s] for s in EMODB_STEMS})
    return wavs


def emodb_mirror(root: Path, wavs: dict[str, bytes]) -> Path:
    path = root / "emodb.bilderbar.info" / "download" / "download.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_bytes({**{f"wav/{s}.wav": b for s, b in wavs.items()}, "erklaerung.txt": b"readme"}))
    return root


def test_emodb_from_file_mirror_content_checked(monkeypatch, capsys, tmp_path, emodb_wavs):
    mirror = emodb_mirror(tmp_path / "mirror", emodb_wavs)
    monkeypatch.setenv("AVEMOTION_MIRROR", str(mirror))  # a plain folder: a file:// source
    dest = tmp_path / "emodb"
    code, out = download(monkeypatch, capsys, "emodb", dest, "--accept-licence")
    assert code == 0, out
    assert "no published checksum; its content matched the release, sha256:" in out
    assert (dest / "wav" / "03a01Fa.wav").read_bytes() == emodb_wavs["03a01Fa"] and (dest / "erklaerung.txt").is_file()
    from avemotion.data.datasets import scan_dataset

    scan = scan_dataset(dest)
    assert scan.dataset == "emodb" and len(scan.records) == 2
    assert f"next: avemotion prepare {dest} --out cache/emodb" in out


def test_emodb_other_samples_refused_unless_trusted(monkeypatch, capsys, tmp_path, emodb_wavs):
    changed = dict(emodb_wavs, **{"03a01Nc": emodb_wavs["03a01Nc"][:-2] + b"\x01\x00"})
    mirror = emodb_mirror(tmp_path / "mirror", changed)
    dest = tmp_path / "emodb"
    code, out = download(monkeypatch, capsys, "emodb", dest, "--accept-licence", "--mirror", mirror.as_uri())
    assert code == 3, out
    assert failed_lines(out) == [f"failed: download.zip: its utterances do not match EmoDB's release "
                                 f"(1 with other samples (e.g. 03a01Nc) of 2); the archive is kept as "
                                 f"{dest / '.downloads' / 'download.zip.part'} (--trust-unverified accepts it)"]
    assert (dest / ".downloads" / "download.zip.part").is_file() and not (dest / "wav").exists()
    code, out = download(monkeypatch, capsys, "emodb", dest, "--trust-unverified", "--mirror", mirror.as_uri())
    assert code == 0 and "warning: download.zip: its utterances do not match" in out, out
    assert (dest / "wav" / "03a01Nc.wav").is_file()


# ---------------------------------------------------------------------------------------------- parsing

def test_actor_and_part_options():
    ravdess, crema, emodb = (sources.get_corpus(n) for n in ("ravdess", "CREMA_D", "emodb"))
    assert sources.parse_actors(ravdess, "1-4,9") == (1, 2, 3, 4, 9)
    assert sources.parse_actors(crema, "1001-1002") == (1001, 1002)
    for bad in ("0-3", "25", "4-1", "x"):
        with pytest.raises(ConfigError, match="--actors"):
            sources.parse_actors(ravdess, bad)
    with pytest.raises(ConfigError, match="one archive of all speakers"):
        sources.parse_actors(emodb, "3")
    assert sources.parse_parts(ravdess, None) == ("video", "landmarks")
    assert sources.parse_parts(ravdess, "all") == tuple(ravdess.parts)
    with pytest.raises(ConfigError, match="has the parts"):
        sources.parse_parts(crema, "landmarks")


def test_mirror_layout_and_pointer_parsing(tmp_path):
    assert fetch.resolve("https://zenodo.org/records/1/files/a.zip?download=1", "http://m/x/") == \
        "http://m/x/zenodo.org/records/1/files/a.zip"
    assert fetch.resolve("https://h/p", str(tmp_path)) == tmp_path.as_uri() + "/h/p"
    assert fetch.resolve("https://h/p", None) == "https://h/p"
    data = b"clip"
    assert sources.parse_pointer(lfs_pointer(data).decode()) == (hashlib.sha256(data).hexdigest(), 4)
    assert sources.parse_pointer("<html>not a pointer</html>") is None


def test_server_ignoring_range_starts_the_part_over(tmp_path):
    src = FakeSource()
    data = bytes(range(256)) * 400
    src.files["/f.bin"] = data
    src.faults["/f.bin"] = ["norange"]
    part = tmp_path / "f.bin.part"
    part.write_bytes(b"stale bytes from another file")
    try:
        digest, size = fetch.fetch_file(f"{src.url}/f.bin", part, name="f.bin", size=len(data),
                                        checksum="sha256:" + hashlib.sha256(data).hexdigest())
    finally:
        src.close()
    assert size == len(data) and part.read_bytes() == data and src.fetched("/f.bin") == ["bytes=29-"]


def test_unreachable_file_list_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    src = FakeSource()  # serves nothing: the record is 404
    try:
        code, out = download(monkeypatch, capsys, "ravdess", tmp_path / "r", "--accept-licence", "--mirror", src.url)
    finally:
        src.close()
    assert code == 2, out
    assert out.strip().splitlines()[-1] == (f"error: Zenodo record {SPEECH}: HTTP 404 Not Found "
                                            f"({src.url}/zenodo.org/api/records/{SPEECH})")
