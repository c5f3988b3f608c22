// Browser helpers the Leptos pages call (src/app/js.rs): Leaflet maps, Chart.js charts, the live feed.
// Leaflet (`L`) and Chart.js (`Chart`) are classic scripts from npm, loaded by the page's <head>.
// Text from the data goes into the page through textContent only, never as HTML.

const charts = new Map();

// Retries until the element exists: effects may run a frame before their view is in the document.
function whenElement(id, draw, attempts = 60) {
  const element = document.getElementById(id);
  if (element) {
    draw(element);
  } else if (attempts > 0) {
    requestAnimationFrame(() => whenElement(id, draw, attempts - 1));
  }
}

export function renderChart(canvasId, configJson) {
  whenElement(canvasId, (canvas) => {
    charts.get(canvasId)?.destroy();
    const config = JSON.parse(configJson);
    config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
    charts.set(canvasId, new Chart(canvas, config));
  });
}

// The base layer the server's configuration names (`MapTiles` as JSON): none when its URL is empty (offline
// sites). The attribution is the operator's HTML (tile servers require a credit), not data.
function addTiles(map, tilesJson) {
  const tiles = JSON.parse(tilesJson || "{}");
  if (tiles.url) L.tileLayer(tiles.url, { maxZoom: 19, attribution: tiles.attribution ?? "" }).addTo(map);
}

function baseMap(element, tilesJson) {
  // Canvas rendering: thousands of circle markers stay cheap.
  const map = L.map(element, { preferCanvas: true, zoomControl: true }).setView([37.98, 23.73], 12);
  addTiles(map, tilesJson);
  element.dataset.ready = "true";
  return map;
}

function row(container, label, value) {
  const line = document.createElement("p");
  const name = document.createElement("strong");
  name.textContent = `${label}: `;
  line.append(name, document.createTextNode(value));
  container.append(line);
}

const EARTH_RADIUS_KM = 6371.0088;
function haversineKm(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 +
    Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(a));
}

function distanceText(km, units) {
  return units === "mi" ? `${(km / 1.609344).toFixed(2)} mi` : `${km.toFixed(2)} km`;
}

function speedText(kmh, units) {
  if (kmh == null) return "—";
  return units === "mi" ? `${(kmh / 1.609344).toFixed(0)} mph` : `${kmh.toFixed(0)} km/h`;
}

// ---- live map -------------------------------------------------------------------------------------------

const live = { map: null, markers: new Map(), positions: new Map(), pending: new Map(), filter: "", selected: null,
  route: null, units: "km", frame: 0, framed: false, following: false, settledAt: 0 };

const STATUS_COLOURS = { started: "#2b7bb9", en_route: "#2e9d4f", stale: "#999999" };
const ALERT_COLOUR = "#d62728";
const ROUTE_COLOUR = "#7a4cc2";

export function startLiveMap(elementId, tilesJson, units) {
  whenElement(elementId, (element) => {
    if (live.map) return;
    live.units = units;
    live.map = baseMap(element, tilesJson);
    addLegend(live.map);
    startMapTools();
    // Where a vehicle's marker is, for browser tests and the console (markers are drawn on a canvas).
    window.packetpulseLiveMap = {
      markerPosition: (sessionId) => {
        const position = live.markers.get(sessionId)?.getLatLng();
        return position ? [position.lat, position.lng] : null;
      },
      // What a click on the vehicle does.
      select,
      // The map's centre, to check what a click on a board row focused.
      center: () => {
        const centre = live.map.getCenter();
        return [centre.lat, centre.lng];
      },
      // Whether a vehicle's marker is within the map's view.
      inView: (sessionId) => {
        const marker = live.markers.get(sessionId);
        return Boolean(marker) && live.map.getBounds().contains(marker.getLatLng());
      },
      // What a drag does to the view (Leaflet's own drag handler is mouse-driven).
      panBy: (x, y) => {
        live.map.fire("dragstart");
        live.map.panBy([x, y], { animate: false });
      },
    };
    connect();
    startBoard();
  });
}

// The live feed: a snapshot, then batches of changes (a fresh snapshot after falling behind). Through
// `subscribe`, so mounting the map again replaces the socket and a dropped one comes back with back-off.
function connect() {
  subscribe("/api/v1/live", (data) => {
    const batch = JSON.parse(data);
    if (batch.type === "snapshot") {
      for (const sessionId of live.positions.keys()) live.pending.set(sessionId, null);
    }
    for (const position of batch.positions) live.pending.set(position.session_id, position);
    // However many batches arrive, the markers move once per animation frame.
    if (!live.frame) live.frame = requestAnimationFrame(applyPending);
  });
}

