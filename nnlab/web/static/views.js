// The workbench's task-aware parts: the New-model task selector with its ready configs, and the job page's
// per-task views (the sample-grid slider). Plain DOM, no framework.
"use strict";

const IMAGE_FOLDER_TASKS = ["classify", "generate"];  // tasks that train on a workbench dataset (image folders)

function setField(id, value) {
  const el = document.getElementById(id);
  if (!el) return;
  if (el.tagName === "SELECT" && value !== "" && ![...el.options].some(o => o.value === String(value) || o.text === String(value))) return;
  el.value = value === undefined || value === null ? "" : value;
}

function applyPreset(raw, task) {
  // a ready config fills the form (so the fields, which override the config, say what it holds)
  const m = raw.model || {}, o = raw.optim || {}, t = raw.train || {};
  const option = [...document.getElementById("model").options].find(x => x.dataset.task === task && x.text === m.name);
  if (option) option.selected = true;
  setField("optim", o.name || "sgd");
  setField("lr", o.lr ?? "");
  setField("weight_decay", o.weight_decay ?? "");
  setField("schedule", (o.schedule || {}).name || "fixed");
  setField("epochs", t.epochs ?? "");
  setField("batch_size", t.batch_size ?? "");
  setField("patience", (t.early_stopping || {}).patience ?? "");
  setField("seed", raw.seed ?? 0);
  if (!document.getElementById("name").value && raw.name) setField("name", raw.name);
  const own = [...document.getElementById("dataset").options].find(x => x.value === "");
  if (own) own.text = `(the config's own: ${(raw.data || {}).dataset || "digits"})`;
  setField("dataset", "");  // the config's own data
  document.getElementById("new-model").dispatchEvent(new Event("change"));  // the lr preview follows
}

function taskChoices(catalog) {
  const task = document.getElementById("task"), preset = document.getElementById("preset");
  const model = document.getElementById("model"), note = document.getElementById("task-note");
  const showOnly = (select, t) => {
    for (const opt of select.options) {
      if (opt.dataset.task === undefined) continue;
      opt.hidden = opt.disabled = opt.dataset.task !== t;
    }
    const chosen = select.options[select.selectedIndex];
    if (chosen && chosen.disabled) select.value = [...select.options].find(o => !o.disabled).value;
  };
  const onTask = first => {
    const t = task.value, entry = catalog.tasks[t];
    showOnly(model, t);
    showOnly(preset, t);
    note.textContent = entry.unavailable ? `unavailable here: ${entry.unavailable}` : `monitor: ${entry.monitor}`;
    if (!first && !IMAGE_FOLDER_TASKS.includes(t) && !preset.value) {  // other tasks start from a ready config
      const names = Object.keys(entry.configs);
      if (names.length) { preset.value = names[0]; applyPreset(entry.configs[names[0]], t); }
    }
    const dataset = document.getElementById("dataset"), chosen = dataset.options[dataset.selectedIndex];
    const fits = o => (t === "detect" ? o.dataset.kind === "boxes" : IMAGE_FOLDER_TASKS.includes(t) && o.dataset.kind === "images");
    if (!first && chosen && chosen.value && !fits(chosen)) {  // box folders train detectors, image folders the rest
      const other = [...dataset.options].find(o => o.value && fits(o));
      dataset.value = other ? other.value : "";
    }
    model.dispatchEvent(new Event("change"));
  };
  task.addEventListener("change", () => onTask(false));
  preset.addEventListener("change", () => {
    if (preset.value) applyPreset(catalog.tasks[task.value].configs[preset.value], task.value);
    model.dispatchEvent(new Event("change"));
  });
  onTask(true);
}

function sampleSlider(id) {
  // the per-epoch sample grids: a slider picks the epoch
  const root = document.getElementById(id);
  if (!root) return;
  const slider = root.querySelector("input[type=range]"), img = root.querySelector("img.current");
  const label = root.querySelector(".epoch");
  slider.addEventListener("input", () => {
    const [epoch, src] = JSON.parse(root.dataset.grids)[slider.value];
    img.src = src; img.hidden = false; label.textContent = epoch;
    const hint = document.getElementById("sample-hint");
    if (hint) hint.remove();
  });
}

function returnCurve(id, curve) {
  // episode returns over environment steps (the run's metrics.csv), one point per epoch
  const el = document.getElementById(id);
  const x = curve.env_steps.every(v => v !== null) ? curve.env_steps : curve.epoch;
  const names = ["episode_return", "return_100", "val_return"].filter(n => curve[n].some(v => v !== null));
  const chart = new uPlot({title: "return over environment steps", width: 640, height: 260, scales: {x: {time: false}},
                           series: [{label: x === curve.epoch ? "epoch" : "env steps"}].concat(
                             names.map((n, i) => ({label: n, stroke: COLORS[i % COLORS.length], width: 2})))},
                          [x].concat(names.map(n => curve[n])), el);
  el.dataset.series = names.length;
  return chart;
}

function taskViewHooks(jobId, waiting, samplesUrl) {
  // live parts of a task's section: a new epoch's sample grid joins the strip and the slider; results that were
  // waiting for the job to finish are drawn by one reload of the page (at most once per job and tab)
  window.jobHooks = {
    epoch: row => { if (samplesUrl) addSampleGrid(row.epoch, `${samplesUrl}/epoch_${String(row.epoch).padStart(3, "0")}.png`); },
    finished: () => {
      const key = `nnlab-reloaded-${jobId}`;
      if (waiting && !sessionStorage.getItem(key)) { sessionStorage.setItem(key, "1"); location.reload(); }
    },
  };
}

function addSampleGrid(epoch, src, delay = 500) {
  // the grid is written just after the epoch's metrics arrive (later on a busy machine): retry the image,
  // waiting longer each time; grids that arrive out of order still take their epoch's place
  const strip = document.getElementById("sample-strip"), root = document.getElementById("sample-slider");
  if (!strip || !root) return;
  const probe = new Image();
  probe.onload = () => {
    const grids = JSON.parse(root.dataset.grids);
    if (grids.some(([e]) => e === epoch)) return;
    grids.push([epoch, src]);
    grids.sort((a, b) => a[0] - b[0]);
    root.dataset.grids = JSON.stringify(grids);
    const fig = document.createElement("figure");
    fig.dataset.epoch = epoch;
    fig.innerHTML = `<img src="${src}" alt="epoch ${epoch}"><figcaption>${epoch}</figcaption>`;
    const later = [...strip.children].find(f => Number(f.dataset.epoch) > epoch);
    strip.insertBefore(fig, later || null);
    const slider = root.querySelector("input[type=range]");
    slider.max = grids.length - 1; slider.value = grids.length - 1;  // the newest grid
    slider.dispatchEvent(new Event("input"));
  };
  probe.onerror = () => { if (delay < 60000) setTimeout(() => addSampleGrid(epoch, src, delay * 1.5), delay); };
  probe.src = src;
}
