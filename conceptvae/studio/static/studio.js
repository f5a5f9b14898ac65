// conceptvae studio page: plain JavaScript, talks only to the server that sent it.
"use strict";

const $ = (id) => document.getElementById(id);
const RANGE_STEP = 0.05;

const state = {
  model: null,      // model name
  info: null,       // the model's controls (from /api/models/NAME)
  image: null,      // image id
  imageName: "",
  mode: "decode",
  face: "all",      // face models, photographs: all, largest, N, or none
  faces: [],        // the faces found: {number, box: [x, y, w, h] as fractions}
  amounts: {},      // attribute concept -> amount
  targets: {},      // class set -> {cls, amount}
  examples: [],
  maxBytes: 0,
};

// -- requests ----------------------------------------------------------------

let pending = 0;
function busy(delta) {
  pending += delta;
  document.body.dataset.pending = String(pending);
}

async function call(path, options = {}) {
  busy(1);
  try {
    const response = await fetch(path, options);
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response;
  } finally {
    busy(-1);
  }
}

const postJSON = (path, body) => call(path, {
  method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
});

function showError(message) { $("error").textContent = message || ""; }

// Pictures in the view keep their shape (the face boxes are drawn over the original).
function fit(img) {
  if (!img.closest("#view") || !img.naturalWidth) return;
  const box = Math.min(window.innerWidth * 0.34, 320);
  const scale = box / Math.max(img.naturalWidth, img.naturalHeight);
  img.style.width = `${Math.round(img.naturalWidth * scale)}px`;
  img.style.height = `${Math.round(img.naturalHeight * scale)}px`;
  img.classList.add("fitted");
}

function setImage(img, blob) {
  const old = img.dataset.url;
  img.onload = () => fit(img);
  const url = URL.createObjectURL(blob);
  img.src = url;
  img.dataset.url = url;
  img.dataset.version = String(Number(img.dataset.version || 0) + 1);
  if (old) URL.revokeObjectURL(old);
}

