// The page of `avemotion serve`: upload or record a clip (POST /predict?extras=true), or stream the
// camera and microphone (WebSocket /stream). Plain JavaScript, nothing fetched from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
let model = null;

function setStatus(text) { $("status").textContent = text || ""; }

function bars(container, probabilities) {
  container.replaceChildren();
  const entries = Object.entries(probabilities);
  const top = entries.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  for (const [name, p] of entries) {
    const row = document.createElement("div");
    row.className = "bar" + (name === top ? " top" : "");
    row.dataset.label = name;
    const label = document.createElement("span");
    label.textContent = name;
    const track = document.createElement("div");
    track.className = "track";
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = (100 * p).toFixed(1) + "%";
    track.appendChild(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = (100 * p).toFixed(1) + "%";
    row.append(label, track, value);
    container.appendChild(row);
  }
}

// A timeline's probabilities averaged over its windows: the answer the page shows for a long file.
function meanOfWindows(windows) {
  const sum = {};
  for (const w of windows) for (const [k, v] of Object.entries(w.probabilities)) sum[k] = (sum[k] || 0) + v / windows.length;
  return sum;
}

function showResult(doc) {
  $("error-box").hidden = true;
  const r = doc.results[0];
  const probs = r.kind === "timeline" ? meanOfWindows(r.smoothed || r.windows) : r.probabilities;
  const emotion = Object.entries(probs).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  $("emotion").textContent = emotion;
  $("probability").textContent = (100 * probs[emotion]).toFixed(0) + "%" + (r.kind === "timeline" ? " (mean of " + r.windows.length + " windows)" : "");
  $("file-line").textContent = r.file + " · " + (r.modalities || []).join(" + ") + (r.kind === "timeline" ? " · " + r.duration + " s" : "");
  bars($("bars"), probs);
  const notes = $("notes");
  notes.replaceChildren();
  for (const n of r.notes || []) { const li = document.createElement("li"); li.textContent = n; notes.appendChild(li); }
  const extras = doc.extras || {};
  $("timeline-box").hidden = !extras.plot;
  if (extras.plot) $("timeline").src = extras.plot;
  const faces = $("faces");
  faces.replaceChildren();
  for (const src of extras.faces || []) { const img = document.createElement("img"); img.src = src; img.alt = "face crop"; faces.appendChild(img); }
  $("faces-note").textContent = extras.faces_note || "";
  $("result").hidden = false;
  $("result").dataset.emotion = emotion;
}

function showError(text) {
  $("result").hidden = true;
  $("error").textContent = text;
  $("error-box").hidden = false;
}

async function predict(blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  setStatus("predicting " + name + "…");
  try {
    const response = await fetch("/predict?extras=true", { method: "POST", body: form });
    const doc = await response.json().catch(() => ({ detail: response.status + " " + response.statusText }));
    if (response.ok) showResult(doc); else showError(doc.detail || response.statusText);
  } catch (err) {
    showError("the service did not answer (" + err + ")");
  } finally {
    setStatus("");
  }
}

$("upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) { showError("choose a video or audio file first"); return; }
  predict(file, file.name);
});

async function media() {
  const wantVideo = !!(model && model.stream && model.stream.video);
  return navigator.mediaDevices.getUserMedia({ audio: true, video: wantVideo ? { width: 640, height: 480 } : false });
}

$("record-button").addEventListener("click", async () => {
  let stream;
  try { stream = await media(); } catch (err) { showError("no camera or microphone: " + err.message); return; }
  const preview = $("preview");
  preview.srcObject = stream; preview.hidden = stream.getVideoTracks().length === 0; preview.play();
  const chunks = [];
  const recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    preview.hidden = true;
    predict(new Blob(chunks, { type: recorder.mimeType }), "recording.webm");
  };
  recorder.start();
  let left = 5;
  setStatus("recording… " + left + " s");
  const timer = setInterval(() => { left -= 1; setStatus("recording… " + left + " s"); if (left <= 0) { clearInterval(timer); recorder.stop(); } }, 1000);
});

