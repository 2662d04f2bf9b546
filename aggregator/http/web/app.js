/*
 * pgvigil dashboard: the fleet, clusters, nodes, alerts and events, live.
 *
 * The fleet and its open alerts arrive over GET /api/v1/stream (Server-Sent
 * Events, read with fetch so the bearer token travels in a header, never in
 * a URL); node pages read their details from the API. The token is kept in
 * sessionStorage only (gone with the browser session). Controls that change
 * things are shown to operators and admins only; the API checks again.
 *
 * Large fleets: the stream then leaves the clusters out ("clusters_paged"),
 * and the fleet view asks the API for the worst clusters first, or the nodes
 * whose name starts with what is typed in its search box, fifty at a time
 * (GET /api/v1/clusters|nodes?sort=worst&limit=&cursor=&prefix=, revalidated
 * with If-None-Match), so the page never holds the whole fleet.
 */
(function () {
  "use strict";

  const state = {
    token: sessionStorage.getItem("pgvigil.token") || "",
    me: { name: "anonymous", role: "none", auth: true },
    fleet: null,          // the last "fleet" event
    version: 0,
    live: {},             // node -> [[t], [lag seconds]] appended from the stream
    charts: {},           // name -> uPlot
    view: null,
    renderQueued: false,
    lastRender: 0,
    readyAt: null,
  };
  window.pgvigil = state; // for the browser tests and for debugging

  const $ = (sel) => document.querySelector(sel);
  const esc = (v) => String(v === null || v === undefined ? "" : v)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const canOperate = () => state.me.role === "operator" || state.me.role === "admin";

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (state.token) h.Authorization = "Bearer " + state.token;
    return h;
  }

  async function api(path, options) {
    const opts = Object.assign({}, options || {});
    opts.headers = headers(opts.body ? { "Content-Type": "application/json" } : {});
    const r = await fetch(path, opts);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) {
      const msg = body && body.error ? body.error.message : r.statusText;
      const err = new Error(msg);
      err.status = r.status;
      throw err;
    }
    return body;
  }

  function notice(text) {
    const n = $("#notice");
    n.textContent = text || "";
    n.hidden = !text;
  }

  function ago(iso) {
    if (!iso) return "never";
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 90) return Math.round(s) + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 172800) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }

  function bytes(n) {
    if (n === null || n === undefined) return "–";
    const u = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }

  function secs(x) {
    if (x === null || x === undefined) return "–";
    return x < 10 ? x.toFixed(2) + " s" : x < 600 ? x.toFixed(0) + " s" : (x / 60).toFixed(0) + " min";
  }

  // ---- the stream ----

  async function stream() {
    for (;;) {
      try {
        const r = await fetch("/api/v1/stream", { headers: headers({ Accept: "text/event-stream" }) });
        if (r.status === 401 || r.status === 403) {
          notice("Sign in with an API token to see the fleet.");
          await waitForToken();
          continue;
        }
        if (!r.ok || !r.body) throw new Error("stream " + r.status);
        notice("");
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            onEvent(buf.slice(0, cut));
            buf = buf.slice(cut + 2);
          }
        }
      } catch (e) {
        notice("Live updates interrupted; reconnecting…");
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  let tokenWaiter = null;
  function waitForToken() {
    return new Promise((res) => { tokenWaiter = res; });
  }

  function onEvent(block) {
    let event = "message", data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data += line.slice(5).trim();
    }
    if (event !== "fleet" || !data) return;
    const f = JSON.parse(data);
    state.fleet = f;
    state.version = f.version;
    const now = Date.now() / 1000;
    for (const c of f.clusters || []) {
      for (const n of c.nodes || []) {
        if (!n.lag) continue;
        const s = state.live[n.node] || (state.live[n.node] = [[], []]);
        s[0].push(now);
        s[1].push(n.lag.seconds);
        if (s[0].length > 3600) { s[0].shift(); s[1].shift(); }
      }
    }
    scheduleRender(false);
  }

  // ---- large fleets: worst first, paged, searched ----

  const big = { query: "", kind: "clusters", items: [], next: null, matched: 0, etag: null, key: "",
    at: 0, busy: false, clusters: {}, nodes: {} };

  const paged = () => !!(state.fleet && state.fleet.clusters_paged);

  async function fetchPage(more) {
    if (big.busy) return;
    const q = big.query.trim();
    const kind = q ? "nodes" : "clusters";
    const params = new URLSearchParams({ sort: "worst", limit: "50" });
    if (q) params.set("prefix", q);
    if (more && big.next) params.set("cursor", big.next);
    const key = kind + "?" + params.toString();
    big.busy = true;
    try {
      const h = headers(!more && big.etag && big.key === key ? { "If-None-Match": big.etag } : {});
      const r = await fetch("/api/v1/" + key, { headers: h });
      if (r.status === 200) {
        const body = await r.json();
        const list = body[kind] || [];
        big.items = more ? big.items.concat(list) : list;
        big.kind = kind;
        big.next = body.next;
        big.matched = body.matched;
        if (!more) { big.etag = r.headers.get("ETag"); big.key = key; }
        if (kind === "clusters") for (const c of list) big.clusters[c.id] = c;
      }
    } catch (e) { /* the next stream event asks again */ }
    big.busy = false;
    big.at = performance.now();
    scheduleRender(false);
  }

  // One cluster or node of a large fleet, fetched when a page needs it.
  async function fetchOne(kind, id) {
    try {
      const body = await api("/api/v1/" + kind + "/" + encodeURIComponent(id));
      if (kind === "clusters") big.clusters[body.cluster.id] = body.cluster;
      else big.nodes[id] = { node: body.node, at: performance.now() };
    } catch (e) { /* shown as not found */ }
    scheduleRender(false);
  }

  function clusterCard(cluster, nodes) {
    let h = '<article class="cluster ' + esc(cluster.status) + '"><h3><a href="#/cluster/' +
      encodeURIComponent(cluster.id) + '">' + esc(cluster.name) + "</a> " +
      '<span class="muted">' + esc(cluster.status) + (cluster.split_brain ? ", split brain!" : "") + "</span></h3>";
    for (const n of nodes) {
      const st = nodeState(n);
      const lag = n.lag ? " lag " + secs(n.lag.seconds) + ", " + bytes(n.lag.bytes) : "";
      h += '<div class="node" data-node="' + esc(n.node) + '"><span><span class="dot ' + esc(st) +
        '" aria-hidden="true"></span><a href="#/node/' + encodeURIComponent(n.node) + '">' + esc(n.node) +
        '</a> <span class="muted">' + esc(n.role) + "</span></span><span>" + esc(st) + esc(lag) + "</span></div>";
    }
    return h + "</article>";
  }

  function pagedList() {
    let h = '<p class="muted">' + big.matched + (big.kind === "nodes" ? " nodes match" : " clusters") +
      ", worst first</p>";
    if (big.kind === "clusters") {
      h += '<div class="clusters">' + big.items.map((c) => clusterCard(c, c.nodes || [])).join("") + "</div>";
    } else {
      h += '<div class="clusters"><article class="cluster">' + big.items.map((n) => {
        const st = nodeState(n);
        const lag = n.lag ? " lag " + secs(n.lag.seconds) + ", " + bytes(n.lag.bytes) : "";
        return '<div class="node" data-node="' + esc(n.node) + '"><span><span class="dot ' + esc(st) +
          '" aria-hidden="true"></span><a href="#/node/' + encodeURIComponent(n.node) + '">' + esc(n.node) +
          '</a> <span class="muted">' + esc(n.role) + ", " + esc(n.region) + ', cluster <a href="#/cluster/' +
          encodeURIComponent(n.cluster || "") + '">' + esc(n.cluster || "–") + "</a></span></span><span>" + esc(st) +
          esc(lag) + "</span></div>";
      }).join("") + "</article></div>";
    }
    if (big.next) h += '<button id="fleet-more" type="button">Show more</button>';
    return h;
  }

  function pagedFleet(fresh) {
    const f = state.fleet;
    if (fresh || !$("#fleet-search")) {
      $("#view").innerHTML = '<h1 id="fleet-summary"></h1><h2>Open alerts</h2><div id="fleet-alerts"></div>' +
        '<h2>Worst first</h2><label for="fleet-search" class="sr">Search nodes by name</label>' +
        '<input id="fleet-search" type="search" placeholder="Node name starts with…" autocomplete="off" value="' +
        esc(big.query) + '"><div id="fleet-list"></div>';
      let timer = null;
      $("#fleet-search").addEventListener("input", (e) => {
        big.query = e.target.value;
        clearTimeout(timer);
        timer = setTimeout(() => { big.etag = null; fetchPage(false); }, 250);
      });
      big.at = 0;
    }
    $("#fleet-summary").textContent = "Fleet: " + f.nodes + " nodes, " + f.up + " up, " + f.down + " down, " +
      f.stale + " stale";
    $("#fleet-alerts").innerHTML = alertRows(f.alerts || [], true);
    $("#fleet-list").innerHTML = pagedList();
    const more = $("#fleet-more");
    if (more) more.addEventListener("click", () => fetchPage(true));
    if (performance.now() - big.at > 2000) fetchPage(false);
  }

  // ---- rendering ----

  function scheduleRender(full) {
    if (full) state.view = null;
    if (state.renderQueued) return;
    state.renderQueued = true;
    // Draw at most twice a second, but the first picture of the fleet at once.
    const first = state.readyAt === null && state.fleet;
    const wait = first ? 0 : Math.max(0, 500 - (performance.now() - state.lastRender));
    setTimeout(() => requestAnimationFrame(() => {
      state.renderQueued = false;
      state.lastRender = performance.now();
      render();
    }), wait);
  }

  function header() {
    const f = state.fleet;
    const v = $("#verdict");
    const status = f ? f.status : "…";
    v.textContent = status === "empty" ? "no nodes" : status;
    v.className = "pill " + status;
    const open = f ? (f.alerts || []).filter((a) => a.state === "firing" || a.state === "nodata") : [];
    $("#alert-count").textContent = open.length ? String(open.length) : "";
    const peak = $("#peak");
    const regions = f ? f.peak_regions || [] : [];
    peak.hidden = regions.length === 0;
    peak.textContent = regions.length
      ? "Peak hours in " + regions.join(", ") + ": stricter thresholds; heavy maintenance is held back."
      : "";
  }

  function nodeState(n) {
    return n.state || (n.up ? "up" : "down");
  }

  function alertRows(alerts, withNode) {
    if (!alerts.length) return '<p class="muted">No open alerts.</p>';
    const op = canOperate();
    let h = '<div class="scroll"><table><thead><tr><th>Severity</th><th>Alert</th>' +
      (withNode ? "<th>Node</th>" : "") + '<th>Since</th><th>State</th><th>On it</th>' +
      (op ? "<th>Actions</th>" : "") + "</tr></thead><tbody>";
    for (const a of alerts) {
      const ack = a.acknowledged
        ? "acknowledged by " + esc((a.acknowledgement && a.acknowledgement.by) || "someone")
        : '<span class="muted">nobody yet</span>';
      h += '<tr data-alert="' + esc(a.id) + '" data-rule="' + esc(a.rule) + '">' +
        '<td class="sev-' + esc(a.severity) + '">' + esc(a.severity) + "</td>" +
        "<td>" + esc(a.summary || a.rule) + (a.peak ? ' <span class="muted">(peak)</span>' : "") + "</td>" +
        (withNode ? '<td><a href="#/node/' + encodeURIComponent(a.node) + '">' + esc(a.node) + "</a></td>" : "") +
        "<td>" + esc(ago(a.started_at)) + "</td><td>" + esc(a.state) + '</td><td class="ack">' + ack + "</td>";
      if (op) {
        h += '<td class="actions">' +
          (a.acknowledged ? "" : '<button data-act="acknowledge" aria-label="Acknowledge ' + esc(a.rule) + " on " +
            esc(a.node) + '">Acknowledge</button>') +
          '<button data-act="resolve" aria-label="Resolve ' + esc(a.rule) + " on " + esc(a.node) + '">Resolve</button>' +
          '<button data-act="silence" aria-label="Silence ' + esc(a.rule) + " on " + esc(a.node) +
          ' for an hour">Silence 1 h</button></td>';
      }
      h += "</tr>";
    }
    return h + "</tbody></table></div>";
  }

  function fleetView() {
    const f = state.fleet;
    if (!f) return '<p class="muted">Waiting for the fleet…</p>';
    const regions = {};
    for (const c of f.clusters || []) {
      for (const n of c.nodes || []) {
        const r = n.region || "unknown";
        const byCluster = regions[r] || (regions[r] = {});
        (byCluster[c.id] || (byCluster[c.id] = { cluster: c, nodes: [] })).nodes.push(n);
      }
    }
    const open = (f.alerts || []);
    let h = "<h1>Fleet: " + f.nodes + " nodes, " + f.up + " up, " + f.down + " down, " + f.stale + " stale</h1>";
    h += "<h2>Open alerts</h2>" + alertRows(open, true);
    for (const r of Object.keys(regions).sort()) {
      const peak = (f.peak_regions || []).includes(r);
      h += '<section class="region" aria-label="region ' + esc(r) + '"><h2>' + esc(r) +
        (peak ? ' <span class="sev-warning">peak</span>' : "") + '</h2><div class="clusters">';
      for (const id of Object.keys(regions[r])) {
        const { cluster, nodes } = regions[r][id];
        h += '<article class="cluster ' + esc(cluster.status) + '"><h3><a href="#/cluster/' +
          encodeURIComponent(cluster.id) + '">' + esc(cluster.name) + "</a> " +
          '<span class="muted">' + esc(cluster.status) + (cluster.split_brain ? ", split brain!" : "") + "</span></h3>";
        for (const n of nodes) {
          const st = nodeState(n);
          const lag = n.lag ? " lag " + secs(n.lag.seconds) + ", " + bytes(n.lag.bytes) : "";
          h += '<div class="node" data-node="' + esc(n.node) + '"><span><span class="dot ' + esc(st) +
            '" aria-hidden="true"></span><a href="#/node/' + encodeURIComponent(n.node) + '">' + esc(n.node) +
            '</a> <span class="muted">' + esc(n.role) + "</span></span><span>" + esc(st) + esc(lag) + "</span></div>";
        }
        h += "</article>";
      }
      h += "</div></section>";
    }
    return h;
  }

  function findNode(name) {
    for (const c of (state.fleet && state.fleet.clusters) || [])
      for (const n of c.nodes || []) if (n.node === name) return { cluster: c, node: n };
    if (!paged()) return null;
    const got = big.nodes[name];
    if (!got || performance.now() - got.at > 2000) fetchOne("nodes", name);
    return got ? { cluster: { id: got.node.cluster }, node: got.node } : null;
  }

  function clusterView(id) {
    let c = ((state.fleet && state.fleet.clusters) || []).find((x) => String(x.id) === id || x.name === id);
    if (!c && paged()) {
      c = big.clusters[id] || Object.values(big.clusters).find((x) => x.name === id);
      fetchOne("clusters", id); /* fresh for the next picture */
      if (!c) return '<p class="muted">Loading cluster ' + esc(id) + "…</p>";
    }
    if (!c) return "<p>No cluster " + esc(id) + ".</p>";
    let h = "<h1>Cluster " + esc(c.name) + ' <span class="muted">timeline ' + esc(c.timeline) + "</span></h1>";
    h += '<div class="topology" aria-label="topology">';
    const primary = c.nodes.find((n) => n.role === "primary");
    const names = new Set(c.nodes.map((n) => n.node));
    // Replicas hang under their upstream; one whose upstream is not known
    // hangs under the primary.
    const parentOf = (n) => (n.upstream && names.has(n.upstream) ? n.upstream : primary ? primary.node : null);
    const line = (n, depth) => {
      const l = n.lag || {};
      let s = '<div class="edge d' + Math.min(depth, 4) + '">' + (depth ? "↳ " : "") +
        '<span class="dot ' + esc(nodeState(n)) + '"></span><a href="#/node/' + encodeURIComponent(n.node) + '">' +
        esc(n.node) + "</a> " + esc(n.role);
      if (n.role === "replica")
        s += " — receive " + bytes(l.receive_bytes) + ", apply " + bytes(l.apply_bytes) + ", lag " + secs(l.seconds) +
          (l.replay_paused ? ", <strong>replay paused</strong>" : "") +
          (l.wal_receiver_status ? " (" + esc(l.wal_receiver_status) + ")" : "") +
          (n.upstream ? "" : ' <span class="muted">upstream not identified</span>');
      return s + "</div>";
    };
    const seen = new Set();
    const walk = (n, depth) => {
      if (seen.has(n.node)) return "";
      seen.add(n.node);
      let s = line(n, depth);
      for (const ch of c.nodes) if (ch !== n && ch.role !== "primary" && parentOf(ch) === n.node) s += walk(ch, depth + 1);
      return s;
    };
    if (primary) h += walk(primary, 0);
    for (const n of c.nodes) if (!seen.has(n.node)) h += walk(n, 0);
    return h + "</div>";
  }

  // Recommendations an operator may start from the page (the light ones).
  const RUNNABLE = { vacuum: "VACUUM", analyze: "ANALYZE", reindex_invalid: "REINDEX" };

  const RANGES = [["15m", "-15m"], ["1h", "-1h"], ["6h", "-6h"], ["24h", "-24h"], ["7d", "-7d"], ["30d", "-30d"]];
  /* Ranges beyond the raw tier (2 days by default) chart the 1-hour rollups. */
  const ROLLUP_RANGES = ["-7d", "-30d"];

  function nodeShell(name) {
    const found = findNode(name);
    if (!found) return "<p>No node " + esc(name) + " yet.</p>";
    const n = found.node;
    let h = "<h1>" + esc(n.node) + ' <span class="muted">' + esc(n.role) + ", " + esc(nodeState(n)) +
      ", region " + esc(n.region) + "</span></h1>";
    h += '<p id="node-summary"></p>';
    h += "<h2>Open alerts</h2><div id=\"node-alerts\"></div>";
    h += '<h2>Charts</h2><div class="ranges" role="group" aria-label="chart range">' +
      RANGES.map((r, i) => '<button data-range="' + r[1] + '" aria-pressed="' + (i === 0) + '">' + r[0] +
        "</button>").join("") + "</div>";
    if (n.role === "replica") h += '<div id="chart-lag" class="chart" aria-label="replication lag chart"></div>';
    h += '<div id="chart-conn" class="chart" aria-label="connections chart"></div>';
    h += '<h2>Pressure</h2><p id="node-pressure" class="muted">…</p>';
    h += '<h2>Top statements</h2><div id="chart-stmt" class="chart" aria-label="statement history chart" hidden>' +
      '</div><div id="node-statements" class="scroll"></div>';
    h += '<h2>Tables needing VACUUM or ANALYZE</h2><div id="node-tables" class="scroll"></div>';
    h += '<h2>Recommendations</h2><div id="node-recs"></div>';
    h += '<h2>Maintenance</h2><div id="node-maint" class="scroll"></div>';
    return h;
  }

  function nodeLive(name) {
    const found = findNode(name);
    if (!found) return;
    const n = found.node;
    const l = n.lag;
    $("#node-summary").textContent = "Last seen " + ago(n.last_seen) +
      (l ? "; lag " + secs(l.seconds) + " (" + bytes(l.bytes) + "), receive " + bytes(l.receive_bytes) +
        ", apply " + bytes(l.apply_bytes) + (l.replay_paused ? "; replay paused" : "") : "");
    const alerts = ((state.fleet && state.fleet.alerts) || []).filter((a) => a.node === name);
    $("#node-alerts").innerHTML = alertRows(alerts, false);
    const chart = state.charts.lag;
    const live = state.live[name];
    if (chart && live && state.range === "-15m") {
      const hist = state.lagHistory || [[], []];
      chart.setData([hist[0].concat(live[0]), hist[1].concat(live[1])]);
    }
  }

  function makeChart(el, title, label, data, range) {
    const width = Math.max(280, el.clientWidth || 600);
    return new uPlot({
      title: title, width: width, height: 200,
      scales: range ? { x: { time: true, range: () => range } } : {},
      series: [{}, { label: label, stroke: "#0969da", width: 1.5, spanGaps: true }],
      axes: [{}, { size: 60 }],
    }, data, el);
  }

  async function nodeCharts(name, range) {
    state.range = range;
    for (const k of Object.keys(state.charts)) { state.charts[k].destroy(); delete state.charts[k]; }
    const lagEl = $("#chart-lag"), connEl = $("#chart-conn");
    if (lagEl) {
      let pts = [];
      const rolled = ROLLUP_RANGES.includes(range);
      try {
        pts = (await api("/api/v1/nodes/" + encodeURIComponent(name) + (rolled
          ? "/history?metric=replication_lag_seconds&from=" : "/lag?from=") + range)).points || [];
      } catch (e) { pts = []; }
      state.lagHistory = [pts.map((p) => p[0]), pts.map((p) => p[rolled ? 1 : 2])];
      const live = range === "-15m" && state.live[name] ? state.live[name] : [[], []];
      if (!$("#chart-lag")) return;
      state.charts.lag = makeChart(lagEl, "Replication lag", "lag (s)",
        [state.lagHistory[0].concat(live[0]), state.lagHistory[1].concat(live[1])]);
    }
    if (connEl) {
      let pts = [];
      try {
        pts = (await api("/api/v1/nodes/" + encodeURIComponent(name) + "/history?metric=connections_total&from=" +
          range)).points || [];
      } catch (e) { pts = []; }
      if (!$("#chart-conn")) return;
      state.charts.conn = makeChart(connEl, "Connections", "client backends",
        [pts.map((p) => p[0]), pts.map((p) => p[1])]);
    }
  }

  async function nodeDetails(name) {
    const enc = encodeURIComponent(name);
    const [st, tb, rc, mt, dg] = await Promise.all([
      api("/api/v1/nodes/" + enc + "/statements").catch(() => null),
      api("/api/v1/nodes/" + enc + "/tables").catch(() => null),
      api("/api/v1/nodes/" + enc + "/recommendations").catch(() => null),
      api("/api/v1/maintenance?node=" + enc).catch(() => null),
      api("/api/v1/nodes/" + enc + "/diagnostics").catch(() => null),
    ]);
    if (!$("#node-statements")) return;
    const pr = (dg && dg.diagnostics && dg.diagnostics.pressure) || {};
    const parts = [];
    if (pr.connections) parts.push("connections " + pr.connections.total + " of " + pr.connections.max_connections +
      " (" + (100 * pr.connections.saturation).toFixed(0) + "%)");
    if (pr.wraparound) parts.push("oldest transaction ID " + pr.wraparound.datfrozenxid_age + " old in " +
      pr.wraparound.oldest_database + " (" + (100 * pr.wraparound.freeze_max_age_ratio).toFixed(0) +
      "% of autovacuum_freeze_max_age)");
    if (pr.temp_files) parts.push("temp files " + bytes(pr.temp_files.bytes_per_second) + "/s");
    if (pr.checkpoints) parts.push((100 * pr.checkpoints.requested_ratio).toFixed(0) + "% of checkpoints requested");
    $("#node-pressure").textContent = parts.length ? parts.join("; ") : "not reported yet";
    const stmts = (st && st.statements) || [];
    $("#node-statements").innerHTML = stmts.length
      ? "<table><thead><tr><th>Query</th><th>Calls</th><th>Total ms</th><th>Mean ms</th><th class=\"hide-small\">Baseline ms</th></tr></thead><tbody>" +
        stmts.slice(0, 10).map((s) => "<tr><td><code>" + esc((s.query || String(s.queryid)).slice(0, 160)) +
          "</code>" + (s.regression ? ' <span class="sev-warning">regressed</span>' : "") +
          ' <button data-stmt="' + esc(s.queryid_text) + '" aria-label="history of query ' + esc(s.queryid_text) +
          '">history</button></td><td>' + s.calls +
          "</td><td>" + s.total_time_ms.toFixed(1) + "</td><td>" + s.mean_time_ms.toFixed(2) +
          '</td><td class="hide-small">' + (s.baseline_mean_ms === null || s.baseline_mean_ms === undefined ? "–"
            : s.baseline_mean_ms.toFixed(2)) + "</td></tr>").join("") + "</tbody></table>"
      : '<p class="muted">No statement statistics yet.</p>';
    const tables = ((tb && tb.tables) || []).filter((t) => t.needs_vacuum || t.needs_analyze);
    $("#node-tables").innerHTML = tables.length
      ? "<table><thead><tr><th>Table</th><th>Dead tuples</th><th>Needs</th><th>Last vacuum</th></tr></thead><tbody>" +
        tables.map((t) => "<tr><td>" + esc(t.schema + "." + t.table) + "</td><td>" + t.dead_tuples + " (" +
          (100 * t.dead_ratio).toFixed(0) + "%)</td><td>" + (t.needs_vacuum ? "VACUUM " : "") +
          (t.needs_analyze ? "ANALYZE" : "") + "</td><td>" + esc(ago(t.last_vacuum_any || t.last_autovacuum)) +
          "</td></tr>").join("") + "</tbody></table>"
      : '<p class="muted">None.</p>';
    const recs = (rc && rc.recommendations) || [];
    $("#node-recs").innerHTML = recs.length
      ? recs.slice(0, 20).map((r) => {
          const op = RUNNABLE[r.kind];
          const run = op && canOperate()
            ? ' <button data-maint="' + esc(JSON.stringify(Object.assign({ node: name, operation: op },
                r.index ? { index: r.index, concurrently: true } : { table: r.table }, { schema: r.schema,
                database: r.database }))) + '" aria-label="Run ' + esc(op) + " on " + esc(r.index || r.table) +
              '">Run ' + esc(op) + "</button>"
            : "";
          return '<div><strong class="sev-' + esc(r.severity) + '">' + esc(r.kind) + "</strong> " + esc(r.title) +
            run + "<pre>" + esc(r.sql) + "</pre></div>";
        }).join("")
      : '<p class="muted">Nothing to recommend.</p>';
    const ops = (mt && mt.operations) || [];
    $("#node-maint").innerHTML = ops.length
      ? "<table><thead><tr><th>Operation</th><th>State</th><th>By</th><th>When</th><th>ms</th></tr></thead><tbody>" +
        ops.slice(0, 20).map((o) => "<tr><td>" + esc(o.operation + " " + o.schema + "." + (o.index || o.table)) +
          "</td><td>" + esc(o.state) + (o.error ? " — " + esc(o.error) : "") + "</td><td>" + esc(o.requested_by) +
          "</td><td>" + esc(ago(o.requested_at)) + "</td><td>" + esc(o.duration_ms) + "</td></tr>").join("") +
        "</tbody></table>"
      : '<p class="muted">No maintenance yet.</p>';
  }

  async function eventsView() {
    const el = $("#view");
    el.innerHTML = "<h1>Events</h1><p class=\"muted\">Loading…</p>";
    let ev = [];
    try { ev = (await api("/api/v1/events?limit=200")).events || []; } catch (e) { ev = []; }
    if (state.view !== "events") return;
    el.innerHTML = "<h1>Events</h1>" + (ev.length
      ? '<div class="scroll"><table><thead><tr><th>When</th><th>Kind</th><th>Node</th><th>What</th></tr></thead><tbody>' +
        ev.map((e) => "<tr><td>" + esc(ago(e.at)) + "</td><td class=\"sev-" + esc(e.severity) + "\">" + esc(e.kind) +
          "</td><td>" + esc(e.node) + "</td><td>" + esc(e.message) + "</td></tr>").join("") + "</tbody></table></div>"
      : '<p class="muted">No events.</p>');
  }

  function render() {
    header();
    const route = (location.hash || "#/").slice(1).split("/").filter(Boolean).map(decodeURIComponent);
    const key = route.join("/") || "fleet";
    const el = $("#view");
    const fresh = state.view !== key;
    state.view = key;
    if (route[0] === "node" && route[1]) {
      if (fresh || !$("#node-summary")) {
        el.innerHTML = nodeShell(route[1]);
        if ($("#node-summary")) {
          nodeCharts(route[1], "-15m");
          state.detailsAt = 0;
        }
      }
      if ($("#node-summary")) {
        nodeLive(route[1]);
        // Details change on the collector's stats cadence: refresh them now and then.
        if (performance.now() - (state.detailsAt || 0) > 15000) {
          state.detailsAt = performance.now();
          nodeDetails(route[1]);
        }
      }
    } else if (route[0] === "cluster" && route[1]) {
      el.innerHTML = clusterView(route[1]);
    } else if (route[0] === "alerts") {
      el.innerHTML = "<h1>Alerts</h1>" + alertRows((state.fleet && state.fleet.alerts) || [], true);
    } else if (route[0] === "events") {
      if (fresh) eventsView();
    } else if (paged()) {
      pagedFleet(fresh);
    } else {
      el.innerHTML = fleetView();
    }
    if (state.fleet && state.readyAt === null) {
      state.readyAt = performance.now(); // first full picture on screen
      document.body.dataset.ready = "true";
    }
  }

  // ---- actions ----

  async function act(button) {
    const row = button.closest("[data-alert]");
    if (!row) return;
    const id = row.dataset.alert, what = button.dataset.act;
    button.disabled = true;
    try {
      if (what === "silence") {
        const a = ((state.fleet && state.fleet.alerts) || []).find((x) => String(x.id) === id);
        await api("/api/v1/silences", {
          method: "POST", body: JSON.stringify({
            matchers: [{ name: "rule", value: a.rule }, { name: "node", value: a.node }],
            ends_at: new Date(Date.now() + 3600e3).toISOString(), comment: "from the dashboard",
          }),
        });
      } else {
        const r = await api("/api/v1/alerts/" + id, { method: "PATCH", body: JSON.stringify({ action: what }) });
        // Show the answer at once; the stream confirms it.
        const list = (state.fleet && state.fleet.alerts) || [];
        const i = list.findIndex((x) => String(x.id) === id);
        if (i >= 0 && r && r.alert) list[i] = r.alert;
      }
      notice("");
    } catch (e) {
      notice("Could not " + what + ": " + e.message);
    }
    scheduleRender(false);
  }

  document.addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    if (b.dataset.act) act(b);
    if (b.dataset.maint) maintain(b);
    if (b.dataset.stmt) statementChart(b.dataset.stmt);
    if (b.dataset.range) {
      for (const x of document.querySelectorAll("[data-range]")) x.setAttribute("aria-pressed", String(x === b));
      const route = (location.hash || "").slice(1).split("/").filter(Boolean).map(decodeURIComponent);
      if (route[0] === "node") nodeCharts(route[1], b.dataset.range);
    }
  });

  async function statementChart(queryid) {
    const route = (location.hash || "").slice(1).split("/").filter(Boolean).map(decodeURIComponent);
    const el = $("#chart-stmt");
    if (route[0] !== "node" || !el) return;
    let pts = [], hist = {};
    try {
      hist = await api("/api/v1/nodes/" + encodeURIComponent(route[1]) + "/statements/" +
        encodeURIComponent(queryid) + "/history?from=" + (state.range || "-1h"));
      pts = hist.points || [];
    } catch (e) {
      notice("No history for query " + queryid + ": " + e.message);
      return;
    }
    if (state.charts.stmt) state.charts.stmt.destroy();
    el.hidden = false;
    el.innerHTML = "";
    state.charts.stmt = makeChart(el, "Query " + queryid + ": mean time per interval", "mean ms",
      [pts.map((p) => p[0]), pts.map((p) => p[3])], [hist.from, hist.to]);
  }

  async function maintain(button) {
    const req = JSON.parse(button.dataset.maint);
    button.disabled = true;
    try {
      const r = await api("/api/v1/maintenance", { method: "POST", body: JSON.stringify(req) });
      notice("");
      button.textContent = req.operation + " " + r.operation.state;
      setTimeout(() => nodeDetails(req.node), 3000);
    } catch (e) {
      notice("Could not start " + req.operation + ": " + e.message);
      button.disabled = false;
    }
  }

  async function whoami() {
    try { state.me = await api("/api/v1/whoami"); } catch (e) { state.me = { name: "anonymous", role: "none", auth: true }; }
    $("#who").textContent = state.me.auth ? (state.me.role === "none" ? "not signed in" : state.me.name + " (" +
      state.me.role + ")") : "";
    $("#token").hidden = !state.me.auth || !!state.token;
    $("#signin-button").hidden = !state.me.auth || !!state.token;
    $("#signout-button").hidden = !state.token;
    scheduleRender(true);
  }

  $("#signin").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("#token").value.trim();
    $("#token").value = "";
    sessionStorage.setItem("pgvigil.token", state.token);
    whoami();
    if (tokenWaiter) { const w = tokenWaiter; tokenWaiter = null; w(); }
  });
  $("#signout-button").addEventListener("click", () => {
    sessionStorage.removeItem("pgvigil.token");
    location.reload();
  });
  window.addEventListener("hashchange", () => scheduleRender(true));

  whoami();
  stream();
})();