// Positions applied per animation frame at most: a batch of 10,000 (a 10k fleet's second) spreads over a few
// frames instead of holding the main thread for one long one, so the map keeps panning and zooming smoothly.
const POSITIONS_PER_FRAME = 2500;

function applyPending() {
  live.frame = 0;
  const started = performance.now();
  let applied = 0;
  // Oldest first: a vehicle updated again keeps its place in the queue, so none waits more than a few frames.
  for (const [sessionId, position] of live.pending) {
    if (applied === POSITIONS_PER_FRAME) break;
    live.pending.delete(sessionId);
    applied += 1;
    applyPosition(sessionId, position);
  }
  if (live.pending.size > 0) live.frame = requestAnimationFrame(applyPending);
  // Also now and then while positions keep coming faster than the frames take them (a busy machine), so the
  // counts and the followed vehicle never freeze.
  if (live.pending.size === 0 || (live.framed && started - live.settledAt > 1000)) {
    live.settledAt = started;
    afterBatch();
  }
  // How long the slice took to apply, for tests and the curious (dev tools).
  live.map.getContainer().dataset.lastBatch = `${applied} positions in ${(performance.now() - started).toFixed(1)} ms`;
}

function applyPosition(sessionId, position) {
  if (position === null || position.status === "completed" || position.status === "abandoned") {
    live.positions.delete(sessionId);
    board.starts.delete(sessionId);
    live.markers.get(sessionId)?.remove();
    live.markers.delete(sessionId);
    return;
  }
  live.positions.set(sessionId, position);
  noteStart(position);
  let marker = live.markers.get(sessionId);
  if (!marker) {
    marker = L.circleMarker([position.lat, position.lon], { radius: 6, weight: 1, fillOpacity: 0.9 });
    marker.on("click", () => select(sessionId));
    live.markers.set(sessionId, marker);
  } else {
    marker.setLatLng([position.lat, position.lon]);
  }
  styleMarker(marker, position);
  showIfMatching(marker, position);
}

// Once every pending position is on the map (or a second since the last time): framing, counts, following and
// the selected delivery's details.
function afterBatch() {
  // The first vehicles seen are framed; afterwards the user's view is left alone.
  if (!live.framed && live.positions.size > 0) {
    live.framed = true;
    const bounds = L.latLngBounds([...live.positions.values()].map((position) => [position.lat, position.lon]));
    live.map.fitBounds(bounds, { padding: [40, 40], maxZoom: 14 });
  }
  updateCounts();
  if (live.following) {
    if (live.positions.has(live.selected)) panToSelected();
    else setFollowing(false); // its delivery completed
  }
  // Nothing to follow once the selected delivery is gone.
  const follow = document.getElementById("live-follow");
  if (follow) follow.disabled = !live.positions.has(live.selected);
  if (live.selected) showDetails(live.selected);
}

// A vehicle with an open alert gets a thick red ring around its status colour.
// Restyled only when the status or the alert changes: a style change redraws the marker, and most positions
// change neither.
function styleMarker(marker, position) {
  const alerted = alerts.vehicles.has(position.vehicle_id);
  const style = `${position.status}/${alerted}`;
  if (marker.packetpulseStyle === style) return;
  marker.packetpulseStyle = style;
  const colour = STATUS_COLOURS[position.status] ?? "#555";
  marker.setStyle({ color: alerted ? ALERT_COLOUR : colour, weight: alerted ? 4 : 1, fillColor: colour });
}

function updateCounts() {
  let visible = 0;
  for (const marker of live.markers.values()) if (live.map.hasLayer(marker)) visible += 1;
  const count = document.getElementById("live-count");
  if (count) count.textContent = `${visible} of ${live.positions.size} vehicles shown`;
  const element = live.map.getContainer();
  element.dataset.vehicles = String(live.positions.size);
  element.dataset.visible = String(visible);
}

function showIfMatching(marker, position) {
  const visible = !live.filter || position.status === live.filter;
  if (visible && !live.map.hasLayer(marker)) marker.addTo(live.map);
  if (!visible && live.map.hasLayer(marker)) marker.remove();
}

