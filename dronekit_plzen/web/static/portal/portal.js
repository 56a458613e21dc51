// dronekit-plzen portal: the request form's map (draw a point or an area) and the request
// page's live map (area, last known position, flown tracks, drones now, POA). No inline
// scripts: the page passes its settings in the map element's data-config attribute.
(function () {
  "use strict";
  var el = document.getElementById("map");
  var category = document.getElementById("category");
  var sar = document.getElementById("sar-fields");
  function showSar() {
    if (category && sar) { sar.style.display = category.value === "sar" ? "" : "none"; }
  }
  if (category) { category.addEventListener("change", showSar); showSar(); }
  if (!el) { return; }
  function text(value) {  // an element showing value as text (never parsed as HTML)
    var span = document.createElement("span");
    span.textContent = String(value);
    return span;
  }
  var cfg = JSON.parse(el.getAttribute("data-config"));
  if (typeof L === "undefined") { el.classList.add("nomap"); return; }
  var map = L.map(el).setView(cfg.center, cfg.zoom);
  var bases = {};
  cfg.layers.forEach(function (l, i) {
    var layer = L.tileLayer(l.url, { maxZoom: l.max_zoom, attribution: l.attribution });
    bases[l.name] = layer;
    if (i === 0) { layer.addTo(map); }
  });
  if (Object.keys(bases).length > 1) { L.control.layers(bases).addTo(map); }
  window.dkpMap = map;
  if (el.getAttribute("data-mode") === "edit") { edit(map); } else { view(map, cfg); }

  function edit(map) {
    var input = document.getElementById("geometry");
    var help = document.getElementById("draw-help");
    var mode = "point";
    var drawn = L.layerGroup().addTo(map);
    var corners = [];
    function redraw() {
      drawn.clearLayers();
      if (mode === "point" && corners.length) {
        L.marker(corners[0]).addTo(drawn);
        input.value = JSON.stringify({ type: "Point", coordinates: [corners[0][1], corners[0][0]] });
      } else if (mode === "area" && corners.length) {
        if (corners.length >= 3) {
          L.polygon(corners, { className: "dkp-area" }).addTo(drawn);
          var ring = corners.map(function (c) { return [c[1], c[0]]; });
          ring.push(ring[0]);
          input.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
        } else {
          L.polyline(corners, { className: "dkp-area" }).addTo(drawn);
          input.value = "";
        }
        corners.forEach(function (c) { L.circleMarker(c, { radius: 4 }).addTo(drawn); });
      } else {
        input.value = "";
      }
      el.setAttribute("data-corners", String(corners.length));
    }
    function setMode(m) {
      mode = m; corners = []; redraw();
      help.textContent = help.getAttribute("data-" + m);
    }
    document.getElementById("draw-point").addEventListener("click", function () { setMode("point"); });
    document.getElementById("draw-area").addEventListener("click", function () { setMode("area"); });
    document.getElementById("draw-clear").addEventListener("click", function () { setMode(mode); });
    map.on("click", function (e) {
      var c = [e.latlng.lat, e.latlng.lng];
      if (mode === "point") { corners = [c]; } else { corners.push(c); }
      redraw();
    });
    if (input.value) {  // the form came back with errors: show what was drawn
      try {
        var g = JSON.parse(input.value);
        if (g.type === "Point") { mode = "point"; corners = [[g.coordinates[1], g.coordinates[0]]]; }
        if (g.type === "Polygon") {
          mode = "area";
          corners = g.coordinates[0].slice(0, -1).map(function (p) { return [p[1], p[0]]; });
        }
        redraw();
        map.fitBounds(L.latLngBounds(corners).pad(0.5));
      } catch (err) { input.value = ""; }
    }
  }

  function view(map, cfg) {
    var layers = L.layerGroup().addTo(map);
    var badge = document.getElementById("state");
    var status = document.getElementById("live-status");
    var fitted = false;
    var finals = { completed: 1, cancelled: 1, refused: 1 };
    function draw(d) {
      layers.clearLayers();
      var bounds = L.latLngBounds([[d.point[1], d.point[0]]]);
      if (d.orthophoto) {
        L.imageOverlay(d.orthophoto.url, d.orthophoto.bounds, { className: "dkp-ortho", opacity: 0.9 }).addTo(layers);
        bounds.extend(d.orthophoto.bounds);
      }
      if (d.poa) {
        var poa = L.geoJSON(d.poa, {
          style: function (f) {
            var pr = f.properties || {};
            // relative to the most probable cell (web attach); older maps: the raw share
            var rel = pr.rel !== undefined ? pr.rel : Math.min(1, 4 * (pr.poa || 0));
            return { className: "dkp-poa", weight: 0, fillColor: "#c00", fillOpacity: 0.05 + 0.6 * rel };
          },
          onEachFeature: function (f, layer) {
            if (f.properties && f.properties.poa !== undefined) {
              layer.bindTooltip((100 * f.properties.poa).toFixed(2) + " %");
            }
          }
        }).addTo(layers);
        bounds.extend(poa.getBounds());
      }
      if (d.area) {
        var area = L.geoJSON(d.area, { style: { className: "dkp-area", fill: false } }).addTo(layers);
        bounds.extend(area.getBounds());
      } else {
        L.marker([d.point[1], d.point[0]]).addTo(layers);
      }
      if (d.lkp) {
        L.circleMarker([d.lkp[1], d.lkp[0]], { className: "dkp-lkp", radius: 7 }).addTo(layers).bindTooltip(el.getAttribute("data-lkp") || "LKP");
      }
      var live = 0, pts = 0;
      d.tracks.forEach(function (tr) {
        var ll = tr.coords.map(function (c) { return [c[1], c[0]]; });
        pts += ll.length;
        if (ll.length > 1) { L.polyline(ll, { className: "dkp-track" }).addTo(layers); bounds.extend(ll); }
        if (tr.last && tr.live) {
          live += 1;
          // a text node, not a string: Leaflet puts a string in as HTML, and a vehicle's name
          // comes from a flight log or the vehicle itself
          L.circleMarker([tr.last.lat, tr.last.lon], { className: "dkp-drone", radius: 8 })
            .addTo(layers).bindTooltip(text(tr.vehicle), { permanent: true });
        }
      });
      badge.textContent = d.state_label;
      badge.className = "badge " + d.state;
      badge.setAttribute("data-state", d.state);
      el.setAttribute("data-tracks", String(d.tracks.length));
      el.setAttribute("data-track-points", String(pts));
      el.setAttribute("data-live", String(live));
      status.textContent = status.getAttribute("data-updated") + " " + new Date().toLocaleTimeString();
      document.querySelectorAll(".poa-legend").forEach(function (n) { n.hidden = !d.poa; });
      document.querySelectorAll(".ortho-legend").forEach(function (n) { n.hidden = !d.orthophoto; });
      if (finals[d.state]) {  // answered meanwhile: the buttons of the open states go away
        document.querySelectorAll(".actions form").forEach(function (f) { f.hidden = true; });
      }
      if (!fitted || pts) { map.fitBounds(bounds.pad(0.3), { maxZoom: 17 }); fitted = true; }
      return d;
    }
    function poll() {
      fetch(cfg.live, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(draw)
        .then(function (d) { if (!finals[d.state]) { setTimeout(poll, d.poll_s * 1000); } })
        .catch(function () { setTimeout(poll, 10000); });
    }
    poll();
  }
})();
