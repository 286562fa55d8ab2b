"""`avemotion serve`'s app (inference/service.py), in process (FastAPI's TestClient) and on a real
socket (uvicorn on 127.0.0.1): predictions equal Recognizer.predict on real voices, bad uploads are
4xx with predict's own line, uploads never outlive their request, 20 requests at once all answer."""

from __future__ import annotations

import shutil
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
warnings.filterwarnings("ignore", message=".*httpx2.*")  # starlette 1.x asks for httpx2; httpx works

from fastapi.testclient import TestClient  # noqa: E402

from avemotion.inference import Recognizer  # noqa: E402
from avemotion.inference.service import Limits, ServiceModel, create_app  # noqa: E402

from inference_helpers import run_predict  # noqa: E402
from service_helpers import CREMA, EMODB, VOICES, running  # noqa: E402

LIMIT = 3 * 2**20


@pytest.fixture(scope="module")
def voice():
    """The shipped voice model (voice-v1, real weights), loaded once as the service loads it."""
    return ServiceModel.load()


@pytest.fixture(scope="module")
def voice_app(voice, tmp_path_factory):
    app = create_app(voice, Limits(max_bytes=LIMIT, max_seconds=60), upload_dir=tmp_path_factory.mktemp("uploads"))
    with TestClient(app) as client:
        yield app, client


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, media):
    """Bad uploads as files on disk: empty, text renamed .mp4, a truncated real clip (first half)."""
    root = tmp_path_factory.mktemp("bad")
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("this is not a video\n" * 50)
    shutil.copy(media["truncated"], root / "truncated.mp4")
    data = CREMA.read_bytes()
    (root / "cut.flv").write_bytes(data[: len(data) // 3])
    return root


def expected(recognizer, path, name):
    """What predict gives for the file, as the service names it."""
    return {**recognizer.predict(path).to_dict(), "file": name}


def no_uploads_left(app) -> None:
    assert list(app.state.upload_dir.iterdir()) == [], "an upload outlived its request"


@pytest.mark.parametrize("path", VOICES, ids=lambda p: p.name)
def test_predict_equals_recognizer(voice_app, voice, path):
    app, client = voice_app
    with open(path, "rb") as f:
        response = client.post("/predict", files={"file": (path.name, f)})
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["failed"] == 0 and doc["model"] == "voice-v1"
    assert {k: doc[k] for k in voice.describe()} == voice.describe()  # predict --format json's header
    assert doc["results"] == [expected(voice.recognizer, path, path.name)]
    no_uploads_left(app)


@pytest.mark.parametrize("name", ["empty.mp4", "notes.mp4", "truncated.mp4", "cut.flv"])
def test_bad_upload_is_4xx_with_predicts_line(voice_app, bad_files, name, monkeypatch, capsys):
    app, client = voice_app
    response = client.post("/predict", files={"file": (name, (bad_files / name).read_bytes())})
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    # the line `avemotion predict NAME` prints for the same file (run where it lies, so it names it alike)
    monkeypatch.chdir(bad_files)
    code, _, err = run_predict(monkeypatch, capsys, name, "--no-progress")
    assert code == 3
    line = err.strip().splitlines()[-1]
    assert body["detail"] == line
    assert body["results"][0]["error"]["reason"] == body["reason"]
    assert "Traceback" not in response.text and "/upload-" not in response.text  # nor the temporary path
    no_uploads_left(app)


def test_limits_and_malformed_requests(voice_app):
    app, client = voice_app
    big = client.post("/predict", files={"file": ("big.wav", b"\0" * (LIMIT + 1))})
    assert big.status_code == 413 and "upload limit of 3.0 MB" in big.json()["detail"]
    no_file = client.post("/predict", files={"other": ("a.wav", b"abc")})
    assert no_file.status_code == 400 and "field `file`" in no_file.json()["detail"]
    not_multipart = client.post("/predict", content=b"abc", headers={"content-type": "application/octet-stream"})
    assert not_multipart.status_code == 415
    cut = client.post("/predict", content=b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nabc',
                      headers={"content-type": "multipart/form-data; boundary=xx"})
    assert cut.status_code == 400 and cut.json()["detail"] == "a.wav: the upload was cut short (the multipart body has no end)"
    no_uploads_left(app)


def test_duration_limit(voice, tmp_path):
    app = create_app(voice, Limits(max_seconds=2.0), upload_dir=tmp_path)
    with TestClient(app) as client:
        response = client.post("/predict", files={"file": ("r.flac", VOICES[1].read_bytes())})  # 3.5 s
        assert response.status_code == 413
        assert response.json() == {"detail": "r.flac: 4 s long; this service predicts files up to 2 s", "reason": "too_long"}
        no_uploads_left(app)
    assert not app.state.upload_dir.exists()  # the private folder goes at shutdown


def test_model_health_docs_page(voice_app):
    app, client = voice_app
    info = client.get("/model").json()
    assert info["kind"] == "voice" and info["classes"] == ["neutral", "happy", "sad", "angry", "fearful", "disgust"]
    assert "non-commercial" in info["licence_note"] and info["preprocessing"]["sample_rate"] == 16000
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["limits"]["max_bytes"] == LIMIT
    schema = client.get("/openapi.json").json()
    assert "multipart/form-data" in schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    for asset in ("app.js", "style.css"):
        text = client.get(f"/static/{asset}").text
        assert "http://" not in text and "https://" not in text  # nothing fetched from elsewhere
    assert oct(app.state.upload_dir.stat().st_mode & 0o777) == "0o700"


def test_run_model_timeline_faces_and_equality(random_run, tmp_path, crema_clips):
    """A run's models (the stand-in tiny CFN-SR): a long real clip is a timeline equal to
    Recognizer.predict; the page's extras hold the face crops and the timeline plot."""
    from avemotion.inference import media

    joined = media.concat_videos(crema_clips, tmp_path / "joined.mp4")
    model = ServiceModel.load(run=random_run)
    app = create_app(model, upload_dir=tmp_path)
    with TestClient(app) as client:
        response = client.post("/predict?extras=true", files={"file": ("talk.mp4", joined.read_bytes())})
        assert response.status_code == 200, response.text
        doc = response.json()
        extras = doc.pop("extras")
        assert doc["results"] == [expected(Recognizer.from_run(random_run), joined, "talk.mp4")]
        assert doc["results"][0]["kind"] == "timeline"
        assert extras["plot"].startswith("data:image/png;base64,")
        assert extras["faces"] and all(f.startswith("data:image/jpeg;base64,") for f in extras["faces"])
        info = client.get("/model").json()
        assert info["kind"] == "run" and info["modalities"] == ["video", "audio"] and info["stream"]["video"]
        no_uploads_left(app)


def test_socket_predictions_and_20_concurrent(voice, tmp_path):
    """Over a real socket: the same answers, a bad upload's line, and 20 requests at once (one
    prediction at a time, the others waiting) all answered correctly; nothing left on disk."""
    import httpx

    app = create_app(voice, Limits(max_concurrent=1, max_waiting=32), upload_dir=tmp_path)
    wanted = {p.name: expected(voice.recognizer, p, p.name) for p in VOICES}
    with running(app) as url:
        bad = httpx.post(f"{url}/predict", files={"file": ("notes.mp4", b"this is not a video\n" * 50)}, timeout=60)
        assert bad.status_code == 422 and bad.json()["detail"] == "notes.mp4: not a media file (unrecognised content)"

        def post(i):
            path = VOICES[i % len(VOICES)]
            with httpx.Client(timeout=120) as client:
                r = client.post(f"{url}/predict", files={"file": (path.name, path.read_bytes())})
            return path.name, r.status_code, r.json()

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(post, range(20)))
        assert [status for _, status, _ in answers] == [200] * 20
        for name, _, doc in answers:
            assert doc["results"] == [wanted[name]]
        health = httpx.get(f"{url}/health").json()
        assert health["in_flight"] == 0 and health["predictions"] >= 20
        no_uploads_left(app)


def test_busy_beyond_waiting_limit(voice, tmp_path):
    """With one prediction at a time and none waiting, a second request while one runs is 503."""
    import threading

    import httpx

    release = threading.Event()
    entered = threading.Event()

    class Slow(ServiceModel):
        def predict_upload(self, path, name, limits, extras=False):
            entered.set()
            release.wait(30)
            return super().predict_upload(path, name, limits, extras)

    slow = Slow(voice.recognizer, origin=voice.origin)
    app = create_app(slow, Limits(max_concurrent=1, max_waiting=0), upload_dir=tmp_path)
    with running(app) as url, ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx.post, f"{url}/predict", files={"file": (EMODB.name, EMODB.read_bytes())}, timeout=60)
        assert entered.wait(30)
        second = httpx.post(f"{url}/predict", files={"file": (EMODB.name, EMODB.read_bytes())}, timeout=60)
        release.set()
        assert second.status_code == 503 and second.json()["reason"] == "busy"
        assert first.result().status_code == 200
        no_uploads_left(app)


def test_model_options_without_run_are_one_line():
    from avemotion.errors import ConfigError

    with pytest.raises(ConfigError, match="--fold go with --run RUN"):
        ServiceModel.load(fold=1)


def test_serve_cli_refuses_bad_options(monkeypatch, capsys):
    monkeypatch.delenv("AVEMOTION_RUN", raising=False)
    code, _, err = run_predict(monkeypatch, capsys, "--fold", "1", command=("serve",))
    assert code == 2 and err.strip() == "error: --fold go with --run RUN; without --run the shipped voice model answers (option: --weights)"