export function setLiveFilter(status) {
  live.filter = status;
  for (const [sessionId, marker] of live.markers) showIfMatching(marker, live.positions.get(sessionId));
  updateCounts();
  renderBoard();
}

function select(sessionId) {
  if (live.selected !== sessionId) setFollowing(false);
  live.selected = sessionId;
  const follow = document.getElementById("live-follow");
  if (follow) follow.disabled = !live.positions.has(sessionId);
  showDetails(sessionId);
  live.route?.remove();
  live.route = null;
  fetch(`/api/v1/sessions/${encodeURIComponent(sessionId)}`)
    .then((response) => (response.ok ? response.json() : null))
    .then((detail) => {
      if (!detail || live.selected !== sessionId) return;
      live.route = L.layerGroup([
        L.polyline(detail.track.map((point) => [point.lat, point.lon]), { color: ROUTE_COLOUR, weight: 3 }),
        L.marker(detail.pickup, { title: "Pickup" }),
        L.marker(detail.dropoff, { title: "Drop-off" }),
      ]).addTo(live.map);
    });
}

function showDetails(sessionId) {
  const panel = document.getElementById("live-details");
  const position = live.positions.get(sessionId);
  if (!panel) return;
  panel.replaceChildren();
  if (!position) {
    row(panel, "Session", `${sessionId} (completed)`);
    return;
  }
  const remaining = remainingKm(position);
  const eta = durationText(etaSeconds(position, remaining));
  row(panel, "Vehicle", position.vehicle_id);
  row(panel, "Session", position.session_id);
  row(panel, "Order", position.order_id);
  row(panel, "Status", position.status.replace("_", " "));
  row(panel, "Speed", speedText(position.speed_kmh, live.units));
  row(panel, "Heading", position.heading_deg == null ? "—" : `${Math.round(position.heading_deg)}°`);
  row(panel, "Distance remaining", distanceText(remaining, live.units));
  row(panel, "ETA", eta);
  row(panel, "Last update", new Date(position.event_time_ms).toISOString());
  panel.dataset.session = sessionId;
}

function remainingKm(position) {
  return haversineKm(position.lat, position.lon, position.end_lat, position.end_lon);
}

// At the vehicle's last reported speed; unknown while it stands still.
function etaSeconds(position, remaining) {
  return position.speed_kmh > 0 ? (remaining / position.speed_kmh) * 3600 : null;
}