function saveBlob(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function fileName(response, fallback) {
  const m = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  return m ? m[1] : fallback;
}

// -- the edit ----------------------------------------------------------------

function editBody() {
  const amounts = {...state.amounts};
  for (const t of Object.values(state.targets)) {
    if (t.cls && t.amount) amounts[t.cls] = t.amount;
  }
  // "none": the whole picture is the face crop (align false, as --no-align).
  const align = state.face !== "none";
  return {model: state.model, image: state.image, mode: state.mode, amounts, align,
          face: align ? state.face : "all"};
}

// At most one preview in flight; moves made meanwhile are sent once it returns.
// While a slider moves, previews are "live" (the server edits a smaller copy of a
// large photo); once it rests, one more full preview follows.
let previewBusy = false, previewAgain = false, againLive = false, stillTimer = null;
async function updatePreview(live = false) {
  if (!state.image || !state.info) return;
  cancelStill();
  if (previewBusy) { previewAgain = true; againLive = live; return; }
  previewBusy = true;
  busy(1);  // until the last move is shown, not just between requests
  try {
    do {
      previewAgain = false;
      const response = await postJSON("/api/preview", {...editBody(), live});
      const timing = /dur=([\d.]+)/.exec(response.headers.get("Server-Timing") || "");
      setImage($("preview"), await response.blob());
      $("timing").textContent = timing ? `(${timing[1]} ms)` : "";
      showError("");
      if (previewAgain) live = againLive;
    } while (previewAgain);
  } catch (e) {
    showError(e.message);
    live = false;
  } finally {
    previewBusy = false;
    busy(-1);
  }
  if (live) {
    busy(1);
    stillTimer = setTimeout(() => { stillTimer = null; busy(-1); updatePreview(false); }, 200);
  }
  scheduleCommand();
}

function cancelStill() {
  if (stillTimer === null) return;
  clearTimeout(stillTimer);
  stillTimer = null;
  busy(-1);
}

let commandTimer = null;
function scheduleCommand() {
  // One busy count per timer that will run: the page is settled once the command shows too.
  if (commandTimer !== null) clearTimeout(commandTimer); else busy(1);
  commandTimer = setTimeout(async () => {
    commandTimer = null;
    try { await updateCommand(); } finally { busy(-1); }
  }, 120);
}

async function updateCommand() {
  if (!state.image || !state.info) { $("command").textContent = ""; return; }
  try {
    const response = await postJSON("/api/command", editBody());
    const command = (await response.json()).command;
    $("command").textContent = command;
    $("command-note").textContent = !command ? "Move a slider: with every amount at 0 there is nothing to edit."
      : state.image.startsWith("example:") ? ""
      : `Run it in the folder that holds ${state.imageName}.`;
  } catch (e) {
    showError(e.message);
  }
}

// -- controls ----------------------------------------------------------------

function slider(name, weak, onInput) {
  const div = document.createElement("div");
  div.className = "slider" + (weak ? " weak" : "");
  const label = document.createElement("label");
  label.textContent = name;
  const out = document.createElement("output");
  out.textContent = "0.00";
  const input = document.createElement("input");
  Object.assign(input, {type: "range", min: -state.info.range, max: state.info.range, step: RANGE_STEP, value: 0});
  input.setAttribute("aria-label", name);
  input.addEventListener("input", () => {
    const v = Math.round(Number(input.value) / RANGE_STEP) * RANGE_STEP;
    const a = Number(v.toFixed(2));
    out.textContent = a.toFixed(2);
    onInput(a);
    updatePreview(true);
  });
  div.append(label, out, input);
  return [div, input];
}

function buildControls() {
  const info = state.info;
  $("sliders").replaceChildren();
  $("targets").replaceChildren();
  state.amounts = {};
  state.targets = {};
  for (const c of info.attributes) {
    const [div, input] = slider(c.name, c.significant === false, (a) => { state.amounts[c.name] = a; });
    input.dataset.concept = c.name;
    $("sliders").append(div);
  }
  for (const s of info.class_sets) {
    state.targets[s.name] = {cls: "", amount: 0};
    const [div, input] = slider(`towards`, false, (a) => { state.targets[s.name].amount = a; });
    input.dataset.classSet = s.name;
    div.classList.add("target");
    const select = document.createElement("select");
    select.dataset.classSet = s.name;
    select.setAttribute("aria-label", `target ${s.name}`);
    select.append(new Option("(none)", ""));
    for (const cls of s.classes) select.append(new Option(cls, cls));
    select.addEventListener("change", () => {
      state.targets[s.name].cls = select.value;
      if (select.value && !state.targets[s.name].amount) {
        input.value = 1;
        input.dispatchEvent(new Event("input"));
      } else {
        updatePreview();
      }
    });
    div.querySelector("label").append(select);
    $("targets").append(div);
  }
  buildModes(info);
  document.body.classList.toggle("pixelated", info.image_size <= 64);
}

// decode: the decoder's picture; detail: the photo plus the decoded change;
// blend: the photo, with the decoded picture blended in where the concept acts.
function buildModes(info) {
  const box = $("modes");
  for (const label of box.querySelectorAll("label")) label.remove();
  for (const mode of info.modes) {
    const input = Object.assign(document.createElement("input"), {type: "radio", name: "mode", value: mode});
    input.checked = mode === info.default_mode;
    input.addEventListener("change", () => { state.mode = mode; updatePreview(); });
    const label = document.createElement("label");
    label.append(input, ` ${mode}`);
    box.append(label);
  }
  state.mode = info.default_mode;
}

function reset() {
  for (const input of document.querySelectorAll("#controls input[type=range]")) input.value = 0;
  for (const output of document.querySelectorAll("#controls output")) output.textContent = "0.00";
  for (const select of document.querySelectorAll("#targets select")) select.value = "";
  for (const k of Object.keys(state.amounts)) state.amounts[k] = 0;
  for (const t of Object.values(state.targets)) { t.cls = ""; t.amount = 0; }
  updatePreview();
}

// -- faces (face models, photographs) -----------------------------------------

async function refreshFaces() {
  state.faces = [];
  state.face = "all";
  $("faces").hidden = true;
  drawFaces();
  if (!state.image || !state.info) return;
  const response = await call(`/api/images/${encodeURIComponent(state.image)}/faces?model=${encodeURIComponent(state.model)}`);
  const info = await response.json();
  if (!info.photo) return;
  state.faces = info.faces;
  const select = $("face");
  select.replaceChildren();
  const n = info.faces.length;
  if (n) {
    select.append(new Option(n > 1 ? `edit all ${n} faces` : "edit the face", "all"));
    if (n > 1) {
      select.append(new Option("the largest face", "largest"));
      for (const f of info.faces) select.append(new Option(`face ${f.number}`, String(f.number)));
    }
  }
  select.append(new Option("the whole image as a face crop", "none"));
  state.face = n ? "all" : "none";
  select.value = state.face;
  $("faces-found").textContent = n ? `${n} face${n > 1 ? "s" : ""} found:` : "no face found:";
  $("faces").hidden = false;
  drawFaces();
}

function drawFaces() {
  const frame = $("original-frame");
  for (const b of frame.querySelectorAll(".facebox")) b.remove();
  for (const f of state.faces) {
    const b = document.createElement("div");
    const [x, y, w, h] = f.box;
    b.className = "facebox";
    b.dataset.face = String(f.number);
    Object.assign(b.style, {left: `${x * 100}%`, top: `${y * 100}%`, width: `${w * 100}%`, height: `${h * 100}%`});
    const used = state.face === "all" || state.face === String(f.number)
      || (state.face === "largest" && f === largestFace());
    b.classList.toggle("off", !used);
    const label = document.createElement("span");
    label.textContent = String(f.number);
    b.append(label);
    frame.append(b);
  }
}

function largestFace() {
  return state.faces.reduce((a, f) => (f.box[2] * f.box[3] > a.box[2] * a.box[3] ? f : a), state.faces[0]);
}

// -- images ------------------------------------------------------------------

const action = (fn) => async (...args) => {
  busy(1);
  try { return await fn(...args); } finally { busy(-1); }
};

const useImage = action(async (id, name) => {
  state.image = id;
  state.imageName = name;
  $("image-name").textContent = name;
  refreshMorphKeys();
  $("morph-a").value = id;  // the morph starts from the image being edited
  showSeeds();
  clearMorph();
  try {
    const response = await call(`/api/images/${encodeURIComponent(id)}/original`);
    setImage($("original"), await response.blob());
    await refreshFaces();
  } catch (e) {
    showError(e.message);
  }
  await updatePreview();
});

const upload = action(async (file) => {
  if (!file) return;
  if (file.size > state.maxBytes) {
    showError(`${file.name}: ${file.size.toLocaleString()} bytes; the studio takes at most ${state.maxBytes.toLocaleString()}`);
    return;
  }
  try {
    const response = await call("/api/images", {
      method: "POST", body: file,
      headers: {"Content-Type": "application/octet-stream", "X-Filename": encodeURIComponent(file.name)},
    });
    const info = await response.json();
    await useImage(info.id, info.name);
  } catch (e) {
    showError(`${file.name}: ${e.message}`);
  }
});

function buildExamples() {
  $("examples").replaceChildren();
  for (const ex of state.examples) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.example = ex.id;
    const img = document.createElement("img");
    img.alt = ex.name;
    img.src = `/api/images/${encodeURIComponent(ex.id)}/original`;
    b.append(img, document.createTextNode(ex.name));
    b.addEventListener("click", () => useImage(ex.id, ex.name));
    $("examples").append(b);
  }
}

