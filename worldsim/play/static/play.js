// worldsim play: the page side. One WebSocket per tab (the server's session); frames arrive as base64 raw RGB
// with the colour tracker's positions and the tracked kinetic energy / momentum. Protocol: worldsim/play/protocol.py
"use strict";
const $ = (id) => document.getElementById(id);
const PALETTE = { red: "#ff5252", green: "#69f0ae", blue: "#448aff", yellow: "#ffff00", magenta: "#ff40ff", cyan: "#18ffff" };
const TRAIL = 40; // frames of trajectory drawn
const SERIES = 200; // frames in the energy plot

const ui = {
  ws: null, session: null, resolution: 64, colours: [], limits: {}, episode: 0, running: false, started: false,
  trails: [], series: [], arrivals: [], fps: 0, framesReceived: 0, lastTracks: null, agent: null, world: null,
  firstExample: true, branchTimers: [], branchShows: [],
  // The episode's start is the last thing the user acted on: a typed prompt (no initial frames), a loaded example
  // (its caption and frames) or an upload (its frames). `applied`: the current episode was reset from it.
  promptFrom: "user", exampleLabel: null, uploadLabel: null, applied: false, awaitingReset: false, startLabel: "",
};
window.worldsimPlay = ui; // for tests and the curious (read-only use)

function show(text, isError = false) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

function startLabel() {
  const source = $("source").value, prompt = $("prompt").value.trim();
  const yours = ui.promptFrom === "user";
  if (source === "example") {
    if (!ui.exampleLabel) return "the example's frames (none loaded yet: press Load)";
    return yours ? `${ui.exampleLabel}'s frames with your prompt` : ui.exampleLabel;
  }
  if (source === "upload") {
    if (!ui.uploadLabel) return "my upload (none yet: choose a file)";
    return ui.uploadLabel + (prompt ? (yours ? " with your prompt" : ` with the caption of ${ui.exampleLabel}`) : "");
  }
  if (!prompt) return "an empty prompt, no initial frames";
  return yours || !ui.exampleLabel ? "your prompt" : `the caption of ${ui.exampleLabel}, no initial frames`;
}

// Show which start is chosen, and whether the episode on screen began from it.
function renderStart() {
  ui.startLabel = startLabel();
  const line = $("start-line");
  line.textContent = `start: ${ui.startLabel}` + (ui.applied ? "" : " · not begun yet: Start (or Reset) begins from it");
  line.className = ui.applied ? "" : "pending";
  updateButtons();
}

// The user chose a new start (typed, loaded, uploaded or picked the initial frames): the next Start resets to it.
function chooseStart() {
  ui.applied = false;
  renderStart();
}

function send(msg) {
  if (ui.ws && ui.ws.readyState === WebSocket.OPEN) ui.ws.send(JSON.stringify(msg));
  else show("not connected to the server: reload the page", true);
}

function connect() {
  const proto = location.protocol === "https:" ? "wss://" : "ws://";
  ui.ws = new WebSocket(proto + location.host + "/ws");
  ui.ws.onopen = () => { $("conn").textContent = "connected"; };
  ui.ws.onmessage = (e) => handle(JSON.parse(e.data));
  ui.ws.onclose = (e) => {
    $("conn").textContent = "disconnected";
    ui.running = false;
    updateButtons();
    if (!$("status").classList.contains("error")) {
      show(`connection closed${e.reason ? " (" + e.reason + ")" : ""}: reload the page to start again`, true);
    }
  };
}