function durationText(seconds) {
  if (seconds == null) return "—";
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

// ---- map tools: legend, find, follow, re-centre -------------------------------------------------------------

// What the markers' colours and shapes mean, in the map's corner (built from the same constants as the markers).
function addLegend(map) {
  const legend = L.control({ position: "bottomleft" });
  legend.onAdd = () => {
    const box = L.DomUtil.create("div", "map-legend");
    box.id = "live-legend";
    const list = document.createElement("ul");
    list.setAttribute("aria-label", "Map legend");
    const item = (shape, style, text) => {
      const entry = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `swatch ${shape}`;
      swatch.setAttribute("aria-hidden", "true");
      Object.assign(swatch.style, style);
      entry.append(swatch, document.createTextNode(text));
      list.append(entry);
    };
    item("dot", { background: STATUS_COLOURS.started }, "Started");
    item("dot", { background: STATUS_COLOURS.en_route }, "En route");
    item("dot", { borderColor: ALERT_COLOUR }, "Open alert (red ring)");
    item("line", { background: ROUTE_COLOUR }, "Selected delivery's route");
    item("pin", {}, "Its pickup and drop-off");
    box.append(list);
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  legend.addTo(map);
}

// The toolbar's find box, follow and re-centre buttons (src/app/live.rs draws them).
function startMapTools() {
  const find = document.getElementById("map-find");
  find?.addEventListener("submit", (event) => {
    event.preventDefault();
    findOnMap(find.querySelector("input")?.value ?? "");
  });
  document.getElementById("live-follow")?.addEventListener("click", () => setFollowing(!live.following));
  document.getElementById("live-recentre")?.addEventListener("click", recentre);
  // Dragging the map, or panning it with the arrow keys, is the dispatcher looking elsewhere: following stops
  // (zooming keeps it).
  live.map.on("dragstart", () => setFollowing(false));
  live.map.getContainer().addEventListener("keydown", (event) => {
    if (event.key.startsWith("Arrow")) setFollowing(false);
  });
}

// Focuses the delivery under way whose vehicle, session or order id is `text` (exactly, else containing it;
// the first by vehicle id of several), and says what it found.
function findOnMap(text) {
  const query = text.trim().toLowerCase();
  const status = document.getElementById("map-find-status");
  const say = (message) => {
    if (status) status.textContent = message;
  };
  if (!query) return say("");
  const ids = (position) => [position.vehicle_id, position.session_id, position.order_id].map((id) => id.toLowerCase());
  const positions = [...live.positions.values()];
  const exact = positions.filter((position) => ids(position).includes(query));
  const matches = exact.length ? exact : positions.filter((position) => ids(position).some((id) => id.includes(query)));
  if (!matches.length) return say(`No delivery under way matches "${text.trim()}".`);
  matches.sort((a, b) => collator.compare(a.vehicle_id, b.vehicle_id) || collator.compare(a.session_id, b.session_id));
  const found = matches[0];
  // A status filter hiding it would make the find look broken: show every vehicle again.
  if (live.filter && found.status !== live.filter) {
    const filter = document.getElementById("live-filter");
    if (filter) filter.value = "";
    setLiveFilter("");
  }
  focusVehicle(found.session_id);
  say(matches.length === 1 ? `Showing ${found.vehicle_id}.` : `Showing ${found.vehicle_id}, the first of ${matches.length} matches.`);
}

// Following keeps the selected vehicle in the middle of the map as it moves.
function setFollowing(on) {
  live.following = Boolean(on) && live.positions.has(live.selected);
  const button = document.getElementById("live-follow");
  if (button) button.setAttribute("aria-pressed", String(live.following));
  live.map?.getContainer().setAttribute("data-following", String(live.following));
  if (live.following) panToSelected();
}

function panToSelected() {
  const marker = live.markers.get(live.selected);
  if (marker) live.map.panTo(marker.getLatLng(), { animate: false });
}

// Every vehicle shown, in view.
function recentre() {
  setFollowing(false);
  const shown = [...live.markers.values()].filter((marker) => live.map.hasLayer(marker));
  if (!shown.length) return;
  live.map.fitBounds(L.latLngBounds(shown.map((marker) => marker.getLatLng())), { padding: [40, 40], maxZoom: 14 });
}

// ---- active deliveries board ------------------------------------------------------------------------------
// Every vehicle the live map holds, as a table under it: sortable by any column, searchable by vehicle, session
// or order id, redrawn every second (ages move) and on each sort or search. At most BOARD_ROWS rows are drawn so
// 10k vehicles stay cheap; the search narrows the rest. A row's click (or its vehicle button, from the keyboard)
// focuses its vehicle on the map.

const BOARD_ROWS = 200;
// Same thresholds as the overview's freshness lights.
const FRESH_SECONDS = 60;
const STALE_SECONDS = 600;
const board = { sort: "vehicle_id", descending: false, search: "", starts: new Map(), timer: 0, typing: 0 };
const collator = new Intl.Collator(undefined, { numeric: true });

function startBoard() {
  const table = document.getElementById("live-board");
  if (!table || board.timer) return;
  for (const header of table.querySelectorAll("th[data-sort]")) {
    header.querySelector("button")?.addEventListener("click", () => sortBoard(header.dataset.sort));
  }
  document.getElementById("board-search")?.addEventListener("input", (event) => {
    board.search = event.target.value.trim().toLowerCase();
    // Typing filters 10k rows once it pauses, not on every key.
    clearTimeout(board.typing);
    board.typing = setTimeout(renderBoard, 150);
  });
  // A row's click anywhere, or its vehicle button (keyboard), focuses the vehicle.
  table.tBodies[0].addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-session]");
    if (row) focusVehicle(row.dataset.session);
  });
  // When sessions under way started (the live feed only knows it for those it saw start).
  fetch("/api/v1/active-sessions?limit=100000")
    .then((response) => (response.ok ? response.json() : []))
    .then((sessions) => {
      for (const session of sessions) {
        if (!board.starts.has(session.session_id)) {
          board.starts.set(session.session_id, session.started_at_ms);
        }
      }
      renderBoard();
    })
    .catch(() => {});
  board.timer = setInterval(renderBoard, 1000);
  renderBoard();
}

