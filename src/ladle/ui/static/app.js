// ladle UI: a small hash-routed page over the JSON API under /api/ (no framework, no network but this server).
// Every value is put in the page with textContent or attributes, never as HTML.
"use strict";

const KINDS = {
  "entities": "Entities",
  "data-sources": "Data sources",
  "feature-views": "Feature views",
  "on-demand-feature-views": "On-demand feature views",
  "feature-services": "Feature services",
};
const SLUG_OF_KIND = {
  entity: "entities",
  data_source: "data-sources",
  feature_view: "feature-views",
  on_demand_feature_view: "on-demand-feature-views",
  feature_service: "feature-services",
};
const KEY_STORE = "ladle-ui-api-key";
const NODE_W = 220, NODE_H = 34, PAD = 16;

// --- small helpers ----------------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function show(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function objLink(kind, name) {
  const slug = SLUG_OF_KIND[kind];
  return slug ? el("a", { href: `#/obj/${slug}/${encodeURIComponent(name)}` }, name) : name;
}

function nodeLink(id) {
  const i = id.indexOf("/");
  return objLink(id.slice(0, i), id.slice(i + 1));
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.abs(seconds);
  const text = s < 120 ? `${s.toFixed(0)} s` : s < 7200 ? `${(s / 60).toFixed(0)} min` : s < 172800 ? `${(s / 3600).toFixed(1)} h` : `${(s / 86400).toFixed(1)} d`;
  return seconds < 0 ? `-${text}` : text;
}

function tags(obj) {
  return Object.entries(obj || {}).map(([k, v]) => el("span", { class: "badge" }, `${k}:${v}`));
}

function table(columns, rows, rowAttrs) {
  return el("table", {},
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c)))),
    el("tbody", {}, rows.map((r, i) => el("tr", rowAttrs ? rowAttrs(i) : {}, r.map((c) => el("td", {}, c))))));
}