function decode(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function paint(canvas, b64) {
  const rgb = decode(b64), n = ui.resolution;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(n, n);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    img.data[j] = rgb[i]; img.data[j + 1] = rgb[i + 1]; img.data[j + 2] = rgb[i + 2]; img.data[j + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function newEpisode(ep) {
  ui.episode = ep;
  ui.trails = ui.colours.map(() => []);
  ui.series = [];
}

function onFrame(msg) {
  if (msg.episode < ui.episode) return; // a frame of an episode already replaced
  if (msg.episode > ui.episode) { newEpisode(msg.episode); ui.awaitingReset = false; }
  paint($("frame"), msg.rgb);
  ui.framesReceived += 1;
  ui.lastTracks = msg.tracks;
  ui.latent = msg.latent;
  ui.agent = msg.agent; ui.world = msg.world;
  msg.tracks.forEach((tr, c) => {
    ui.trails[c].push(tr);
    if (ui.trails[c].length > TRAIL) ui.trails[c].shift();
  });
  ui.series.push({ ke: msg.ke, p: Math.hypot(msg.p[0], msg.p[1]) });
  if (ui.series.length > SERIES) ui.series.shift();
  const now = performance.now();
  ui.arrivals.push(now);
  while (ui.arrivals.length && now - ui.arrivals[0] > 1000) ui.arrivals.shift();
  $("t").textContent = msg.t;
  $("recorded").textContent = msg.recorded;
  $("ms").textContent = msg.ms.toFixed(1);
  $("worldname").textContent = msg.world || "–";
  $("agent").textContent = msg.agent || "–";
  const ai = msg.agent ? ui.colours.indexOf(msg.agent) : -1;
  const at = ai >= 0 ? msg.tracks[ai] : null;
  $("agent-pos").textContent = at ? `at (${at[0].toFixed(1)}, ${at[1].toFixed(1)}) px` : "";
  $("agent-pos").dataset.x = at ? at[0] : "";
  $("agent-pos").dataset.y = at ? at[1] : "";
  drawOverlay();
  drawPlot();
}

function drawOverlay() {
  const cv = $("overlay"), ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  if (!$("show-tracks").checked) return;
  const s = cv.width / ui.resolution;
  const px = (v) => (v + 0.5) * s; // tracker pixel coordinates are pixel centres
  ui.trails.forEach((trail, c) => {
    const colour = PALETTE[ui.colours[c]] || "#fff";
    ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.globalAlpha = 0.8;
    ctx.beginPath();
    let pen = false;
    for (const p of trail) {
      if (!p) { pen = false; continue; }
      if (pen) ctx.lineTo(px(p[0]), px(p[1])); else ctx.moveTo(px(p[0]), px(p[1]));
      pen = true;
    }
    ctx.stroke();
    const last = trail[trail.length - 1];
    if (last) {
      ctx.globalAlpha = 1; ctx.lineWidth = 1.5; ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.arc(px(last[0]), px(last[1]), Math.max(2, last[2] * s + 3), 0, 2 * Math.PI); ctx.stroke();
      ctx.setLineDash([]);
      if (ui.colours[c] === ui.agent) {
        ctx.fillStyle = colour; ctx.font = "12px system-ui";
        ctx.fillText("agent", px(last[0]) + last[2] * s + 5, px(last[1]) - last[2] * s);
      }
    }
  });
  ctx.globalAlpha = 1;
  (ui.latent || []).forEach((p, c) => { // the model's own reading of its latents: a cross per ball
    if (!p) return;
    const x = px(p[0]), y = px(p[1]), r = 6;
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 3;
    ctx.beginPath(); ctx.moveTo(x - r, y); ctx.lineTo(x + r, y); ctx.moveTo(x, y - r); ctx.lineTo(x, y + r); ctx.stroke();
    ctx.strokeStyle = PALETTE[ui.colours[c]] || "#fff"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(x - r, y); ctx.lineTo(x + r, y); ctx.moveTo(x, y - r); ctx.lineTo(x, y + r); ctx.stroke();
  });
}

function drawPlot() {
  const cv = $("plot"), ctx = cv.getContext("2d"), w = cv.width, h = cv.height, pad = 16;
  ctx.clearRect(0, 0, w, h);
  const xs = ui.series;
  if (xs.length < 2) return;
  const top = Math.max(1e-6, ...xs.map((d) => Math.max(d.ke, d.p)));
  const line = (key, colour) => {
    ctx.strokeStyle = colour; ctx.lineWidth = 1.5; ctx.beginPath();
    xs.forEach((d, i) => {
      const x = (i / (SERIES - 1)) * w, y = h - pad / 2 - (d[key] / top) * (h - pad * 1.5);
      if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.stroke();
  };
  line("ke", "#ffb74d"); line("p", "#4dd0e1");
  const last = xs[xs.length - 1];
  ctx.fillStyle = "#9aa0a6"; ctx.font = "11px system-ui";
  ctx.fillText(`KE ${last.ke.toFixed(3)}  |p| ${last.p.toFixed(3)}  (max ${top.toFixed(3)})`, 4, 11);
}

function tickFps() {
  const now = performance.now();
  while (ui.arrivals.length && now - ui.arrivals[0] > 1000) ui.arrivals.shift();
  ui.fps = ui.arrivals.length;
  $("fps").textContent = `${ui.fps.toFixed(1)} fps`;
}
setInterval(tickFps, 250);

function updateButtons() {
  $("start").disabled = ui.running && ui.applied; // while running, Start restarts from a newly chosen start
  $("pause").disabled = !ui.running;
  $("step").disabled = ui.running || !ui.started;
  $("branch").disabled = !ui.started;
  const pushes = ui.world === "push";
  document.querySelectorAll("#pad button").forEach((b) => { b.disabled = !pushes; });
  $("pad-note").textContent = pushes ? `arrow keys push the ${ui.agent} ball` : "pushes act in the push world only";
}

function showBranches(msg) {
  ui.branchTimers.forEach(clearInterval);
  ui.branchTimers = [];
  ui.branchShows = [];
  const panes = $("panes");
  panes.replaceChildren();
  msg.futures.forEach((frames, i) => {
    const pane = document.createElement("div");
    pane.className = "pane";
    const cv = document.createElement("canvas");
    cv.width = ui.resolution; cv.height = ui.resolution;
    const label = document.createElement("span");
    const show = (k) => { paint(cv, frames[k]); label.textContent = `future ${i + 1} · frame ${k + 1}/${frames.length}`; };
    ui.branchShows.push(show);
    const go = document.createElement("button");
    go.textContent = "Continue from this one";
    go.onclick = () => { send({ type: "choose", index: i }); closeBranches(); };
    pane.append(cv, label, go);
    panes.append(pane);
    let k = 0;
    show(0);
    ui.branchTimers.push(setInterval(() => { k = (k + 1) % frames.length; show(k); }, 100));
  });
  $("branches").hidden = false;
  show(`${msg.count} futures of ${msg.frames} frames each (${msg.ms.toFixed(0)} ms): continue from one, or close`);
}

// Stop the futures' animation at frame k (for a still picture of them).
ui.holdBranches = (k) => { ui.branchTimers.forEach(clearInterval); ui.branchTimers = []; ui.branchShows.forEach((f) => f(k)); };

function closeBranches() {
  ui.branchTimers.forEach(clearInterval);
  ui.branchTimers = [];
  $("branches").hidden = true;
}

function handle(msg) {
  switch (msg.type) {
    case "hello":
      ui.session = msg.session; ui.resolution = msg.resolution; ui.colours = msg.colours; ui.limits = msg.limits;
      $("frame").width = $("frame").height = msg.resolution;
      $("model").textContent = `model: ${msg.model}`;
      $("limits").textContent = `This server's limits: ${msg.limits.max_sessions} live sessions; a session closes after `
        + `${msg.limits.idle_timeout_s} s without input; uploads up to ${(msg.limits.max_upload_bytes / 2 ** 20).toFixed(1)} MB `
        + `and ${msg.limits.max_upload_frames} frames; clips up to ${msg.limits.max_clip_frames} frames.`;
      $("world").replaceChildren(...msg.worlds.map((w) => new Option(w, w, w === "push", w === "push")));
      newEpisode(0);
      updateButtons();
      $("seed").value = 3;
      send({ type: "example", world: "push", seed: 3 }); // something to play right away (a ball large enough to last)
      break;
    case "example":
      $("prompt").value = msg.prompt;
      $("source").value = "example";
      ui.promptFrom = "example";
      ui.exampleLabel = `example ${msg.world} seed ${msg.seed}`;
      chooseStart();
      if (ui.firstExample) { ui.firstExample = false; reset(); }
      show(`loaded a ${msg.world} example (${msg.frames} true frames${msg.agent ? ", you push the " + msg.agent + " ball" : ""}): Start runs it; typing a prompt starts from your prompt instead`);
      break;
    case "frame": onFrame(msg); break;
    case "state":
      ui.running = msg.running; ui.started = msg.started; ui.world = msg.world; ui.agent = msg.agent;
      updateButtons();
      break;
    case "branches": showBranches(msg); break;
    case "info": show(msg.message); break;
    case "error":
      show(msg.message, true);
      if (ui.awaitingReset) { ui.awaitingReset = false; ui.applied = false; renderStart(); } // that reset was refused
      break;
    case "closed": show(msg.message, true); break;
    default: break; // pong and future message types
  }
}

// ----- controls -----
function reset() {
  closeBranches();
  send({ type: "reset", prompt: $("prompt").value, frames: $("source").value });
  ui.applied = true; ui.awaitingReset = true;
  renderStart();
}
// Start runs the chosen start: a reset to it first when the episode on screen did not begin from it.
function start() {
  closeBranches(); // the futures were of an earlier moment
  if (!ui.applied) reset();
  send({ type: "start" });
}
$("start").onclick = start;
$("pause").onclick = () => send({ type: "pause" });
$("step").onclick = () => { closeBranches(); send({ type: "step" }); };
$("reset").onclick = reset;
$("prompt").oninput = () => { // typing a prompt makes it the start, from the prompt alone
  ui.promptFrom = "user";
  $("source").value = "none";
  if (!$("status").classList.contains("error")) show("");
  chooseStart();
};
$("source").onchange = chooseStart;
$("branch").onclick = () => { show("branching: sampling four futures…"); send({ type: "branch" }); };
$("close-branches").onclick = closeBranches;
$("example").onclick = () => send({ type: "example", world: $("world").value, seed: Math.max(0, parseInt($("seed").value, 10) || 0) });
$("show-tracks").onchange = drawOverlay;
document.querySelectorAll("#pad button").forEach((b) => { b.onclick = () => send({ type: "push", dir: b.dataset.dir }); });

const KEYS = { ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right" };
const REPEAT_MS = 120; // a held key pushes again at most this often (one press pushes for a few frames)
const lastPush = {};
function typing() {
  const el = document.activeElement;
  if (!el) return false;
  if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  return el.tagName === "INPUT" && ["text", "number", "search"].includes(el.type);
}
document.addEventListener("keydown", (e) => {
  if (typing()) return;
  const dir = KEYS[e.key];
  if (dir) {
    e.preventDefault();
    const now = performance.now();
    if (e.repeat && now - (lastPush[dir] || 0) < REPEAT_MS) return;
    lastPush[dir] = now;
    send({ type: "push", dir });
  } else if (e.key === " ") {
    e.preventDefault();
    if (ui.running) send({ type: "pause" }); else start();
  }
});

$("upload").onchange = async () => {
  const file = $("upload").files[0];
  if (!file || !ui.session) return;
  const limit = ui.limits.max_upload_bytes;
  if (file.size > limit) {
    show(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB; uploads are limited to ${(limit / 2 ** 20).toFixed(1)} MB: choose a smaller file`, true);
    return;
  }
  show(`uploading ${file.name}…`);
  try {
    const r = await fetch(`/api/upload/${ui.session}`, { method: "POST", body: file });
    if (!(r.headers.get("content-type") || "").includes("json")) { show(`the upload failed (HTTP ${r.status})`, true); return; }
    const j = await r.json();
    if (!j.ok) { show(j.error, true); return; }
    $("source").value = "upload";
    ui.uploadLabel = `uploaded ${file.name} (${j.frames} frame${j.frames === 1 ? "" : "s"})`;
    chooseStart();
  } catch (err) {
    show(`upload failed (${err}): is the server still running?`, true);
  }
};

async function download(fmt) {
  if (!ui.session) return;
  show(`preparing the ${fmt}…`);
  try {
    const r = await fetch(`/api/download/${ui.session}.${fmt}`);
    if (!r.ok) {
      const json = (r.headers.get("content-type") || "").includes("json");
      show(json ? (await r.json()).error : `the download failed (HTTP ${r.status})`, true);
      return;
    }
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement("a");
    a.href = url; a.download = `worldsim_play_${ui.episode}.${fmt}`;
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    show(`downloaded the session as ${fmt}`);
  } catch (err) {
    show(`the download failed (${err}): is the server still running?`, true);
  }
}
$("download-mp4").onclick = (e) => { e.preventDefault(); download("mp4"); };
$("download-gif").onclick = (e) => { e.preventDefault(); download("gif"); };

renderStart();
connect();