// A `started` event is the session's start (the earliest one seen, as events may come out of order).
function noteStart(position) {
  if (position.status !== "started") return;
  const known = board.starts.get(position.session_id);
  if (known == null || position.event_time_ms < known) board.starts.set(position.session_id, position.event_time_ms);
}

function sortBoard(key) {
  board.descending = board.sort === key ? !board.descending : false;
  board.sort = key;
  renderBoard();
}

function boardRows(now) {
  const rows = [];
  for (const position of live.positions.values()) {
    if (live.filter && position.status !== live.filter) continue;
    if (board.search && ![position.vehicle_id, position.session_id, position.order_id]
      .some((id) => id.toLowerCase().includes(board.search))) continue;
    const remaining = remainingKm(position);
    const started = board.starts.get(position.session_id);
    rows.push({
      position,
      vehicle_id: position.vehicle_id,
      status: position.status,
      remaining,
      eta: etaSeconds(position, remaining),
      elapsed: started == null ? null : (now - started) / 1000,
      age: Math.max(0, (now - position.event_time_ms) / 1000),
    });
  }
  const direction = board.descending ? -1 : 1;
  rows.sort((a, b) => {
    const x = a[board.sort];
    const y = b[board.sort];
    // Unknown values (no ETA while standing, no start seen) go last either way.
    if (x == null || y == null) return x == null ? (y == null ? 0 : 1) : -1;
    const order = typeof x === "string" ? collator.compare(x, y) : x - y;
    return order * direction || collator.compare(a.position.session_id, b.position.session_id);
  });
  return rows;
}

function staleness(ageSeconds) {
  if (ageSeconds <= FRESH_SECONDS) return "green";
  return ageSeconds <= STALE_SECONDS ? "amber" : "red";
}

function renderBoard() {
  const table = document.getElementById("live-board");
  if (!table) {
    clearInterval(board.timer);
    board.timer = 0;
    return;
  }
  for (const header of table.querySelectorAll("th[data-sort]")) {
    const sorted = header.dataset.sort === board.sort;
    header.setAttribute("aria-sort", sorted ? (board.descending ? "descending" : "ascending") : "none");
  }
  // Nobody sees a hidden tab's board: it is drawn again when the tab shows (the next tick).
  if (document.hidden) return;
  const rows = boardRows(Date.now());
  const body = table.tBodies[0];
  // Redrawn every second: give the keyboard its place back, without scrolling the page to it.
  const focused = document.activeElement?.closest?.("#live-board tr[data-session]")?.dataset.session;
  body.replaceChildren(...rows.slice(0, BOARD_ROWS).map(boardRow));
  if (focused) {
    body.querySelector(`tr[data-session="${CSS.escape(focused)}"] button`)?.focus({ preventScroll: true });
  }
  table.dataset.rows = String(rows.length);
  const count = document.getElementById("board-count");
  const text = rows.length > BOARD_ROWS
    ? `${rows.length} deliveries, first ${BOARD_ROWS} shown: search to narrow`
    : `${rows.length} of ${live.positions.size} deliveries`;
  // A live region: announced only when it says something new.
  if (count && count.textContent !== text) count.textContent = text;
}

function boardRow(row) {
  const line = document.createElement("tr");
  line.dataset.session = row.position.session_id;
  if (row.position.session_id === live.selected) line.setAttribute("aria-current", "true");
  const cell = (text) => {
    const td = document.createElement("td");
    td.textContent = text;
    line.append(td);
    return td;
  };
  // The vehicle is a button: one tab stop per row, announced as something to press.
  const vehicle = document.createElement("button");
  vehicle.type = "button";
  vehicle.className = "link";
  vehicle.textContent = row.vehicle_id;
  vehicle.title = `Show on the map: session ${row.position.session_id}, order ${row.position.order_id}`;
  cell("").append(vehicle);
  const status = document.createElement("span");
  status.className = `badge status-${row.status}`;
  status.textContent = row.status.replace("_", " ");
  cell("").append(status);
  cell(distanceText(row.remaining, live.units));
  cell(durationText(row.eta));
  cell(durationText(row.elapsed));
  const age = cell(`${durationText(row.age)} ago`);
  const light = staleness(row.age);
  age.className = `light ${light}`;
  line.dataset.staleness = light;
  return line;
}