function kv(pairs) {
  return el("dl", { class: "kv" }, pairs.filter(Boolean).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function snippets(list, title) {
  if (!list || !list.length) return null;
  return el("section", { class: "snippets-section" }, el(title ? "h3" : "h2", {}, title || "Equivalent calls"),
    el("div", { class: "snippets" }, list.map((s) => {
      const code = el("pre", { class: "snippet-code" }, s.code);
      const copy = el("button", { class: "secondary", type: "button", onclick: () => navigator.clipboard && navigator.clipboard.writeText(s.code) }, "Copy");
      return el("div", { class: "snippet" }, el("h3", {}, s.label, copy), code);
    })));
}

function errorBox(err) {
  return el("div", { class: "error", role: "alert" }, err.type ? `${err.type}: ${err.message}` : String(err.message || err));
}

// --- the API ----------------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, type, message) { super(message); this.status = status; this.type = type; }
}

async function api(path, body) {
  const headers = {};
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers["X-API-Key"] = key;
  const init = { headers };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let doc;
  try { doc = JSON.parse(text); } catch (e) { doc = { error: { type: "HTTPError", message: text } }; }
  if (!response.ok) {
    const e = (doc && doc.error) || { type: "HTTPError", message: String(response.status) };
    if (response.status === 401) document.getElementById("key-form").hidden = false;
    throw new ApiError(response.status, e.type, e.message);
  }
  return doc;
}

// --- the lineage graph (coordinates come from the server's layered layout) --------------------------------
function graph(doc, focus) {
  const width = doc.width + PAD * 2, height = Math.max(doc.height, NODE_H) + PAD * 2;
  const at = {};
  for (const n of doc.nodes) at[n.id] = n;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "lineage", "data-nodes": doc.nodes.length, "data-edges": doc.edges.length });
  for (const e of doc.edges) {
    const a = at[e.from], b = at[e.to];
    if (!a || !b) continue;
    const x1 = a.x + PAD + NODE_W, y1 = a.y + PAD + NODE_H / 2, x2 = b.x + PAD, y2 = b.y + PAD + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    root.append(svg("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, "data-from": e.from, "data-to": e.to }));
  }
  for (const n of doc.nodes) {
    const cls = `node ${n.kind}${n.type === "missing" ? " missing" : ""}${n.id === focus ? " focus" : ""}`;
    const label = n.name.length > 30 ? `${n.name.slice(0, 29)}…` : n.name;
    const g = svg("g", { class: cls, "data-id": n.id, transform: `translate(${n.x + PAD},${n.y + PAD})`, tabindex: 0 },
      svg("title", {}, `${n.kind.replace(/_/g, " ")} ${n.name}${n.type ? ` (${n.type})` : ""}`),
      svg("rect", { width: NODE_W, height: NODE_H }),
      svg("text", { x: 10, y: 22 }, label));
    g.addEventListener("mouseenter", () => {
      for (const p of root.querySelectorAll("path.edge")) p.classList.toggle("hl", p.dataset.from === n.id || p.dataset.to === n.id);
    });
    g.addEventListener("mouseleave", () => { for (const p of root.querySelectorAll("path.edge.hl")) p.classList.remove("hl"); });
    const slug = SLUG_OF_KIND[n.kind];
    if (slug && n.type !== "missing") g.addEventListener("click", () => { location.hash = `#/obj/${slug}/${encodeURIComponent(n.name)}`; });
    root.append(g);
  }
  const legend = el("p", { class: "legend muted" },
    el("span", {}, "■ data source"), el("span", {}, "■ feature view"), el("span", {}, "■ on-demand view"), el("span", {}, "■ feature service"),
    `${doc.nodes.length} nodes, ${doc.edges.length} edges`);
  return el("div", {}, el("div", { class: "graph", id: "lineage-graph" }, root), legend);
}

// --- pages ------------------------------------------------------------------------------------------------
async function overviewPage() {
  const doc = await api("/api/overview");
  const health = Object.entries(doc.health).map(([name, h]) => [name.replace(/_/g, " "),
    el("span", {}, el("span", { class: h.ok ? "badge ok" : "badge bad" }, h.ok ? "ok" : "failing"), " ", h.error || h.probe || "")]);
  const stores = Object.entries(doc.stores).map(([name, s]) => [name.replace(/_/g, " "), s ? `${s.type || s.registry_type || ""} ${s.path || ""}`.trim() || show(s) : "none"]);
  return [
    el("h1", {}, `Project ${doc.project}`),
    el("div", { class: "cards" }, Object.entries(doc.counts).map(([slug, n]) =>
      el("a", { class: "card", href: slug === "saved-datasets" ? "#/datasets" : `#/list/${slug}`, "data-count": slug }, el("div", { class: "n" }, n), KINDS[slug] || "Saved datasets"))),
    el("h2", {}, "Registry"),
    kv([["version", doc.registry.version], ["last apply", show(doc.registry.last_apply)], ["last update", show(doc.registry.last_updated)],
      ["last refresh", show(doc.registry.refresh.last_refresh)]]),
    el("h2", {}, "Stores"), kv(stores),
    el("h2", {}, "Health"), kv(health),
    snippets(doc.snippets),
  ];
}

function listColumns(slug) {
  const common = (r) => [objLink(r.kind, r.name), r.description || "", tags(r.tags)];
  switch (slug) {
    case "entities": return [["Name", "Description", "Tags", "Join keys", "Value type"], (r) => [...common(r), r.join_keys.join(", "), r.value_type]];
    case "data-sources": return [["Name", "Description", "Tags", "Type", "Location"], (r) => [...common(r), r.type, r.location]];
    case "feature-views": return [["Name", "Description", "Tags", "Entities", "Features", "TTL", "Source", "Kind"],
      (r) => [...common(r), r.entities.join(", "), r.features.length, duration(r.ttl_seconds), r.source,
        `${r.view_type}${r.aggregations ? `, ${r.aggregations} aggregations` : ""}${r.online ? "" : ", offline only"}`]];
    case "on-demand-feature-views": return [["Name", "Description", "Tags", "Features", "Mode", "Sources"], (r) => [...common(r), r.features.join(", "), r.mode, r.sources.join(", ")]];
    default: return [["Name", "Description", "Tags", "Views", "Features"], (r) => [...common(r), r.views.join(", "), r.features]];
  }
}

async function listPage(slug, params) {
  const q = params.get("q") || "", tag = params.get("tag") || "", page = Number(params.get("page") || 1);
  const query = new URLSearchParams({ q, tag, page, per_page: 50 });
  const doc = await api(`/api/${slug}?${query}`);
  const go = (changes) => {
    const next = new URLSearchParams({ q, tag, page: 1, ...changes });
    location.hash = `#/list/${slug}?${next}`;
  };
  const search = el("input", { type: "search", id: "search", placeholder: "search names, descriptions, features", value: q });
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") go({ q: search.value }); });
  const filter = el("select", { id: "tag-filter" }, el("option", { value: "" }, "any tag"),
    Object.entries(doc.tags).map(([t, n]) => el("option", { value: t, selected: t === tag }, `${t} (${n})`)));
  filter.addEventListener("change", () => go({ tag: filter.value }));
  const [columns, row] = listColumns(slug);
  const pager = el("div", { class: "pager" },
    el("button", { class: "secondary", disabled: page <= 1, onclick: () => go({ page: page - 1 }) }, "Previous"),
    `page ${doc.page} of ${doc.pages} (${doc.total} ${doc.total === 1 ? "object" : "objects"})`,
    el("button", { class: "secondary", disabled: page >= doc.pages, onclick: () => go({ page: page + 1 }) }, "Next"));
  return [el("h1", {}, KINDS[slug]), el("div", { class: "toolbar" }, search, el("button", { onclick: () => go({ q: search.value }) }, "Search"), filter),
    doc.items.length ? table(columns, doc.items.map(row)) : el("p", { class: "muted" }, "Nothing matches."), pager, snippets(doc.snippets)];
}

function schemaTable(spec) {
  return table(["Field", "Type", "Description"], (spec.schema || []).map((f) => [f.name, show(f.dtype), f.description || ""]));
}

function lookupForm(doc) {
  const isService = doc.kind === "feature_service";
  const keys = doc.join_keys || [];
  const features = isService ? null : (doc.spec.schema || []).filter((f) => !keys.includes(f.name)).map((f) => `${doc.name}:${f.name}`);
  const inputs = [...keys, ...(doc.request_fields || [])];
  const keyInput = el("textarea", { id: "lookup-entities", rows: 3, cols: 60 }, JSON.stringify(Object.fromEntries(inputs.map((k) => [k, []]))));
  const out = el("div", { id: "lookup-result" });
  const full = el("input", { type: "checkbox", id: "lookup-full-names" });
  const run = async () => {
    out.replaceChildren(el("p", { class: "muted" }, "Reading…"));
    try {
      const body = { entities: JSON.parse(keyInput.value), full_feature_names: full.checked };
      if (isService) body.feature_service = doc.name; else body.features = features;
      const answer = await api("/api/online", body);
      const names = answer.result.metadata.feature_names;
      const results = answer.result.results;
      const count = results.length ? results[0].values.length : 0;
      const rows = [];
      for (let i = 0; i < count; i++) {
        names.forEach((name, j) => {
          const status = results[j].statuses[i];
          rows.push([String(i + 1), name, show(results[j].values[i]),
            el("span", { class: status === "PRESENT" ? "badge ok" : "badge bad", "data-status": status }, status), show(results[j].event_timestamps[i])]);
        });
      }
      out.replaceChildren(table(["Row", "Feature", "Value", "Status", "Event time"], rows), snippets(answer.snippets, "This lookup as a call"));
    } catch (err) { out.replaceChildren(errorBox(err)); }
  };
  return [el("h2", {}, "Online lookup"),
    el("p", { class: "muted" }, `Entity keys${doc.request_fields && doc.request_fields.length ? " and request data" : ""} (${inputs.join(", ") || "none"}), column → values, JSON:`),
    keyInput, el("div", { class: "toolbar" }, el("button", { id: "lookup-run", onclick: run }, "Look up"),
      el("label", {}, full, " full feature names (view__feature)")), out];
}

function freshnessKv(f) {
  return kv([
    ["status", el("span", { class: f.stale ? "badge bad" : "badge ok", id: "stale-badge" }, f.stale ? "stale" : "fresh")],
    ["why", f.why], ["ttl", duration(f.ttl_seconds)], ["materialized until", show(f.materialized_until)],
    ["intervals", f.intervals.length ? f.intervals.map((i) => `${i[0]} → ${i[1]}`).join("; ") : "none"],
    ["lag", `${duration(f.lag_seconds)}${f.lag_from ? ` (from ${f.lag_from})` : ""}`],
    f.offline ? ["newest offline event", show(f.offline.newest_event_time)] : null,
    f.online_store ? ["newest online event", `${show(f.online_store.newest_event_time)} (${f.online_store.present} of ${f.online_store.keys_read} newest keys present)`] : null,
  ]);
}

function viewSections(doc) {
  const box = el("div", { id: "freshness-box" }, freshnessKv(doc.freshness));
  const probe = async () => {
    try { box.replaceChildren(freshnessKv(await api(`/api/feature-views/${encodeURIComponent(doc.name)}/freshness`))); } catch (err) { box.replaceChildren(errorBox(err)); }
  };
  const sample = el("div", { id: "sample" });
  const loadSample = async () => {
    try {
      const s = await api(`/api/feature-views/${encodeURIComponent(doc.name)}/sample?limit=20`);
      sample.replaceChildren(table(s.columns, s.rows.map((r) => r.map(show))));
    } catch (err) { sample.replaceChildren(errorBox(err)); }
  };
  const aggregations = doc.spec.aggregations || [];
  return [
    el("h2", {}, "Schema"), schemaTable(doc.spec),
    aggregations.length ? [el("h2", {}, "Aggregations"), table(["Column", "Function", "Window", "Slide", "Name"],
      aggregations.map((a) => [a.column, a.function, duration(a.time_window_seconds), duration(a.slide_interval_seconds), a.name || ""]))] : null,
    doc.spec.udf ? [el("h2", {}, "Transformation"), el("pre", { class: "udf" }, doc.spec.udf.source)] : null,
    el("h2", {}, "Freshness"), box, el("div", { class: "toolbar" }, el("button", { class: "secondary", id: "probe", onclick: probe }, "Check the stores now")),
    el("h2", {}, "Offline sample"), el("div", { class: "toolbar" }, el("button", { class: "secondary", id: "load-sample", onclick: loadSample }, "Load the newest rows")), sample,
    doc.spec.online && doc.online_store ? lookupForm(doc) : null,
    versionSections(doc),
  ];
}

// a view's contract versions (v0, v1, ... in the registry), published feature-set versions, saved datasets
function versionSections(doc) {
  const out = [];
  if (doc.contract_versions.length) {
    out.push(el("h2", {}, "Contract versions"), table(["Version", "Schema hash", "Registry version", "Time", ""], doc.contract_versions.map((v) =>
      [`v${v.version}`, el("code", {}, show(v.schema_hash).slice(0, 12)), `v${v.registry_version}`, show(v.time), v.active ? el("span", { class: "badge ok" }, "active") : ""])));
  }
  if (doc.feature_sets) {
    const box = el("div", { id: "published-versions" }, el("p", { class: "muted" }, "Reading…"));
    api(`/api/feature-views/${encodeURIComponent(doc.name)}/versions`).then((p) => box.replaceChildren(
      p.versions.length ? el("p", {}, "latest → ", el("code", { id: "latest-version" }, show(p.latest)), el("span", { class: "muted" }, ` (${p.root})`))
        : el("p", { class: "muted" }, `Nothing published under ${p.root} yet (ladle publish ${doc.name} DATA).`),
      p.versions.length ? table(["Version", "", "Published", "Rows", "Event times", "Contract", "Fingerprint"], p.versions.map((v) =>
        [v.version, v.is_latest ? el("span", { class: "badge ok" }, "latest") : "", show(v.generated_at), show(v.row_count),
          `${show(v.event_time_min)} → ${show(v.event_time_max)}`, v.current_contract ? "current" : el("span", { class: "badge bad" }, "older contract"),
          el("code", {}, show(v.fingerprint).slice(0, 19))]), (i) => ({ class: p.versions[i].is_latest ? "latest" : "" })) : null,
      snippets(p.snippets, "Versions as a call"))).catch((err) => box.replaceChildren(errorBox(err)));
    out.push(el("h2", {}, "Published versions"), box);
  }
  if (doc.saved_datasets.length) {
    out.push(el("h2", {}, "Saved datasets"), el("p", {}, doc.saved_datasets.map((n) => [el("a", { href: `#/datasets/${encodeURIComponent(n)}` }, n), " "])));
  }
  return out;
}

function previewSection(doc) {
  const out = el("div", { id: "preview" });
  const rows = el("textarea", { id: "preview-rows", rows: 3, cols: 80, placeholder: "entity rows as JSON (empty: recent keys of the first view)" });
  const full = el("input", { type: "checkbox", id: "preview-full-names" });
  const run = async () => {
    out.replaceChildren(el("p", { class: "muted" }, "Computing…"));
    try {
      const body = rows.value.trim() ? { entity_rows: JSON.parse(rows.value) } : { rows: 5 };
      body.full_feature_names = full.checked;
      const p = await api(`/api/feature-services/${encodeURIComponent(doc.name)}/preview`, body);
      rows.value = JSON.stringify(p.entity_rows);
      out.replaceChildren(table(p.columns, p.rows.map((r) => r.map(show))), snippets(p.snippets, "This preview as a call"));
    } catch (err) { out.replaceChildren(errorBox(err)); }
  };
  return [el("h2", {}, "Training-set preview"), rows, el("div", { class: "toolbar" }, el("button", { id: "preview-run", onclick: run }, "Preview"),
    el("label", {}, full, " full feature names (view__feature)")), out];
}

function kindSections(doc) {
  const spec = doc.spec;
  switch (doc.kind) {
    case "entity": return [el("h2", {}, "Feature views"), el("p", {}, doc.feature_views.map((v) => [objLink("feature_view", v), " "]))];
    case "data_source": return [el("h2", {}, "Definition"), el("pre", {}, JSON.stringify(spec, null, 2))];
    case "feature_view": return viewSections(doc);
    case "on_demand_feature_view": return [el("h2", {}, "Schema"), schemaTable(spec), el("h2", {}, `Function (${spec.mode})`), el("pre", { class: "udf" }, spec.udf_source || "")];
    case "feature_service": return [el("h2", {}, "Features"),
      table(["View", "Features"], (spec.features || []).map((p) => [objLink(p.on_demand ? "on_demand_feature_view" : "feature_view", p.name), (p.features || []).join(", ")])),
      doc.online_store ? lookupForm(doc) : null, previewSection(doc)];
    default: return [el("pre", {}, JSON.stringify(spec, null, 2))];
  }
}

async function objectPage(slug, name) {
  const doc = await api(`/api/${slug}/${encodeURIComponent(name)}`);
  const spec = doc.spec;
  const node = `${doc.kind}/${doc.name}`;
  const lineage = await api(`/api/lineage?node=${encodeURIComponent(node)}`);
  return [
    el("h1", {}, `${doc.kind.replace(/_/g, " ")} ${doc.name}`),
    kv([["description", spec.description || "—"], ["owner", spec.owner || "—"], ["tags", tags(spec.tags)],
      spec.entities ? ["entities", spec.entities.map((e) => [objLink("entity", e), " "])] : null,
      spec.ttl_seconds !== undefined ? ["ttl", duration(spec.ttl_seconds)] : null,
      spec.source ? ["source", objLink("data_source", spec.source.name)] : null,
      spec.online !== undefined ? ["online / offline", `${spec.online ? "online" : "not online"} / ${spec.offline ? "offline" : "not offline"}`] : null,
      spec.view_type ? ["view type", spec.view_type] : null,
      doc.schema_hash ? ["schema hash", el("code", { id: "schema-hash" }, doc.schema_hash)] : null,
      ["content hash", doc.hash], ["created", doc.created], ["last updated", doc.last_updated],
      ["reads", doc.reads.length ? doc.reads.map((r) => [nodeLink(r), " "]) : "—"],
      ["read by", doc.read_by.length ? doc.read_by.map((r) => [nodeLink(r), " "]) : "—"]]),
    kindSections(doc),
    el("h2", {}, "Lineage"), graph(lineage, node),
    snippets(doc.snippets),
  ];
}

async function lineagePage() {
  const doc = await api("/api/lineage");
  return [el("h1", {}, "Lineage"), el("p", { class: "muted" }, "Data sources → feature views → on-demand views → feature services. Point at a node to see its edges; click it to open it."),
    graph(doc, null), snippets(doc.snippets)];
}

async function freshnessPage(params) {
  const staleOnly = params.get("stale") === "1", page = Number(params.get("page") || 1);
  const doc = await api(`/api/freshness?${new URLSearchParams({ stale: staleOnly, page, per_page: 100 })}`);
  const toggle = el("label", {}, el("input", { type: "checkbox", id: "stale-only", checked: staleOnly,
    onchange: (e) => { location.hash = `#/freshness?stale=${e.target.checked ? 1 : 0}`; } }), " stale only");
  const rows = doc.items.map((f) => [objLink("feature_view", f.name), f.online ? "yes" : "no", duration(f.ttl_seconds), show(f.materialized_until),
    String(f.intervals.length), duration(f.lag_seconds), el("span", { class: f.stale ? "badge bad" : "badge ok" }, f.stale ? "stale" : "fresh"), f.why]);
  const pages = Math.max(1, Math.ceil(doc.total / doc.per_page));
  const go = (p) => { location.hash = `#/freshness?stale=${staleOnly ? 1 : 0}&page=${p}`; };
  return [el("h1", {}, "Freshness"), el("p", {}, `${doc.stale} stale of ${doc.total} feature views.`), el("div", { class: "toolbar" }, toggle),
    table(["View", "Online", "TTL", "Materialized until", "Intervals", "Lag", "", "Why"], rows, (i) => ({ class: doc.items[i].stale ? "stale" : "" })),
    el("div", { class: "pager" }, el("button", { class: "secondary", disabled: page <= 1, onclick: () => go(page - 1) }, "Previous"), `page ${page} of ${pages}`,
      el("button", { class: "secondary", disabled: page >= pages, onclick: () => go(page + 1) }, "Next")), snippets(doc.snippets)];
}

function changeCounts(c) {
  return `+${c.added} ~${c.changed} -${c.removed}`;
}

function contractBadge(flag) {
  if (flag === true) return el("span", { class: "badge bad contract-badge", title: "the schema hash changed: consumers must follow" }, "contract change");
  if (flag === false) return el("span", { class: "badge contract-badge" }, "cosmetic");
  return null;
}

function fieldValue(f, side) {
  return f.absent === side ? el("span", { class: "muted" }, "(absent)") : el("code", {}, show(f[side]));
}

// the changes of a registry diff: one block per object, each changed field with its old and new value
function diffView(changes, values) {
  if (!changes.length) return el("p", { class: "muted", id: "diff" }, "No changes: both versions hold the same definitions.");
  return el("div", { id: "diff" }, changes.map((c) => el("div", { class: `change ${c.change}`, "data-object": `${c.kind}/${c.name}` },
    el("h3", {}, el("span", { class: c.change === "removed" ? "badge bad" : c.change === "added" ? "badge ok" : "badge" }, c.change), " ",
      c.kind.replace(/_/g, " "), " ", c.change === "removed" ? c.name : objLink(c.kind, c.name), " ", contractBadge(c.contract_changed),
      c.schema_hash_before ? el("span", { class: "muted" }, ` schema hash ${c.schema_hash_before.slice(0, 12)} → ${c.schema_hash_after.slice(0, 12)}`) : null),
    c.fields.length ? table(["Field", "Old", "New"], c.fields.map((f) => [el("code", {}, f.path),
      values ? fieldValue(f, "old") : "—", values ? fieldValue(f, "new") : "—"])) : null)));
}

function compareForm(versions, a, b) {
  const options = (selected) => [...versions.map((v) => el("option", { value: v.version, selected: v.version === selected }, `v${v.version}`)),
    el("option", { value: 0, selected: selected === 0 }, "v0 (empty)")];
  const from = el("select", { id: "compare-a" }, options(a)), to = el("select", { id: "compare-b" }, options(b));
  const go = () => { location.hash = `#/history/compare?a=${from.value}&b=${to.value}`; };
  return el("div", { class: "toolbar" }, "Compare", from, "with", to, el("button", { id: "compare-run", onclick: go }, "Compare"));
}

async function historyPage() {
  const doc = await api("/api/history");
  const vs = doc.versions;
  return [el("h1", {}, "Registry history"),
    el("p", { class: "muted" }, `Current version ${doc.current}; ${doc.retained} version${doc.retained === 1 ? "" : "s"} retained (registry.history_limit).`),
    vs.length > 1 ? compareForm(vs, vs[1].version, vs[0].version) : null,
    table(["Version", "Time", "User", "Host", "Changes", "Contract", "Summary"], vs.map((v) =>
      [el("a", { href: `#/history/${v.version}` }, `v${v.version}`), el("span", { class: "nowrap" }, show(v.time).replace("T", " ")), v.user, v.host,
        el("span", { class: "nowrap" }, changeCounts(v)),
        v.contract_changes ? el("span", { class: "badge bad contract-badge" }, `${v.contract_changes} contract change${v.contract_changes === 1 ? "" : "s"}`) : "—",
        [v.rollback_of !== null ? el("span", { class: "badge" }, `rollback to v${v.rollback_of}`) : null, v.summary]])),
    snippets(doc.snippets)];
}

async function versionPage(version) {
  const doc = await api(`/api/history/${encodeURIComponent(version)}`);
  return [el("h1", {}, `Registry version ${doc.version}`),
    kv([["time", show(doc.time)], ["user", doc.user], ["host", doc.host], ["summary", doc.summary],
      doc.rollback_of !== null ? ["rollback of", el("a", { href: `#/history/${doc.rollback_of}` }, `v${doc.rollback_of}`)] : null,
      ["changes", `${changeCounts(doc)}${doc.contract_changes ? `, ${doc.contract_changes} contract change(s)` : ""}`],
      ["restorable", doc.restorable ? "yes" : "no (written before the registry kept snapshots)"]]),
    el("h2", {}, `Changes since v${doc.previous}`),
    doc.values ? null : el("p", { class: "muted" }, `Field values are not shown: ${doc.why}`),
    diffView(doc.changes, doc.values),
    el("p", {}, el("a", { href: "#/history" }, "All versions")), snippets(doc.snippets)];
}

async function comparePage(params) {
  const a = Number(params.get("a") || 0), b = Number(params.get("b") || 0);
  const [doc, hist] = await Promise.all([api(`/api/history/compare?${new URLSearchParams({ a, b })}`), api("/api/history")]);
  return [el("h1", {}, `Registry v${a} → v${b}`), compareForm(hist.versions, a, b),
    el("p", {}, `${changeCounts(doc)}${doc.contract_changes ? `, ${doc.contract_changes} contract change(s)` : ""}`),
    diffView(doc.changes, true), el("p", {}, el("a", { href: "#/history" }, "All versions")), snippets(doc.snippets)];
}

async function datasetsPage(params) {
  const q = params.get("q") || "", tag = params.get("tag") || "", page = Number(params.get("page") || 1);
  const doc = await api(`/api/saved-datasets?${new URLSearchParams({ q, tag, page, per_page: 50 })}`);
  const go = (changes) => { location.hash = `#/datasets?${new URLSearchParams({ q, tag, page: 1, ...changes })}`; };
  const search = el("input", { type: "search", id: "search", placeholder: "search names, services, views", value: q });
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") go({ q: search.value }); });
  const filter = el("select", { id: "tag-filter" }, el("option", { value: "" }, "any tag"),
    Object.entries(doc.tags).map(([t, n]) => el("option", { value: t, selected: t === tag }, `${t} (${n})`)));
  filter.addEventListener("change", () => go({ tag: filter.value }));
  const rows = doc.items.map((d) => [el("a", { href: `#/datasets/${encodeURIComponent(d.name)}` }, d.name), tags(d.tags), show(d.rows), d.features,
    d.views.map((v) => [objLink("feature_view", v), " "]), d.feature_service ? objLink("feature_service", d.feature_service) : "—", `v${d.registry_version}`, show(d.created_timestamp)]);
  return [el("h1", {}, "Saved datasets"), el("div", { class: "toolbar" }, search, el("button", { onclick: () => go({ q: search.value }) }, "Search"), filter),
    rows.length ? table(["Name", "Tags", "Rows", "Features", "Views", "Feature service", "Registry", "Created"], rows)
      : el("p", { class: "muted" }, doc.total ? "Nothing matches." : "No saved datasets (store.create_saved_dataset registers one)."),
    el("div", { class: "pager" }, el("button", { class: "secondary", disabled: page <= 1, onclick: () => go({ page: page - 1 }) }, "Previous"),
      `page ${doc.page} of ${doc.pages} (${doc.total})`, el("button", { class: "secondary", disabled: page >= doc.pages, onclick: () => go({ page: page + 1 }) }, "Next")),
    snippets(doc.snippets)];
}

async function datasetPage(name) {
  const doc = await api(`/api/saved-datasets/${encodeURIComponent(name)}`);
  const sample = el("div", { id: "dataset-sample" }, el("p", { class: "muted" }, "Reading…"));
  api(`/api/saved-datasets/${encodeURIComponent(name)}/sample?limit=20`)
    .then((s) => sample.replaceChildren(el("p", { class: "muted" }, `First ${s.rows.length} of ${show(s.total_rows)} rows`), table(s.columns, s.rows.map((r) => r.map(show)))))
    .catch((err) => sample.replaceChildren(errorBox(err)));
  const since = doc.registry_version === doc.registry_version_now ? `v${doc.registry_version} (current)` : `v${doc.registry_version} (now v${doc.registry_version_now})`;
  const views = doc.views.map((v) => [objLink("feature_view", v.view), el("code", {}, v.schema_hash.slice(0, 12)),
    !v.registered ? el("span", { class: "badge bad" }, "no longer registered") : v.contract_changed
      ? el("span", { class: "badge bad contract-badge" }, `contract changed (now ${v.schema_hash_now.slice(0, 12)})`) : el("span", { class: "badge ok" }, "unchanged"),
    objLink("data_source", v.source), v.version ? `published ${v.version}` : el("code", {}, show(v.fingerprint))]);
  return [el("h1", {}, `saved dataset ${doc.name}`),
    kv([["created", show(doc.created_timestamp)], ["rows", show(doc.rows)], ["registry version", since], ["tags", tags(doc.tags)],
      ["feature service", doc.feature_service ? objLink("feature_service", doc.feature_service) : "—"],
      ["join keys", doc.join_keys.join(", ")], ["stored at", show(doc.storage.path)], ["entity rows", show(doc.entity_rows)],
      ["result fingerprint", el("code", {}, show(doc.result_fingerprint))], ["entity rows fingerprint", el("code", {}, show(doc.entity_df_fingerprint))],
      ["built with", Object.entries(doc.versions).map(([k, v]) => `${k} ${v}`).join(", ")]]),
    el("h2", {}, "Views"), table(["View", "Schema hash", "Since saved", "Source", "Source version or fingerprint"], views),
    el("h2", {}, "Features"), el("p", {}, doc.features.map((f) => el("code", { class: "feature" }, f)).flatMap((c) => [c, " "])),
    el("h2", {}, "Sample"), sample, snippets(doc.snippets, "Reproduce it")];
}

// --- routing ----------------------------------------------------------------------------------------------
async function route() {
  const hash = location.hash.slice(1) || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const main = document.getElementById("app");
  let active = "overview", render;
  if (parts[0] === "list" && KINDS[parts[1]]) { active = parts[1]; render = () => listPage(parts[1], params); }
  else if (parts[0] === "obj" && KINDS[parts[1]] && parts[2]) { active = parts[1]; render = () => objectPage(parts[1], parts[2]); }
  else if (parts[0] === "lineage") { active = "lineage"; render = lineagePage; }
  else if (parts[0] === "freshness") { active = "freshness"; render = () => freshnessPage(params); }
  else if (parts[0] === "history") {
    active = "history";
    render = parts[1] === "compare" ? () => comparePage(params) : parts[1] ? () => versionPage(parts[1]) : historyPage;
  }
  else if (parts[0] === "datasets") { active = "datasets"; render = parts[1] ? () => datasetPage(parts[1]) : () => datasetsPage(params); }
  else render = overviewPage;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === active);
  main.setAttribute("aria-busy", "true");
  try { main.replaceChildren(...[await render()].flat(Infinity).filter(Boolean)); }
  catch (err) { main.replaceChildren(el("h1", {}, "Error"), errorBox(err)); }
  main.setAttribute("aria-busy", "false");
  main.dataset.page = active;
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY_STORE, document.getElementById("key-input").value.trim());
    document.getElementById("key-form").hidden = true;
    route();
  });
  window.addEventListener("hashchange", route);
  route();
});
