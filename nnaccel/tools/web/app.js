// nnaccel serve: draw on the pad, POST the raw pixels to /api/predict, show the outputs live.
// No framework and no CDN: the page must work without the internet.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });
const seen = document.getElementById("seen");
const bars = document.getElementById("bars");
const state = { drawing: false, inFlight: false, dirty: false, last: null, predictions: 0, outputs: 10 };
window.nnaccel = state; // read by the browser test

function clearPad() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 20;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
}

// ---- drawing with the mouse, a pen or a finger (pointer events cover all three) ----
function at(event) {
  const r = pad.getBoundingClientRect();
  return [(event.clientX - r.left) * pad.width / r.width, (event.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener("pointerdown", (e) => {
  pad.setPointerCapture(e.pointerId);
  state.drawing = true;
  const [x, y] = at(e);
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 0.01, y);
  ctx.stroke();
  requestPrediction();
});
pad.addEventListener("pointermove", (e) => {
  if (!state.drawing) return;
  const [x, y] = at(e);
  ctx.lineTo(x, y);
  ctx.stroke();
  requestPrediction();
});
for (const name of ["pointerup", "pointercancel"]) {
  pad.addEventListener(name, () => { state.drawing = false; requestPrediction(); });
}
document.getElementById("clear").addEventListener("click", () => { clearPad(); requestPrediction(); });

// ---- an image file, dropped or opened: fitted into the pad, inverted if it is dark on light ----
async function showImage(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
  const w = Math.max(1, Math.round(bitmap.width * scale)), h = Math.max(1, Math.round(bitmap.height * scale));
  const tmp = document.createElement("canvas");
  tmp.width = w; tmp.height = h;
  const t = tmp.getContext("2d");
  t.drawImage(bitmap, 0, 0, w, h);
  const img = t.getImageData(0, 0, w, h);
  let sum = 0;
  for (let i = 0; i < img.data.length; i += 4) sum += gray(img.data, i);
  const invert = sum / (w * h) > 127; // MNIST digits are white ink on black
  for (let i = 0; i < img.data.length; i += 4) {
    const g = invert ? 255 - gray(img.data, i) : gray(img.data, i);
    img.data[i] = img.data[i + 1] = img.data[i + 2] = g;
    img.data[i + 3] = 255;
  }
  clearPad();
  ctx.putImageData(img, Math.floor((pad.width - w) / 2), Math.floor((pad.height - h) / 2));
  requestPrediction();
}
function gray(d, i) { return Math.round((0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]) * d[i + 3] / 255); }
pad.addEventListener("dragover", (e) => { e.preventDefault(); pad.classList.add("drop"); });
pad.addEventListener("dragleave", () => pad.classList.remove("drop"));
pad.addEventListener("drop", (e) => {
  e.preventDefault();
  pad.classList.remove("drop");
  if (e.dataTransfer.files.length) showImage(e.dataTransfer.files[0]);
});
document.getElementById("file").addEventListener("change", (e) => {
  if (e.target.files.length) showImage(e.target.files[0]);
});

// ---- predictions: at most one request in flight; the latest drawing is always sent last ----
function requestPrediction() {
  if (state.inFlight) { state.dirty = true; return; }
  state.inFlight = true;
  state.dirty = false;
  const data = ctx.getImageData(0, 0, pad.width, pad.height).data;
  const pixels = new Array(pad.width * pad.height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = data[4 * i]; // the red channel of white ink
  const request = { width: pad.width, height: pad.height, pixels };
  fetch("/api/predict", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request) })
    .then((r) => r.json().then((body) => { if (!r.ok) throw new Error(body.error || r.statusText); return body; }))
    .then((response) => { state.last = { request, response }; state.predictions += 1; show(response); })
    .catch((err) => { document.getElementById("status").textContent = "error: " + err.message; })
    .finally(() => { state.inFlight = false; if (state.dirty) requestPrediction(); });
}

function makeBars(n) {
  bars.textContent = "";
  for (let k = 0; k < n; k++) {
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.index = k;
    row.innerHTML = `<span class="label">${k}</span><span class="track"><span class="fill"></span></span><span class="value">–</span>`;
    bars.appendChild(row);
  }
}