function focusVehicle(sessionId) {
  const marker = live.markers.get(sessionId);
  if (marker) live.map.setView(marker.getLatLng(), Math.max(live.map.getZoom(), 15));
  select(sessionId);
  renderBoard();
}

// ---- session track and replay -------------------------------------------------------------------------

const replay = { marker: null, track: [], timer: 0 };

export function showTrack(elementId, detailJson, tilesJson) {
  whenElement(elementId, (element) => {
    const detail = JSON.parse(detailJson);
    const map = baseMap(element, tilesJson);
    const points = detail.track.map((point) => [point.lat, point.lon]);
    const line = L.polyline(points.length ? points : [detail.pickup, detail.dropoff], { color: ROUTE_COLOUR, weight: 4 }).addTo(map);
    L.marker(detail.pickup, { title: "Pickup" }).addTo(map);
    L.marker(detail.dropoff, { title: "Drop-off" }).addTo(map);
    map.fitBounds(line.getBounds().extend(detail.pickup).extend(detail.dropoff), { padding: [20, 20] });
    replay.track = detail.track;
    replay.marker = L.circleMarker(points[0] ?? detail.pickup, { radius: 8, color: "#d9480f", fillOpacity: 1 }).addTo(map);
    replayTo(0);
  });
}

export function replayTo(index) {
  const point = replay.track[index];
  if (!point || !replay.marker) return;
  replay.marker.setLatLng([point.lat, point.lon]);
  const element = document.getElementById("track-map");
  if (element) {
    element.dataset.replayIndex = String(index);
    element.dataset.replayPosition = `${point.lat.toFixed(6)},${point.lon.toFixed(6)}`;
  }
  const time = document.getElementById("replay-time");
  if (time) time.textContent = `${new Date(point.event_time_ms).toISOString()} · ${point.status.replace("_", " ")}`;
}

export function replayPlay(sliderId) {
  const slider = document.getElementById(sliderId);
  if (!slider || replay.timer) return;
  if (Number(slider.value) >= replay.track.length - 1) slider.value = "0";
  replay.timer = setInterval(() => {
    const next = Number(slider.value) + 1;
    if (next >= replay.track.length) {
      clearInterval(replay.timer);
      replay.timer = 0;
      return;
    }
    slider.value = String(next);
    replayTo(next);
  }, 50);
}

// ---- public tracking --------------------------------------------------------------------------------

// The tracking map of the current element: drawn once, then only its vehicle moves (the customer's zoom stays).
let trackingMap = null;

export function showTracking(elementId, trackingJson, tilesJson) {
  whenElement(elementId, (element) => {
    const tracking = JSON.parse(trackingJson);
    if (trackingMap?.element === element) {
      trackingMap.vehicle.setLatLng(tracking.position);
      trackingMap.destination.setLatLng(tracking.destination);
      return;
    }
    const map = baseMap(element, tilesJson);
    const vehicle = L.circleMarker(tracking.position, { radius: 8, color: "#d9480f", fillOpacity: 1 }).addTo(map);
    const destination = L.marker(tracking.destination, { title: "Your address" }).addTo(map);
    map.fitBounds(L.latLngBounds([vehicle.getLatLng(), destination.getLatLng()]), { padding: [30, 30], maxZoom: 16 });
    trackingMap = { element, vehicle, destination };
  });
}

// ---- alerts ----------------------------------------------------------------------------------------------

const alerts = { open: 0, vehicles: new Map(), started: false };

/** Opens the alerts WebSocket (once per page): the counter, a toast per new alert, marked vehicles. */
export function startAlerts() {
  if (alerts.started) return;
  alerts.started = true;
  connectAlerts();
}

function connectAlerts() {
  subscribe("/api/v1/alerts/live", (data) => {
    const event = JSON.parse(data);
    if (event.type === "open") {
      alerts.open = event.count;
    } else if (event.type === "alert") {
      alerts.open += 1;
      toast(event.alert);
      markVehicle(event.alert.vehicle_id, event.alert.alert_id);
      document.dispatchEvent(new CustomEvent("packetpulse:alert", { detail: event.alert }));
    } else if (event.type === "acknowledged") {
      alerts.open = Math.max(0, alerts.open - 1);
      for (const [vehicle, ids] of alerts.vehicles) {
        ids.delete(event.alert_id);
        if (ids.size === 0) {
          alerts.vehicles.delete(vehicle);
          restyleVehicle(vehicle);
        }
      }
    }
    showCount();
  });
}

