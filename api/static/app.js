// shopstream web page: search, recommendations, product panel, operator strip, click events.
// Plain JavaScript, no build step. Every value from the API goes into the page as text, never HTML.
"use strict";

(() => {
  const RETRY_MS = 3000; // a section that got 503 (a consumer not running yet) tries again this often
  const METRICS_MS = 2000;
  const CURRENCY = "$";

  const $ = (id) => document.getElementById(id);
  const state = {
    q: "",
    filters: { category: null, brand: null, price: null }, // price: {label, min, max}
    userId: "u00001",
    sessionId: "",
    lastSearchQuery: "",
  };
  window.shopstream = state; // for debugging from the console (and the browser test)

  // -- HTTP ----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, detail, retryAfterS = null) {
      super(detail);
      this.status = status;
      this.detail = detail;
      this.retryAfterS = retryAfterS; // from a 429's or 503's Retry-After header
    }
  }

  function detailOf(body) {
    if (!body || body.detail === undefined) return "";
    const d = body.detail;
    if (typeof d === "string") return d;
    if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; ");
    return JSON.stringify(d);
  }

  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    let resp;
    try {
      resp = await fetch(path, { ...options, headers });
    } catch (_err) {
      throw new ApiError(0, "cannot reach the API (is `shopstream serve` running?)");
    }
    let body = null;
    try {
      body = await resp.json();
    } catch (_err) {
      body = null;
    }
    if (!resp.ok) {
      const retryAfter = Number(resp.headers.get("Retry-After"));
      throw new ApiError(resp.status, detailOf(body) || `${resp.status} ${resp.statusText}`,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null);
    }
    return body;
  }

  // -- DOM helpers ----------------------------------------------------------------------------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function money(value) {
    return typeof value === "number" ? `${CURRENCY}${value.toFixed(2)}` : "";
  }

  function stockBadge(inStock, stock) {
    if (inStock === undefined || inStock === null) return null;
    const label = inStock ? (typeof stock === "number" ? `in stock (${stock})` : "in stock") : "out of stock";
    return el("span", { class: `badge ${inStock ? "in" : "out"}`, text: label });
  }

  function showBanner(text) {
    $("banner-text").textContent = text;
    $("banner").hidden = false;
  }

  // A section's error, shown where its content would be; 503 and "cannot reach" retry by themselves.
  function showSectionError(id, err, retry) {
    const box = $(id);
    const transient = err.status === 503 || err.status === 0;
    const title =
      err.status === 503 ? "Not ready yet (503)" : err.status === 0 ? "API unreachable" : `Error ${err.status}`;
    box.replaceChildren(
      el("strong", { text: title }),
      el("span", { text: err.detail }),
      transient ? el("div", { class: "muted", text: `Retrying every ${RETRY_MS / 1000} s…` }) : null,
    );
    box.hidden = false;
    return transient ? setTimeout(retry, RETRY_MS) : null;
  }

  // -- search -----------------------------------------------------------------------------------

  let searchSeq = 0;
  let searchRetry = null;

  function priceBand(label) {
    const [lo, hi] = label.endsWith("+") ? [label.slice(0, -1), null] : label.split("-");
    const min = Number(lo);
    const max = hi === null || hi === undefined ? null : Number(hi) - 0.01;
    return { label, min: Number.isFinite(min) && min > 0 ? min : null, max: Number.isFinite(max) ? max : null };
  }

  async function runSearch() {
    clearTimeout(searchRetry);
    const seq = ++searchSeq;
    const params = new URLSearchParams({ q: state.q, k: "20" });
    if (state.userId) params.set("user_id", state.userId);
    const f = state.filters;
    if (f.category) params.set("category", f.category);
    if (f.brand) params.set("brand", f.brand);
    if (f.price && f.price.min !== null) params.set("min_price", String(f.price.min));
    if (f.price && f.price.max !== null) params.set("max_price", f.price.max.toFixed(2));
    $("results-meta").textContent = "searching…";
    $("results").dataset.state = "loading";
    try {
      const body = await api(`/search?${params}`);
      if (seq !== searchSeq) return;
      $("results-error").hidden = true;
      state.lastSearchQuery = body.query || "";
      renderResults(body);
      renderFacets(body.facets || {});
    } catch (err) {
      if (seq !== searchSeq) return;
      $("results").replaceChildren();
      $("results").dataset.state = "error";
      $("results-meta").textContent = "";
      searchRetry = showSectionError("results-error", err, runSearch);
    }
  }

  function renderResults(body) {
    const results = body.results || [];
    const query = body.query || "";
    $("results-title").textContent = query ? `Results for “${query}”` : "Browse products";
    const took = typeof body.took_ms === "number" ? ` · ${body.took_ms.toFixed(0)} ms` : "";
    $("results-meta").textContent = `${results.length} of ${body.candidates ?? results.length}${took}`;
    const source = query.trim() ? "search" : "browse";
    const items = results.map((p, i) =>
      el(
        "li",
        {
          class: "card",
          tabindex: "0",
          "data-product-id": p.product_id,
          "data-position": String(i),
          onclick: () => productClicked(p.product_id, source, i, query),
          onkeydown: (ev) => ev.key === "Enter" && productClicked(p.product_id, source, i, query),
        },
        el("div", { class: "name", text: p.name }),
        el("div", { class: "meta", text: [p.brand, p.category].filter(Boolean).join(" · ") }),
        el("div", { class: "row" }, el("span", { class: "price", text: money(p.price) }), stockBadge(p.in_stock)),
      ),
    );
    const notes = (body.notes || []).map((n) => el("li", { class: "empty", text: n }));
    if (!items.length) items.push(el("li", { class: "empty", text: "No products match. Try fewer words or filters." }));
    $("results").replaceChildren(...notes, ...items);
    $("results").dataset.state = "loaded";
  }

  function renderFacets(facets) {
    const f = state.filters;
    const groups = [
      ["category", "Category", f.category],
      ["brand", "Brand", f.brand],
      ["price", "Price", f.price && f.price.label],
    ];
    const nodes = [];
    for (const [key, title, active] of groups) {
      const values = facets[key] || [];
      if (!values.length) continue;
      const buttons = values.map((v) =>
        el(
          "button",
          {
            type: "button",
            class: v.value === active ? "active" : "",
            "data-facet": key,
            "data-value": v.value,
            onclick: () => toggleFilter(key, v.value),
          },
          el("span", { text: key === "price" ? priceLabel(v.value) : v.value }),
          el("span", { class: "count", text: String(v.count) }),
        ),
      );
      nodes.push(el("div", { class: "facet" }, el("h3", { text: title }), ...buttons));
    }
    $("facet-groups").replaceChildren(...(nodes.length ? nodes : [el("p", { class: "muted", text: "No facets." })]));
    renderChips();
  }

  function priceLabel(band) {
    return band.endsWith("+") ? `${CURRENCY}${band.slice(0, -1)} and up` : band.split("-").map((x) => CURRENCY + x).join(" – ");
  }

  function toggleFilter(key, value) {
    const f = state.filters;
    if (key === "price") f.price = f.price && f.price.label === value ? null : priceBand(value);
    else f[key] = f[key] === value ? null : value;
    runSearch();
  }

  function renderChips() {
    const f = state.filters;
    const chips = [];
    if (f.category) chips.push(["category", f.category]);
    if (f.brand) chips.push(["brand", f.brand]);
    if (f.price) chips.push(["price", priceLabel(f.price.label)]);
    $("active-filters").replaceChildren(
      ...chips.map(([key, label]) =>
        el("button", {
          type: "button",
          class: "chip",
          title: "Remove this filter",
          text: `${label} ×`,
          onclick: () => {
            f[key] = null;
            runSearch();
          },
        }),
      ),
    );
  }

  // -- recommendations ----------------------------------------------------------------------------

  let recsSeq = 0;
  let recsRetry = null;

  async function loadRecs() {
    clearTimeout(recsRetry);
    const seq = ++recsSeq;
    const user = state.userId;
    $("rec-user").textContent = user;
    $("recs").dataset.state = "loading";
    try {
      const body = await api(`/recommendations/${encodeURIComponent(user)}?k=10`);
      if (seq !== recsSeq) return;
      $("recs-error").hidden = true;
      renderRecs(body);
    } catch (err) {
      if (seq !== recsSeq) return;
      $("recs").replaceChildren();
      $("recs").dataset.state = "error";
      $("recs-meta").textContent = "";
      recsRetry = showSectionError("recs-error", err, loadRecs);
    }
  }

  function recItem(r, i, source) {
    const id = r.product_id;
    return el(
      "li",
      {
        class: "rec",
        tabindex: "0",
        "data-product-id": id,
        "data-position": String(i),
        onclick: () => productClicked(id, source, i, null),
        onkeydown: (ev) => ev.key === "Enter" && productClicked(id, source, i, null),
      },
      el("div", { class: "name", text: r.name || id }),
      el(
        "div",
        { class: "meta" },
        el("span", { text: [r.brand, r.category].filter(Boolean).join(" · ") }),
        el("span", { text: money(r.price) }),
      ),
      r.reason ? el("div", { class: "reason", text: r.reason }) : null,
    );
  }

  function renderRecs(body) {
    const results = body.results || [];
    const version = body.model_version !== null && body.model_version !== undefined ? `model v${body.model_version}` : "";
    $("recs-meta").textContent = [version, body.events_trained ? `${body.events_trained} events` : ""]
      .filter(Boolean)
      .join(" · ");
    const items = results.map((r, i) => recItem(r, i, "recommendation"));
    if (!items.length) items.push(el("li", { class: "empty", text: "Nothing to recommend yet." }));
    $("recs").replaceChildren(...items);
    $("recs").dataset.state = "loaded";
  }

  // -- product panel --------------------------------------------------------------------------------

  let panelSeq = 0;

  function closePanel() {
    $("panel").hidden = true;
    $("panel-backdrop").hidden = true;
  }

  async function openPanel(productId) {
    const seq = ++panelSeq;
    $("panel").hidden = false;
    $("panel-backdrop").hidden = false;
    $("panel").dataset.productId = productId;
    $("panel-body").replaceChildren(el("p", { class: "muted", text: "Loading…" }));
    $("similar").replaceChildren();
    const [product, similar] = await Promise.allSettled([
      api(`/products/${encodeURIComponent(productId)}`),
      api(`/products/${encodeURIComponent(productId)}/similar?k=6`),
    ]);
    if (seq !== panelSeq) return;
    if (product.status === "fulfilled") {
      renderProduct(product.value);
    } else {
      const err = product.reason;
      $("panel-body").replaceChildren(
        el("div", { class: "inline-error" }, el("strong", { text: `Error ${err.status}` }), el("span", { text: err.detail })),
      );
    }
    if (similar.status === "fulfilled") {
      const items = (similar.value.results || []).map((r, i) => recItem(r, i, "browse"));
      if (!items.length) items.push(el("li", { class: "empty", text: "No similar products yet." }));
      $("similar").replaceChildren(...items);
    } else {
      $("similar").replaceChildren(el("li", { class: "empty", text: similar.reason.detail }));
    }
  }

  function renderProduct(p) {
    const attrs = Object.entries(p.attributes || {});
    const rows = [["Product id", p.product_id], ["Brand", p.brand], ...attrs].filter(([, v]) => v !== "" && v !== null);
    $("panel-body").replaceChildren(
      el("h2", { id: "panel-name", text: p.name }),
      el("div", { class: "crumbs", text: (p.category_path || []).join(" › ") }),
      el("div", { class: "card-row" }, el("span", { class: "price", text: money(p.price) }), " ", stockBadge(p.in_stock, p.stock)),
      p.description ? el("p", { class: "desc", text: p.description }) : null,
      el("table", {}, el("tbody", {}, ...rows.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: String(v) }))))),
    );
  }

  // -- clicks: real events, through the API to Kafka ---------------------------------------------------
  // The page holds no secret: it uses the API's anonymous click path (products that exist only,
  // rate-limited per client). Each click gets an event id made here, once; every retry (after no
  // answer, a 503 or a 429) sends the same id, and the consumers count an event id once.

  const CLICK_ATTEMPTS = 4;
  const CLICK_TIMEOUT_MS = 15000;
  let recsReload = null;

  function productClicked(productId, source, position, query) {
    sendClick(productId, source, position, query);
    openPanel(productId);
  }

  function clickStatus(text) {
    $("click-status").textContent = text;
  }

  // A random (version 4) UUID; crypto.getRandomValues works on plain http too, randomUUID does not.
  function newEventId() {
    if (window.crypto && crypto.randomUUID && window.isSecureContext) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function sendClick(productId, source, position, query) {
    const body = {
      event_id: newEventId(),
      user_id: state.userId,
      product_id: productId,
      session_id: state.sessionId,
      source,
      position,
      query: source === "search" ? query : null,
    };
    document.body.dataset.lastClickSent = body.event_id;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await api("/events/click", {
          method: "POST",
          keepalive: true,
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(CLICK_TIMEOUT_MS),
        });
        document.body.dataset.lastClickEvent = res.event_id;
        document.body.dataset.lastClickAttempts = String(attempt);
        clickStatus(`Click on ${productId} (${source}, position ${position + 1}) sent to Kafka as event ${res.event_id}.`);
        // The learner applies it within moments; show the recommendations it leads to (until they
        // are shown, the list may change under the pointer: recsReloadDue says so).
        clearTimeout(recsReload);
        document.body.dataset.recsReloadDue = "1";
        recsReload = setTimeout(() => loadRecs().finally(() => delete document.body.dataset.recsReloadDue), 1500);
        return;
      } catch (err) {
        const retryable = err.status === 0 || err.status === 503 || err.status === 429;
        if (!retryable || attempt >= CLICK_ATTEMPTS) {
          document.body.dataset.lastClickError = String(err.status);
          clickStatus(`Click on ${productId} not recorded (${err.status || "no answer"}).`);
          showBanner(`Click not recorded: ${err.detail}`);
          return;
        }
        const waitMs = err.retryAfterS ? err.retryAfterS * 1000 : 500 * 2 ** (attempt - 1);
        const retrying =
          `Click on ${productId} not confirmed (${err.status || "no answer"}); ` +
          `sending it again in ${(waitMs / 1000).toFixed(1)} s with the same event id…`;
        // The status line is shared by every click (an earlier one may answer later and replace
        // it), so the last retry is also kept on the body, where tests and tools can read it.
        document.body.dataset.lastClickRetry = retrying;
        clickStatus(retrying);
        await sleep(waitMs);
      }
    }
  }

  // -- operator strip: whatever numbers /metrics has, as tiles ---------------------------------------

  let metricsTimer = null;
  let metricsBusy = false;

  function formatNumber(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    const abs = Math.abs(v);
    return abs >= 100 ? v.toFixed(0) : abs >= 1 ? v.toFixed(2) : v.toFixed(3);
  }

  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

  // Leaves of a JSON object as [label parts, value]: numbers, booleans, nulls and `error` strings.
  // An object that is its parent's only key adds no label part.
  function leaves(value, path, out) {
    if (isObject(value)) {
      const keys = Object.keys(value);
      for (const k of keys) leaves(value[k], keys.length === 1 && isObject(value[k]) ? path : [...path, k], out);
    } else if (value === null || ["number", "boolean"].includes(typeof value) || path[path.length - 1] === "error") {
      out.push([path, value]);
    }
    return out;
  }

  // One card per second-level object (e.g. consumers · learner), its leaves as rows; numbers
  // directly under a section go to a card of the section's own name.
  function renderMetrics(body) {
    const cards = [];
    const card = (title, key, rows) => {
      if (!rows.length) return;
      cards.push(
        el(
          "div",
          { class: "ops-card", "data-key": key },
          el("div", { class: "ops-card-title", text: title.replaceAll("_", " ") }),
          ...rows.map(([path, v]) => {
            const isError = typeof v === "string";
            return el(
              "div",
              { class: `ops-row${isError ? " error" : ""}`, title: `${key}.${path.join(".")}` },
              el("span", { class: "k", text: path.join(" ").replaceAll("_", " ") || "value" }),
              el("span", { class: "v", text: isError ? v : formatNumber(v) }),
            );
          }),
        ),
      );
    };
    for (const [section, value] of Object.entries(body || {})) {
      if (section === "time" && typeof value === "number") {
        $("ops-updated").textContent = `at ${new Date(value * 1000).toLocaleTimeString()}`;
        continue;
      }
      let inner = value;
      let prefix = section;
      // A key that is its parent's only key (lag -> groups) adds nothing.
      while (isObject(inner) && Object.keys(inner).length === 1) {
        const [only] = Object.keys(inner);
        if (!isObject(inner[only])) break;
        prefix = `${prefix}.${only}`;
        inner = inner[only];
      }
      if (!isObject(inner)) {
        card(section, section, leaves(inner, [], []));
        continue;
      }
      const loose = [];
      for (const [name, sub] of Object.entries(inner)) {
        if (isObject(sub)) card(`${section} · ${name}`, `${prefix}.${name}`, leaves(sub, [], []));
        else loose.push(...leaves(sub, [name], []));
      }
      card(section, prefix, loose);
    }
    $("ops-body").replaceChildren(...cards);
  }

  async function pollMetrics() {
    if (metricsBusy) return;
    metricsBusy = true;
    try {
      renderMetrics(await api("/metrics.json"));
      $("ops").hidden = false;
    } catch (err) {
      if (err.status === 404) {
        $("ops").hidden = true; // this API has no /metrics: no strip
        clearInterval(metricsTimer);
        return;
      }
      $("ops-body").replaceChildren(
        el(
          "div",
          { class: "ops-card" },
          el("div", { class: "ops-card-title", text: `metrics: ${err.status || "no answer"}` }),
          el("div", { class: "ops-row error", text: err.detail }),
        ),
      );
      $("ops").hidden = false;
    } finally {
      metricsBusy = false;
    }
  }

  // -- start --------------------------------------------------------------------------------------------

  function newSessionId() {
    const random = window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
    return `web-${random}`;
  }

  function setUser(value) {
    const user = value.trim();
    if (!user || user === state.userId) {
      $("user-id").value = state.userId;
      return;
    }
    state.userId = user;
    localStorage.setItem("shopstream.user", user);
    loadRecs();
    runSearch(); // search is personalised for the shopper
  }

  function init() {
    state.userId = localStorage.getItem("shopstream.user") || $("user-id").value.trim() || "u00001";
    $("user-id").value = state.userId;
    state.sessionId = sessionStorage.getItem("shopstream.session") || newSessionId();
    sessionStorage.setItem("shopstream.session", state.sessionId);
    sessionStorage.removeItem("shopstream.token"); // pasted by earlier versions of this page

    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      state.q = $("q").value.trim();
      runSearch();
    });
    $("user-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      setUser($("user-id").value);
    });
    $("user-id").addEventListener("change", () => setUser($("user-id").value));
    $("banner-close").addEventListener("click", () => ($("banner").hidden = true));
    $("panel-close").addEventListener("click", closePanel);
    $("panel-backdrop").addEventListener("click", closePanel);
    document.addEventListener("keydown", (ev) => ev.key === "Escape" && closePanel());

    runSearch();
    loadRecs();
    pollMetrics();
    metricsTimer = setInterval(pollMetrics, METRICS_MS);
  }

  init();
})();