// -- models ------------------------------------------------------------------

const useModel = action(async (name) => {
  try {
    const response = await call(`/api/models/${encodeURIComponent(name)}`);
    state.model = name;
    state.info = await response.json();
    buildControls();
    showError("");
    await refreshFaces();
    await updatePreview();
  } catch (e) {
    showError(e.message);
  }
});

// -- morph -------------------------------------------------------------------

function refreshMorphKeys() {
  for (const [id, fallback] of [["morph-a", "current"], ["morph-b", "seed"]]) {
    const select = $(id);
    const keep = select.value || fallback;
    select.replaceChildren();
    if (state.image && !state.image.startsWith("example:")) {
      select.append(new Option(`this image (${state.imageName})`, state.image));
    }
    for (const ex of state.examples) select.append(new Option(ex.name, ex.id));
    select.append(new Option("seed", "seed"));
    const values = [...select.options].map((o) => o.value);
    select.value = values.includes(keep) ? keep
      : (keep === "current" && state.image && values.includes(state.image)) ? state.image : "seed";
  }
  showSeeds();
}

// An animation on show and its command belong to the keys and settings they were
// made from: a change to any of those (a new image as the first key included)
// takes them away rather than leave a command that no longer matches the panel.
function clearMorph() {
  $("morph-command").textContent = "";
  for (const id of ["morph-download", "morph-image", "morph-video"]) $(id).hidden = true;
}