function showCount() {
  const badge = document.getElementById("alert-count");
  if (!badge) return;
  badge.textContent = String(alerts.open);
  badge.classList.toggle("hot", alerts.open > 0);
}

function toast(alert) {
  const container = document.getElementById("toasts");
  if (!container) return;
  const item = document.createElement("div");
  item.className = `toast toast-${alert.kind}`;
  item.dataset.alert = alert.alert_id;
  item.setAttribute("role", "status");
  const title = document.createElement("strong");
  title.textContent = alert.kind.replace("_", " ");
  const text = document.createElement("span");
  text.textContent = ` ${alert.message}`;
  item.append(title, text);
  item.addEventListener("click", () => item.remove());
  container.prepend(item);
  // A handful at a time: the alerts page has the rest.
  while (container.children.length > 5) container.lastElementChild.remove();
  setTimeout(() => item.remove(), 10000);
}

function markVehicle(vehicleId, alertId) {
  if (!alerts.vehicles.has(vehicleId)) alerts.vehicles.set(vehicleId, new Set());
  alerts.vehicles.get(vehicleId).add(alertId);
  restyleVehicle(vehicleId);
}

function restyleVehicle(vehicleId) {
  if (!live.map) return;
  for (const [sessionId, position] of live.positions) {
    if (position.vehicle_id === vehicleId) styleMarker(live.markers.get(sessionId), position);
  }
}

// ---- geofence editor -------------------------------------------------------------------------------------

const fences = { map: null, layers: new Map(), canEdit: false };

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

function loadStyle(href) {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.append(link);
}

function fenceStatus(text) {
  const status = document.getElementById("geofence-status");
  if (status) status.textContent = text;
}

/** The geofence map: every geofence from the API; for dispatchers, leaflet-geoman's drawing tools. */
export function startGeofenceEditor(elementId, tilesJson, canEdit) {
  whenElement(elementId, async (element) => {
    if (fences.map) return;
    fences.canEdit = canEdit;
    if (canEdit) {
      // Before the map exists: leaflet-geoman equips the maps created after it loads.
      loadStyle("/vendor/leaflet-geoman/leaflet-geoman.css");
      await loadScript("/vendor/leaflet-geoman/leaflet-geoman.min.js");
    }
    if (fences.map) return;
    // SVG, not canvas: the drawing tools need to grab the shapes' edges.
    fences.map = L.map(element, { zoomControl: true }).setView([37.98, 23.73], 12);
    addTiles(fences.map, tilesJson);
    if (canEdit) {
      fences.map.pm.addControls({
        position: "topleft", drawCircle: true, drawPolygon: true, drawMarker: false, drawCircleMarker: false,
        drawPolyline: false, drawRectangle: true, drawText: false, cutPolygon: false, rotateMode: false,
      });
      fences.map.on("pm:create", (event) => saveNew(event.layer));
      // leaflet-geoman titles the buttons' wrappers only: name the buttons themselves for screen readers.
      for (const button of element.querySelectorAll(".leaflet-buttons-control-button")) {
        const title = button.closest("[title]")?.getAttribute("title");
        if (title && !button.hasAttribute("aria-label")) button.setAttribute("aria-label", title);
      }
    }
    // What a test (or the console) can do without a mouse: the same path a drawn shape takes.
    window.packetpulseGeofences = {
      created: (layer) => fences.map.fire("pm:create", { layer }),
      count: () => fences.layers.size,
    };
    await reloadFences();
    element.dataset.ready = "true";
  });
}

async function reloadFences() {
  const response = await fetch("/api/v1/geofences");
  if (!response.ok) {
    fenceStatus(`Geofences could not be loaded: ${(await response.json()).error ?? response.status}`);
    return;
  }
  const collection = await response.json();
  for (const layer of fences.layers.values()) layer.remove();
  fences.layers.clear();
  for (const feature of collection.features) addFence(feature);
  listFences();
  if (fences.layers.size > 0) {
    const group = L.featureGroup([...fences.layers.values()]);
    fences.map.fitBounds(group.getBounds(), { padding: [40, 40], maxZoom: 15 });
  }
}

