/* phasetrace report: interactive powder patterns on a canvas (no library, no network).
   Wheel: zoom 2θ around the pointer; drag: pan; double click: whole range; hover: values. */
"use strict";
(function () {
  function bytes(b64) {
    const bin = atob(b64);
    const buf = new ArrayBuffer(bin.length);
    const u8 = new Uint8Array(buf);
    for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
    return buf;
  }
  /* an array of the page's data: float32 values (base64), an even axis {x0, step, n}, or a curve as
     16-bit codes of the square root of its height above its minimum {lo, span, q} */
  function f32(v) {
    if (typeof v === "string") return new Float32Array(bytes(v));
    if (v.step !== undefined) {
      const out = new Float32Array(v.n);
      for (let i = 0; i < v.n; i++) out[i] = v.x0 + i * v.step;
      return out;
    }
    const q = new Uint16Array(bytes(v.q)), out = new Float32Array(q.length);
    for (let i = 0; i < q.length; i++) { const r = q[i] / 65535; out[i] = v.lo + r * r * v.span; }
    return out;
  }
  function lowerBound(a, v) {
    let lo = 0, hi = a.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (a[m] < v) lo = m + 1; else hi = m; }
    return lo;
  }
  function niceTicks(lo, hi, n) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map(s => s * mag).find(s => span / s <= n) || 10 * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(+v.toPrecision(10));
    return out;
  }
  function fmt(v) {
    if (!isFinite(v)) return "–";
    const a = Math.abs(v);
    if (Number.isInteger(v)) return String(v);
    return a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(3);
  }

  class PatternPlot {
    load(d) {
      this.d = d;
      this.x = f32(d.x); this.obs = f32(d.observed);
      // a fitted pattern has calculated and background curves; a measured spectrum (Raman) has not
      this.fitted = Boolean(d.calculated);
      this.calc = this.fitted ? f32(d.calculated) : this.obs;
      this.bg = this.fitted ? f32(d.background) : this.obs;
      this.diff = new Float32Array(this.x.length);
      for (let i = 0; i < this.x.length; i++) this.diff[i] = this.obs[i] - this.calc[i];
      this.full = [this.x[0], this.x[this.x.length - 1]];
      this.view = this.full.slice();
      this.hover = null;
      this.draw();
    }
    constructor(root) {
      this.root = root;
      this.sqrt = false;
      this.canvas = root.querySelector("canvas");
      this.readout = root.querySelector(".readout");
      this.hover = null;
      const c = this.canvas;
      c.addEventListener("wheel", e => this.onWheel(e), { passive: false });
      c.addEventListener("mousedown", e => { this.drag = { x: e.clientX, view: this.view.slice() }; });
      window.addEventListener("mouseup", () => { this.drag = null; });
      c.addEventListener("mousemove", e => this.onMove(e));
      c.addEventListener("mouseleave", () => { this.hover = null; this.draw(); });
      c.addEventListener("dblclick", () => this.setView(this.full[0], this.full[1]));
      const sq = root.querySelector("input.sqrt");
      if (sq) sq.addEventListener("change", () => { this.sqrt = sq.checked; this.draw(); });
      const reset = root.querySelector("button.reset");
      if (reset) reset.addEventListener("click", () => this.setView(this.full[0], this.full[1]));
      window.addEventListener("resize", () => { if (this.d) this.draw(); });
    }
    layout() {
      const w = this.canvas.clientWidth || 800, h = this.canvas.clientHeight || 420;
      const nt = Object.keys(this.d.ticks).length;
      const L = 64, R = 12, T = 10, B = 34;
      const diffH = this.fitted ? Math.round(0.2 * h) : 0, tickH = 12 * nt + 4;
      const mainH = h - T - B - diffH - tickH;
      return { w, h, L, R, T, B, mainTop: T, mainH, tickTop: T + mainH, tickH, diffTop: T + mainH + tickH, diffH };
    }
    xToPx(v, g) { return g.L + (v - this.view[0]) / (this.view[1] - this.view[0]) * (g.w - g.L - g.R); }
    pxToX(p, g) { return this.view[0] + (p - g.L) / (g.w - g.L - g.R) * (this.view[1] - this.view[0]); }
    setView(a, b) {
      const span = this.full[1] - this.full[0];
      let lo = Math.max(this.full[0], Math.min(a, b)), hi = Math.min(this.full[1], Math.max(a, b));
      if (hi - lo < span * 1e-3) { const m = (lo + hi) / 2; lo = m - span * 5e-4; hi = m + span * 5e-4; }
      this.view = [lo, hi];
      this.draw();
    }
    onWheel(e) {
      e.preventDefault();
      const g = this.layout(), r = this.canvas.getBoundingClientRect();
      const at = this.pxToX(e.clientX - r.left, g);
      const k = Math.exp((e.deltaY || 0) * 0.0015);
      this.setView(at - (at - this.view[0]) * k, at + (this.view[1] - at) * k);
    }
    onMove(e) {
      const g = this.layout(), r = this.canvas.getBoundingClientRect();
      const px = e.clientX - r.left;
      if (this.drag) {
        const dx = (e.clientX - this.drag.x) / (g.w - g.L - g.R) * (this.drag.view[1] - this.drag.view[0]);
        let lo = this.drag.view[0] - dx, hi = this.drag.view[1] - dx;
        if (lo < this.full[0]) { hi += this.full[0] - lo; lo = this.full[0]; }
        if (hi > this.full[1]) { lo -= hi - this.full[1]; hi = this.full[1]; }
        this.view = [lo, hi];
      }
      this.hover = px >= g.L && px <= g.w - g.R ? this.pxToX(px, g) : null;
      this.draw();
    }
    ty(v) { return this.sqrt ? Math.sign(v) * Math.sqrt(Math.abs(v)) : v; }
    draw() {
      const c = this.canvas, dpr = window.devicePixelRatio || 1, g = this.layout();
      c.width = Math.round(g.w * dpr); c.height = Math.round(g.h * dpr);
      const ctx = c.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, g.w, g.h);
      const i0 = Math.max(0, lowerBound(this.x, this.view[0]) - 1);
      const i1 = Math.min(this.x.length, lowerBound(this.x, this.view[1]) + 1);
      let ymin = Infinity, ymax = -Infinity, dmax = 0;
      for (let i = i0; i < i1; i++) {
        const a = this.ty(this.obs[i]), b = this.ty(this.calc[i]), bb = this.ty(this.bg[i]);
        ymin = Math.min(ymin, a, b, bb); ymax = Math.max(ymax, a, b);
        dmax = Math.max(dmax, Math.abs(this.diff[i]));
      }
      if (!(ymax > ymin)) { ymax = ymin + 1; }
      const pad = 0.04 * (ymax - ymin); ymin -= pad; ymax += pad;
      dmax = dmax || 1;
      const yPx = v => g.mainTop + g.mainH - (this.ty(v) - ymin) / (ymax - ymin) * g.mainH;
      const dPx = v => g.diffTop + g.diffH / 2 - v / (1.1 * dmax) * (g.diffH / 2);
      const right = g.w - g.R;
      ctx.save();
      ctx.beginPath(); ctx.rect(g.L, 0, right - g.L, g.h); ctx.clip();
      const step = Math.max(1, Math.floor((i1 - i0) / ((right - g.L) * 2)));
      const line = (arr, color, width, map) => {
        ctx.beginPath(); ctx.strokeStyle = color; ctx.lineWidth = width;
        for (let i = i0; i < i1; i += step) {
          const X = this.xToPx(this.x[i], g), Y = map(arr[i]);
          if (i === i0) ctx.moveTo(X, Y); else ctx.lineTo(X, Y);
        }
        ctx.stroke();
      };
      if (this.fitted) {
        ctx.fillStyle = "#595959";
        for (let i = i0; i < i1; i += step) ctx.fillRect(this.xToPx(this.x[i], g) - 1, yPx(this.obs[i]) - 1, 2, 2);
        line(this.bg, "#999999", 1, yPx);
        line(this.calc, "#000000", 1.2, yPx);
        line(this.diff, "#404040", 1, dPx);
      } else {
        line(this.obs, "#262626", 1, yPx);
      }
      const ids = Object.keys(this.d.ticks);
      ids.forEach((pid, k) => {
        ctx.strokeStyle = this.d.colours[pid] || "#333"; ctx.lineWidth = 1.2;
        ctx.beginPath();
        for (const t of this.d.ticks[pid]) {
          if (t < this.view[0] || t > this.view[1]) continue;
          const X = this.xToPx(t, g), Y = g.tickTop + 2 + 12 * k;
          ctx.moveTo(X, Y + 1); ctx.lineTo(X, Y + 10);
        }
        ctx.stroke();
      });
      // hkl labels of the strongest reflections in view
      ctx.font = "10px sans-serif"; ctx.textAlign = "left";
      let lastX = -1e9;
      const labels = (this.d.hkl || []).filter(h => h.x >= this.view[0] && h.x <= this.view[1]).sort((a, b) => a.x - b.x);
      for (const h of labels) {
        const X = this.xToPx(h.x, g);
        if (X - lastX < 12) continue;
        lastX = X;
        const j = Math.min(this.x.length - 1, lowerBound(this.x, h.x));
        const Y = Math.max(g.mainTop + 40, Math.min(yPx(this.obs[j]), yPx(this.calc[j])) - 4);
        ctx.save(); ctx.translate(X + 3, Y); ctx.rotate(-Math.PI / 2);
        ctx.fillStyle = this.d.colours[h.phase] || "#333"; ctx.fillText(h.label, 0, 0); ctx.restore();
      }
      if (this.hover !== null) {
        const X = this.xToPx(this.hover, g);
        ctx.strokeStyle = "rgba(0,0,0,0.35)"; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(X, g.mainTop); ctx.lineTo(X, g.diffTop + g.diffH); ctx.stroke();
      }
      ctx.restore();
      // frames and axes
      ctx.strokeStyle = "#000"; ctx.lineWidth = 1;
      ctx.strokeRect(g.L, g.mainTop, right - g.L, g.mainH);
      if (g.diffH > 0) ctx.strokeRect(g.L, g.diffTop, right - g.L, g.diffH);
      ctx.fillStyle = "#000"; ctx.font = "11px sans-serif"; ctx.textAlign = "center";
      for (const t of niceTicks(this.view[0], this.view[1], 8)) {
        const X = this.xToPx(t, g);
        ctx.beginPath(); ctx.moveTo(X, g.diffTop + g.diffH); ctx.lineTo(X, g.diffTop + g.diffH - 4); ctx.stroke();
        ctx.fillText(String(t), X, g.diffTop + g.diffH + 13);
      }
      ctx.fillText(this.d.xlabel || "2θ (°)", (g.L + right) / 2, g.h - 4);
      ctx.textAlign = "right";
      for (const t of niceTicks(ymin, ymax, 5)) {
        const v = this.sqrt ? Math.sign(t) * t * t : t;
        const Y = g.mainTop + g.mainH - (t - ymin) / (ymax - ymin) * g.mainH;
        if (Y < g.mainTop || Y > g.mainTop + g.mainH) continue;
        ctx.fillText(fmt(v), g.L - 4, Y + 4);
      }
      ids.forEach((pid, k) => {
        ctx.fillStyle = this.d.colours[pid] || "#333"; ctx.font = "9px sans-serif";
        ctx.fillText(this.d.names[pid] || pid, g.L - 4, g.tickTop + 11 + 12 * k);
      });
      ctx.fillStyle = "#000"; ctx.font = "10px sans-serif";
      if (g.diffH > 0) ctx.fillText("obs−calc", g.L - 4, g.diffTop + g.diffH / 2 + 4);
      this.canvas.dataset.xmin = this.view[0].toFixed(4);
      this.canvas.dataset.xmax = this.view[1].toFixed(4);
      this.canvas.dataset.draws = String((+this.canvas.dataset.draws || 0) + 1);
      this.updateReadout();
    }
    updateReadout() {
      if (!this.readout) return;
      if (this.hover === null) { this.readout.textContent = "hover over the pattern for values; wheel to zoom, drag to pan, double-click to reset"; return; }
      const j = Math.min(this.x.length - 1, lowerBound(this.x, this.hover));
      let near = "";
      let best = Infinity;
      const g = this.layout(), tol = 4 * (this.view[1] - this.view[0]) / (g.w - g.L - g.R);
      for (const h of this.d.hkl || []) {
        const dd = Math.abs(h.x - this.hover);
        if (dd < tol && dd < best) { best = dd; near = ` · ${this.d.names[h.phase] || h.phase} ${h.label} at ${h.x.toFixed(this.fitted ? 3 : 1)}${this.fitted ? "°" : " cm⁻¹"}`; }
      }
      if (!this.fitted) {
        this.readout.textContent = `shift ${this.x[j].toFixed(1)} cm⁻¹ · intensity ${fmt(this.obs[j])}${near}`;
        return;
      }
      this.readout.textContent = `2θ ${this.x[j].toFixed(3)}° · observed ${fmt(this.obs[j])} · calculated ${fmt(this.calc[j])} · background ${fmt(this.bg[j])} · obs−calc ${fmt(this.diff[j])}${near}`;
    }
  }

  function init() {
    const data = JSON.parse(document.getElementById("pt-data").textContent);
    const plots = {};
    document.querySelectorAll(".pattern").forEach(root => {
      const sel = root.querySelector("select");
      const plot = new PatternPlot(root);
      plots[root.id] = plot;
      const show = key => {
        plot.load(data.patterns[key]);
        root.querySelector(".scan-title").textContent = data.patterns[key].title;
      };
      if (sel) sel.addEventListener("change", () => show(sel.value));
      show(sel ? sel.value : root.dataset.key);
    });
    window.phasetracePlots = plots;
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
