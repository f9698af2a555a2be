// shopstream operations dashboard: the last hour from /ops/data (kept server-side by the lag
// sampler), then live: every sampling interval it fetches the rounds since the last one it has.
// Charts are uPlot (vendored in /static/vendor/uplot, no CDN).
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const PALETTE = ["#2f6fed", "#1b8a4b", "#d9631e", "#8a5cf6", "#c2185b", "#00838f", "#6d4c41"];
  const MARKER = "#8a5cf6";
  const state = { since: 0, historyS: 3600, groups: {}, topics: {}, quality: {}, versions: [], charts: {} };
  window.opsCharts = state.charts; // for tests and the curious

  const colour = (() => {
    const seen = new Map();
    return (name) => {
      if (!seen.has(name)) seen.set(name, PALETTE[seen.size % PALETTE.length]);
      return seen.get(name);
    };
  })();

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  // -- keeping the history -------------------------------------------------------------------------

  function append(store, incoming) {
    for (const [name, cols] of Object.entries(incoming || {})) {
      const into = store[name] || (store[name] = {});
      for (const [key, values] of Object.entries(cols)) (into[key] || (into[key] = [])).push(...values);
    }
  }

  function trim(store, cutoff) {
    for (const cols of Object.values(store)) {
      const at = cols.at || [];
      let drop = 0;
      while (drop < at.length && at[drop] < cutoff) drop += 1;
      if (drop) for (const key of Object.keys(cols)) cols[key].splice(0, drop);
    }
  }

  // Per-second rate between consecutive points (a counter that went back, e.g. a reset, gives a gap).
  function rate(at, values) {
    const out = [null];
    for (let i = 1; i < at.length; i += 1) {
      const dt = at[i] - at[i - 1];
      const dv = values[i] - values[i - 1];
      out.push(dt > 0 && values[i] !== null && values[i - 1] !== null && dv >= 0 ? dv / dt : null);
    }
    return out;
  }

  // Series with their own x values -> uPlot's aligned columns [xs, ys...].
  function aligned(list) {
    const xs = [...new Set(list.flatMap((s) => s.at))].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const ys = list.map((s) => {
      const col = new Array(xs.length).fill(null);
      s.at.forEach((x, i) => { col[index.get(x)] = s.values[i]; });
      return col;
    });
    return [xs, ...ys];
  }

  // -- charts ----------------------------------------------------------------------------------------

  function markers() {
    return {
      hooks: {
        draw: [(u) => {
          const { min, max } = u.scales.x;
          if (min === undefined || max === undefined) return;
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = MARKER;
          ctx.fillStyle = MARKER;
          ctx.lineWidth = devicePixelRatio;
          ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.font = `${10 * devicePixelRatio}px system-ui, sans-serif`;
          state.versions.forEach((v, i) => {
            if (v.at < min || v.at > max) return;
            const x = u.valToPos(v.at, "x", true);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            // Short labels, staggered, so that close changes stay readable; the list below has the rest.
            const label = `${v.kind} ${String(v.version).split(" ")[0]}`;
            ctx.fillText(label, x + 3 * devicePixelRatio, u.bbox.top + (10 + 11 * (i % 3)) * devicePixelRatio);
          });
          ctx.restore();
        }],
      },
    };
  }

  function draw(name, list) {
    const figure = document.querySelector(`[data-chart="${name}"] .plot`);
    if (!figure || !window.uPlot) return;
    const data = aligned(list);
    const labels = list.map((s) => s.label).join("|");
    let chart = state.charts[name];
    if (chart && chart._labels !== labels) {
      chart.destroy();
      chart = null;
    }
    if (!chart) {
      const opts = {
        width: Math.max(figure.clientWidth, 300),
        height: 220,
        scales: { x: { time: true } },
        series: [{}, ...list.map((s) => ({ label: s.label, stroke: colour(s.label), width: 1.5, spanGaps: false,
                                             dash: s.dash }))],
        axes: [{}, { size: 56 }],
        legend: { live: true },
        plugins: [markers()],
      };
      chart = new uPlot(opts, data, figure);
      chart._labels = labels;
      state.charts[name] = chart;
    } else {
      chart.setData(data);
    }
  }

  function render() {
    const groups = Object.entries(state.groups);
    draw("lag", groups.map(([g, c]) => ({ label: g, at: c.at, values: c.lag })));
    draw("lag_s", groups.map(([g, c]) => ({ label: g, at: c.at, values: c.lag_s })));
    draw("applied", groups.map(([g, c]) => ({ label: g, at: c.at, values: rate(c.at, c.applied) })));
    draw("dead", groups.map(([g, c]) => ({ label: g, at: c.at, values: c.dead_lettered })));
    const fresh = groups.filter(([, c]) => c.fresh_p50 && c.fresh_p50.some((v) => v !== null));
    draw("fresh", fresh.flatMap(([g, c]) => [
      { label: `${g} p50`, at: c.at, values: c.fresh_p50 },
      { label: `${g} p95`, at: c.at, values: c.fresh_p95, dash: [6, 4] },
    ]));
    draw("in", Object.entries(state.topics).map(([t, c]) => ({ label: t, at: c.at, values: rate(c.at, c.log_end) })));
    draw("quality", Object.entries(state.quality).map(([m, c]) => ({ label: m, at: c.at, values: c.hr10 })));
  }

  function badges(status) {
    const cards = Object.entries(status).map(([group, s]) => el(
      "div", { class: `badge st-${s.status}`, "data-group": group, "data-status": s.status },
      el("span", { class: "name", text: group }),
      el("span", { class: "status", text: s.status }),
      el("div", { class: "figs", text: `lag ${s.lag ?? "–"} records · ${s.lag_s ?? "–"} s · ${s.members} live process${s.members === 1 ? "" : "es"}` }),
      el("div", { class: "reason", text: s.reason }),
    ));
    $("badges").replaceChildren(...cards);
  }

  function partitions(rows) {
    $("partitions").replaceChildren(...rows.map((p) => el(
      "tr", { "data-status": p.status, title: p.reason },
      ...[p.group, p.topic, p.partition, p.committed, p.log_end, p.lag,
          p.lag_s === null ? "–" : p.lag_s.toFixed(1)].map((v) => el("td", { text: String(v) })),
      el("td", { class: "st", text: p.status }),
    )));
  }

  function versions() {
    $("versions").replaceChildren(...state.versions.slice(-12).reverse().map((v) => el(
      "li", { text: `${new Date(v.at * 1000).toLocaleTimeString()}: ${v.kind} ${v.version}` })));
  }

  // -- polling ------------------------------------------------------------------------------------

  let timer = null;
  let busy = false;

  async function poll() {
    if (busy) return;
    busy = true;
    try {
      const url = state.since ? `/ops/data?since=${state.since}` : "/ops/data";
      const resp = await fetch(url, { headers: { Accept: "application/json" } });
      if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
      const body = await resp.json();
      state.historyS = body.history_s;
      append(state.groups, body.series.groups);
      append(state.topics, body.series.topics);
      append(state.quality, body.series.quality);
      state.versions = body.series.versions || [];
      const last = Math.max(0, ...Object.values(body.series.groups).map((c) => c.at[c.at.length - 1] || 0));
      if (last) state.since = last + 1e-6;
      const cutoff = body.time - state.historyS;
      for (const store of [state.groups, state.topics, state.quality]) trim(store, cutoff);
      badges(body.status);
      partitions(body.partitions);
      versions();
      render();
      $("updated").textContent = body.age_s === null ? "no sample yet"
        : `last sample ${body.age_s.toFixed(1)} s ago`;
      const stale = body.stale || body.error;
      $("stale").hidden = !stale;
      if (stale) $("stale").textContent = body.error || "The figures are stale: the lag sampler has not written a round for a while.";
      if (!timer) timer = setInterval(poll, Math.max(1000, body.interval_s * 1000));
    } catch (err) {
      $("stale").hidden = false;
      $("stale").textContent = `Cannot load the figures: ${err.message}`;
    } finally {
      busy = false;
    }
  }

  window.addEventListener("resize", () => {
    for (const [name, chart] of Object.entries(state.charts)) {
      const figure = document.querySelector(`[data-chart="${name}"] .plot`);
      if (figure) chart.setSize({ width: Math.max(figure.clientWidth, 300), height: 220 });
    }
  });
  poll();
})();