function show(response) {
  const outputs = response.outputs;
  const best = response.prediction;
  const blank = response.image.every((v) => v === 0);
  outputs.forEach((v, k) => {
    const row = bars.children[k];
    row.dataset.value = String(v);
    row.classList.toggle("best", k === best && !blank);
    row.querySelector(".fill").style.width = `${Math.max(0, Math.min(1, v)) * 100}%`;
    row.querySelector(".value").textContent = v.toFixed(3);
  });
  document.getElementById("prediction").textContent = blank ? "–" : String(best);
  document.getElementById("status").textContent = blank ? "draw something" : `output ${best} is the most active`;
  const small = new ImageData(28, 28);
  response.image.forEach((v, i) => {
    const g = Math.round(255 * v);
    small.data[4 * i] = small.data[4 * i + 1] = small.data[4 * i + 2] = g;
    small.data[4 * i + 3] = 255;
  });
  const tmp = document.createElement("canvas");
  tmp.width = tmp.height = 28;
  tmp.getContext("2d").putImageData(small, 0, 0);
  const s = seen.getContext("2d");
  s.imageSmoothingEnabled = false;
  s.drawImage(tmp, 0, 0, seen.width, seen.height);
}

// ---- training curves from the --history file, as SVG; re-read while a run may still write it ----
const SVG = "http://www.w3.org/2000/svg";
function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function chart(svg, x0, title, series) {
  const W = 440, H = 220, L = 48, B = 28, T = 22;
  const values = series.flatMap((s) => s.points.map((p) => p[1]));
  if (!values.length) return;
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi === lo) { hi += 1; lo -= 1; }
  const n = Math.max(...series.map((s) => s.points.length));
  const px = (e) => x0 + L + (n > 1 ? e / (n - 1) : 0.5) * (W - L - 10);
  const py = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  el("text", { x: x0 + L, y: 14, "font-weight": "600" }, svg).textContent = title;
  el("line", { x1: x0 + L, y1: T, x2: x0 + L, y2: H - B, stroke: "#9ca3af" }, svg);
  el("line", { x1: x0 + L, y1: H - B, x2: x0 + W - 10, y2: H - B, stroke: "#9ca3af" }, svg);
  for (const v of [lo, (lo + hi) / 2, hi]) {
    el("text", { x: x0 + L - 6, y: py(v) + 4, "text-anchor": "end" }, svg).textContent = v.toPrecision(3);
  }
  el("text", { x: x0 + (L + W) / 2, y: H - 6, "text-anchor": "middle" }, svg).textContent = n > 1 ? `epoch 0 – ${n - 1}` : "epoch 0";
  for (const s of series) {
    if (!s.points.length) continue;
    const pts = s.points.map(([e, v]) => `${px(e)},${py(v)}`).join(" ");
    el("polyline", { points: pts, fill: "none", stroke: s.color, "stroke-width": 2 }, svg);
  }
}

function drawHistory(records) {
  const box = document.getElementById("curves");
  if (!records.length) return;
  const pick = (key, scale) => records.filter((r) => typeof r[key] === "number").map((r, i) => [i, scale(r, r[key])]);
  const pct = (n) => (r, v) => 100 * v / (r[n] || 1);
  const same = (r, v) => v;
  const acc = [
    { name: "evaluation accuracy %", color: "#2563eb", points: pick("evaluation_accuracy", pct("n_evaluation")) },
    { name: "training accuracy %", color: "#f59e0b", points: pick("training_accuracy", pct("n_training")) },
  ];
  const cost = [
    { name: "evaluation cost", color: "#059669", points: pick("evaluation_cost", same) },
    { name: "training cost", color: "#dc2626", points: pick("training_cost", same) },
  ];
  box.textContent = "";
  const svg = el("svg", { viewBox: "0 0 900 220", role: "img", "aria-label": "training curves" }, box);
  chart(svg, 0, "accuracy (%)", acc);
  chart(svg, 450, "cost", cost);
  const legend = document.createElement("div");
  legend.className = "legend";
  for (const s of [...acc, ...cost]) {
    if (s.points.length) legend.insertAdjacentHTML("beforeend", `<span><i style="background:${s.color}"></i>${s.name}</span>`);
  }
  box.appendChild(legend);
}

async function loadHistory() {
  try {
    const r = await fetch("/api/history");
    if (r.ok) drawHistory((await r.json()).records);
  } catch (err) { /* the server has stopped; keep what is shown */ }
}

async function start() {
  clearPad();
  const model = await (await fetch("/api/model")).json();
  document.getElementById("model").textContent = model.describe;
  state.outputs = model.sizes[model.sizes.length - 1];
  makeBars(state.outputs);
  requestPrediction();
  if (model.history) { loadHistory(); setInterval(loadHistory, 5000); }
}
start();