// --- live: audio (float32 at the AudioContext's rate) and JPEG frames over /stream ---------------
let live = null;

function stopLive() {
  if (!live) return;
  const { ws, stream, context, timer } = live;
  live = null;
  clearInterval(timer);
  stream.getTracks().forEach((t) => t.stop());
  context.close();
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "end" }));
  $("live-button").textContent = "Live";
  $("preview").hidden = true;
}

$("live-button").addEventListener("click", async () => {
  if (live) { stopLive(); return; }
  let stream;
  try { stream = await media(); } catch (err) { showError("no camera or microphone: " + err.message); return; }
  const context = new AudioContext();
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/stream");
  ws.binaryType = "arraybuffer";
  const hasVideo = stream.getVideoTracks().length > 0;
  live = { ws, stream, context, timer: null };
  $("live-button").textContent = "Stop";
  $("live-box").hidden = false;
  const preview = $("preview");
  preview.srcObject = stream; preview.hidden = !hasVideo; preview.play();
  let sent = 0; // audio samples sent: the stream's clock
  ws.onopen = () => ws.send(JSON.stringify({ type: "start", sample_rate: context.sampleRate, video: hasVideo }));
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "ready") {
      const source = context.createMediaStreamSource(stream);
      const node = context.createScriptProcessor(4096, 1, 1);
      node.onaudioprocess = (e) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        const samples = e.inputBuffer.getChannelData(0);
        const out = new Uint8Array(1 + samples.length * 4);  // byte 0: kind 1 (audio), then float32 LE
        const view = new DataView(out.buffer);
        view.setUint8(0, 1);
        for (let i = 0; i < samples.length; i++) view.setFloat32(1 + 4 * i, samples[i], true);
        ws.send(out.buffer);
        sent += samples.length;
      };
      source.connect(node); node.connect(context.destination);
      if (hasVideo) {
        const canvas = document.createElement("canvas");
        live.timer = setInterval(() => {
          if (!preview.videoWidth || ws.readyState !== WebSocket.OPEN) return;
          canvas.width = preview.videoWidth; canvas.height = preview.videoHeight;
          canvas.getContext("2d").drawImage(preview, 0, 0);
          const t = sent / context.sampleRate;
          canvas.toBlob(async (blob) => {
            const image = new Uint8Array(await blob.arrayBuffer());
            const out = new Uint8Array(9 + image.length);
            const view = new DataView(out.buffer);
            view.setUint8(0, 2); view.setFloat64(1, t, true);
            out.set(image, 9);
            if (ws.readyState === WebSocket.OPEN) ws.send(out.buffer);
          }, "image/jpeg", 0.85);
        }, 100);
      }
      $("live-line").textContent = "listening: " + msg.window + " s windows every " + msg.hop + " s";
    } else if (msg.type === "window") {
      if (msg.kind === "error") { $("live-emotion").textContent = "…"; $("live-line").textContent = msg.start + "–" + msg.end + " s: " + msg.error.detail; return; }
      $("live-emotion").textContent = msg.emotion;
      $("live-line").textContent = msg.start.toFixed(1) + "–" + msg.end.toFixed(1) + " s · " + msg.modalities.join(" + ") + " · " + msg.latency_ms.toFixed(0) + " ms";
      bars($("live-bars"), msg.probabilities);
    } else if (msg.type === "error") {
      showError(msg.detail); stopLive();
    }
  };
  ws.onclose = () => stopLive();
});

async function loadModel() {
  try {
    model = await (await fetch("/model")).json();
    $("model-line").textContent = model.headline + " · classes: " + model.classes.join(", ");
    $("licence").textContent = "Licence of the training data: " + model.licence_note;
    $("record-button").textContent = model.stream.video ? "Record 5 s from camera and microphone" : "Record 5 s from the microphone";
  } catch (err) {
    $("model-line").textContent = "the service did not answer /model (" + err + ")";
  }
}
loadModel();
