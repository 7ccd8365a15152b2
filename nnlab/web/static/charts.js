// Live training charts for the workbench (uPlot, vendored under static/uplot/). Minimal by design.
"use strict";

function bestEpoch(rows, monitor) {
  let have = rows.filter(r => r[monitor] !== undefined);
  if (!have.length && monitor.startsWith("val_")) {  // no validation split: the training metric
    monitor = monitor.slice(4);
    have = rows.filter(r => r[monitor] !== undefined);
  }
  if (!have.length) return null;
  const better = monitor.includes("loss") ? (a, b) => a < b : (a, b) => a > b;
  return have.reduce((best, r) => (better(r[monitor], best[monitor]) ? r : best)).epoch;
}

function markerPlugin(getBest) {
  // a dashed vertical line at the best epoch
  return {hooks: {draw: u => {
    const best = getBest();
    if (best === null) return;
    const x = Math.round(u.valToPos(best, "x", true)), ctx = u.ctx;
    ctx.save(); ctx.strokeStyle = "#d33"; ctx.setLineDash([4, 4]); ctx.beginPath();
    ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke(); ctx.restore();
  }}};
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

function makeChart(el, title, names, plugins) {
  const series = [{label: "epoch"}].concat(names.map((n, i) => ({label: n, stroke: COLORS[i % COLORS.length], width: 2})));
  return new uPlot({title: title, width: 420, height: 240, series: series, plugins: plugins || [],
                    scales: {x: {time: false}}}, [[]].concat(names.map(() => [])), el);
}

function columns(rows, names) {
  // a missing or NaN value (e.g. a metric computed only on some epochs) is a gap, not a broken scale
  const value = v => (typeof v === "number" && !Number.isNaN(v) ? v : null);
  return [rows.map(r => r.epoch)].concat(names.map(n => rows.map(r => value(r[n]))));
}

const SKIP = ["epoch", "time", "lr"];

function moreNames(rows, groups) {
  // every logged metric no chart of the task's view draws (loss terms, epsilon, ...), in first-seen order
  const taken = new Set(Object.values(groups).flat().concat(SKIP)), names = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!taken.has(k) && !names.includes(k)) names.push(k);
  return names;
}

function jobCharts(jobId, rows, monitor, epochs, groups) {
  // groups: chart id -> metric names (the task view's); one more chart ("chart-more") takes the rest
  groups = groups || {"chart-loss": ["loss", "val_loss"], "chart-acc": ["acc", "val_acc"], "chart-lr": ["lr"]};
  let best = bestEpoch(rows, monitor);
  const marker = () => markerPlugin(() => best);
  const charts = {};
  for (const [id, names] of Object.entries(groups)) {
    charts[id] = makeChart(document.getElementById(id), id.slice(6), names, [marker()]);
  }
  const moreEl = document.getElementById("chart-more");
  let more = null, moreKeys = "";
  const redraw = () => {
    for (const [id, names] of Object.entries(groups)) {
      charts[id].setData(columns(rows, names));
      document.getElementById(id).dataset.points = rows.length;
    }
    const extra = moreEl ? moreNames(rows, groups) : [];
    if (extra.length && extra.join() !== moreKeys) {  // a new metric appeared: rebuild the chart with it
      if (more) more.destroy();
      moreKeys = extra.join();
      more = makeChart(moreEl, "more", extra, [marker()]);
    }
    if (more) { more.setData(columns(rows, extra)); moreEl.dataset.points = rows.length; }
    document.getElementById("epoch").textContent = rows.length ? rows[rows.length - 1].epoch : 0;
    document.getElementById("best").textContent = best === null ? "-" : best;
    if (rows.length) {
      const perEpoch = rows.reduce((s, r) => s + (r.time || 0), 0) / rows.length;
      document.getElementById("eta").textContent = (perEpoch * (epochs - rows[rows.length - 1].epoch)).toFixed(1);
    }
  };
  redraw();
  const source = new EventSource(`/api/jobs/${jobId}/events`);
  source.addEventListener("metrics", e => {
    const row = JSON.parse(e.data);
    rows = rows.filter(r => r.epoch < row.epoch).concat([row]);
    best = bestEpoch(rows, monitor);
    redraw();
    if (window.jobHooks && jobHooks.epoch) jobHooks.epoch(row);
  });
  source.addEventListener("status", e => {
    const s = JSON.parse(e.data), el = document.getElementById("status");
    el.textContent = s.status; el.className = "status-" + s.status;
    if (["completed", "stopped_early", "failed", "aborted"].includes(s.status)) {
      source.close();
      fetch(`/api/jobs/${jobId}`).then(r => r.json()).then(j => { document.getElementById("log").textContent = j.log; });
      if (window.jobHooks && jobHooks.finished) jobHooks.finished(s.status);
    }
  });
}

async function compareCharts(ids) {
  if (!ids.length) return;
  const jobs = await Promise.all(ids.map(id => fetch(`/api/jobs/${id}/metrics`).then(r => r.json())));
  for (const [id, metric] of [["cmp-loss", "val_loss"], ["cmp-acc", "val_acc"]]) {
    const epochs = [...new Set(jobs.flatMap(rows => rows.map(r => r.epoch)))].sort((a, b) => a - b);
    const data = [epochs].concat(jobs.map(rows => epochs.map(e => {
      const r = rows.find(x => x.epoch === e);
      const v = r && (r[metric] !== undefined ? r[metric] : r[metric.replace("val_", "")]);
      return v === undefined ? null : v;
    })));
    const chart = makeChart(document.getElementById(id), metric, ids.map(i => `job ${i}`));
    chart.setData(data);
  }
}

function describeChoices(catalog) {
  const model = document.getElementById("model"), optim = document.getElementById("optim");
  const show = () => {
    const task = document.getElementById("task"), models = task ? catalog.tasks[task.value].models : catalog.models;
    const opts = models[model.value] || {};
    document.getElementById("model-opts").textContent = Object.keys(opts).length
      ? "options: " + Object.entries(opts).map(([k, v]) => `model.${k}=${JSON.stringify(v)}`).join(" ") : "";
    const o = catalog.optimizers[optim.value];
    document.getElementById("optim-rule").textContent = o ? `${o.rule} (default lr ${o.lr})` : "";
    const sched = document.getElementById("schedule");
    document.getElementById("schedule-formula").textContent = catalog.schedules[sched.value] || "";
  };
  for (const el of [model, optim, document.getElementById("schedule")]) el.addEventListener("change", show);
  show();
}

function lrPreview(form) {
  // the learning rate over the whole run, redrawn (debounced) whenever the form changes
  const el = document.getElementById("lr-preview"), msg = document.getElementById("lr-preview-msg");
  const chart = makeChart(el, "learning rate (x: epoch)", ["lr"]);
  let timer = null;
  const update = async () => {
    const r = await fetch("/models/lr-preview", {method: "POST", body: new FormData(form)});
    const body = await r.json();
    if (!r.ok) { msg.textContent = body.detail; return; }
    msg.textContent = "";
    chart.setData([body.epoch, body.lr]);
    el.dataset.points = body.lr.length;
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(update, 300); };
  form.addEventListener("input", later); form.addEventListener("change", later);
  update();
}