function addFence(feature) {
  const [lon, lat] = feature.geometry.type === "Point" ? feature.geometry.coordinates : [0, 0];
  const layer = feature.geometry.type === "Point"
    ? L.circle([lat, lon], { radius: feature.properties.radius_m })
    : L.polygon(feature.geometry.coordinates[0].slice(0, -1).map(([x, y]) => [y, x]));
  layer.feature = feature;
  layer.bindTooltip(feature.properties.name);
  layer.addTo(fences.map);
  if (fences.canEdit) {
    layer.on("pm:edit", () => save(feature.id, feature.properties, layer));
    layer.on("pm:remove", () => remove(feature.id));
  }
  fences.layers.set(feature.id, layer);
}

function listFences() {
  const list = document.getElementById("geofence-list");
  if (!list) return;
  list.replaceChildren();
  for (const [id, layer] of fences.layers) {
    const item = document.createElement("li");
    item.dataset.geofence = id;
    const vehicles = layer.feature.properties.vehicles;
    item.textContent = `${layer.feature.properties.name} — ${vehicles ? vehicles.join(", ") : "all vehicles"}`;
    item.addEventListener("click", () => fences.map.fitBounds(layer.getBounds(), { maxZoom: 16 }));
    list.append(item);
  }
  fences.map.getContainer().dataset.geofences = String(fences.layers.size);
}

function geometryOf(layer) {
  if (layer instanceof L.Circle) {
    const centre = layer.getLatLng();
    return [{ type: "Point", coordinates: [centre.lng, centre.lat] }, layer.getRadius()];
  }
  const ring = layer.getLatLngs()[0].map((point) => [point.lng, point.lat]);
  ring.push(ring[0]);
  return [{ type: "Polygon", coordinates: [ring] }, null];
}

async function saveNew(layer) {
  const name = document.getElementById("geofence-name")?.value.trim() || "Geofence";
  const vehicleText = document.getElementById("geofence-vehicles")?.value ?? "";
  const vehicles = vehicleText.split(",").map((vehicle) => vehicle.trim()).filter((vehicle) => vehicle);
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "geofence";
  const id = `${slug}-${Math.random().toString(36).slice(2, 8)}`;
  layer.remove();
  await save(id, { name, vehicles: vehicles.length > 0 ? vehicles : null }, layer);
}

async function save(id, properties, layer) {
  const [geometry, radius] = geometryOf(layer);
  const body = { type: "Feature", geometry, properties: { ...properties } };
  if (radius !== null) body.properties.radius_m = radius;
  else delete body.properties.radius_m;
  const response = await fetch(`/api/v1/geofences/${encodeURIComponent(id)}`, {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  fenceStatus(response.ok ? `Saved “${properties.name}”.` : `Not saved: ${(await response.json()).error}`);
  await reloadFences();
}

async function remove(id) {
  const response = await fetch(`/api/v1/geofences/${encodeURIComponent(id)}`, { method: "DELETE" });
  fenceStatus(response.ok ? "Deleted." : `Not deleted: ${(await response.json()).error}`);
  await reloadFences();
}

// A page's push feed: the WebSocket at `path`, each message's text to `onMessage`, until `unsubscribe` (the page
// was left; Leptos navigates without reloading). A dropped socket is reopened after 2 s, backing off to a minute
// while it cannot be opened at all (a refused upgrade: 404, 410, 429); a normal close (1000: the server has no
// more to say, e.g. an expired tracking link) ends it.
const subscriptions = new Map();

export function subscribe(path, onMessage) {
  unsubscribe(path);
  const subscription = { socket: null, closed: false, failures: 0 };
  subscriptions.set(path, subscription);
  const open = () => {
    if (subscription.closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${path}`);
    subscription.socket = socket;
    socket.onopen = () => {
      subscription.failures = 0;
    };
    socket.onmessage = (message) => onMessage(message.data);
    socket.onclose = (event) => {
      subscription.socket = null;
      if (subscription.closed || event.code === 1000) return;
      subscription.failures += 1;
      setTimeout(open, Math.min(2000 * 2 ** (subscription.failures - 1), 60000));
    };
  };
  open();
}

// Ends every subscription whose path starts with `prefix`.
export function unsubscribe(prefix) {
  for (const [path, subscription] of subscriptions) {
    if (!path.startsWith(prefix)) continue;
    subscription.closed = true;
    subscription.socket?.close();
    subscriptions.delete(path);
  }
}