function showSeeds() {
  for (const which of ["a", "b"]) $(`morph-${which}-seed`).hidden = $(`morph-${which}`).value !== "seed";
}

function morphBody() {
  const key = (which) => {
    const v = $(`morph-${which}`).value;
    return v === "seed" ? `seed:${Math.max(0, Math.floor(Number($(`morph-${which}-seed`).value) || 0))}` : v;
  };
  return {
    model: state.model, keys: [key("a"), key("b")],
    frames: Math.floor(Number($("morph-frames").value)), fps: Number($("morph-fps").value),
    size: Number($("morph-size").value), format: $("morph-format").value,
  };
}

const makeMorph = action(async () => {
  const body = morphBody();
  try {
    const response = await postJSON("/api/morph", body);
    const blob = await response.blob();
    const name = fileName(response, `morph.${body.format}`);
    const link = $("morph-download");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.textContent = `Download ${name}`;
    link.hidden = false;
    const video = body.format === "mp4";
    $("morph-video").hidden = !video;
    $("morph-image").hidden = video;
    setImage(video ? $("morph-video") : $("morph-image"), blob);
    const cmd = await postJSON("/api/morph/command", body);
    $("morph-command").textContent = (await cmd.json()).command;
    showError("");
  } catch (e) {
    showError(e.message);
  }
});

// -- start -------------------------------------------------------------------

async function start() {
  const response = await call("/api/state");
  const s = await response.json();
  state.examples = s.examples;
  state.maxBytes = s.max_upload_bytes;
  for (const m of s.models) $("model").append(new Option(`${m.name} (${m.source})`, m.name));
  $("model").value = s.default_model;
  buildExamples();
  refreshMorphKeys();
  await useModel(s.default_model);
  const first = state.examples.find((e) => e.name.startsWith(s.default_model === "digits" ? "digit" : "face"));
  if (first) await useImage(first.id, first.name);
}

$("model").addEventListener("change", () => useModel($("model").value));
$("file").addEventListener("change", async () => {
  await upload($("file").files[0]);
  $("file").value = "";  // choosing the same file again is a change too
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  upload(e.dataTransfer.files[0]);
});
$("reset").addEventListener("click", reset);
$("face").addEventListener("change", () => { state.face = $("face").value; drawFaces(); updatePreview(); });
$("download").addEventListener("click", action(async () => {
  try {
    const response = await postJSON("/api/render", editBody());
    saveBlob(await response.blob(), fileName(response, "edited.png"));
  } catch (e) {
    showError(e.message);
  }
}));
$("copy").addEventListener("click", async () => {
  await updateCommand();
  const text = $("command").textContent;
  try {
    await navigator.clipboard.writeText(text);
    $("copy").textContent = "Copied";
  } catch (e) {
    const range = document.createRange();
    range.selectNodeContents($("command"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $("copy").textContent = "Selected: press Ctrl-C";
  }
  setTimeout(() => { $("copy").textContent = "Copy command"; }, 1500);
});
$("morph-go").addEventListener("click", makeMorph);
$("morph-a").addEventListener("change", showSeeds);
$("morph-b").addEventListener("change", showSeeds);
for (const id of ["morph-a", "morph-b", "morph-a-seed", "morph-b-seed", "morph-frames", "morph-fps",
                  "morph-size", "morph-format"]) {
  $(id).addEventListener("input", clearMorph);
  $(id).addEventListener("change", clearMorph);
}
action(start)().catch((e) => showError(e.message));
