/* optrace's race player: plain JavaScript, no library, nothing fetched.
 *
 * optraceMount(root, data) builds one player inside `root` from the data the
 * export wrote (optrace/export/html.py): a background PNG with the static
 * parts of the figure, and per racer every epoch's exact values. The moving
 * parts are drawn on a canvas over the background, in the figure's pixels,
 * through each axes' data-to-pixel mapping. Every player is its own closure;
 * window.optrace.players lists them, and window.optrace.seek/play/pause/
 * state/choose act on the first one. A racer with a sweep holds every
 * combination's values; its sliders (or choose) swap the one drawn.
 */
(function () {
  "use strict";
  if (typeof window.optraceMount === "function") {
    return;
  }
  var registry = window.optrace || { players: [] };
  window.optrace = registry;
  ["seek", "play", "pause", "state", "choose"].forEach(function (name) {
    registry[name] = function () {
      var first = registry.players[0];
      if (!first) {
        throw new Error("optrace: no player on this page");
      }
      return first[name].apply(first, arguments);
    };
  });

  var SPEEDS = [0.25, 0.5, 1, 2, 4];
  var HOVER_PX = 10;

  function decode(text, Type) {
    if (text === null || text === undefined) {
      return null;
    }
    var raw = atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return new Type(bytes.buffer);
  }

  function el(tag, className, parent) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (parent) {
      parent.appendChild(node);
    }
    return node;
  }

  function css(rgba) {
    return "rgba(" + Math.round(rgba[0] * 255) + "," + Math.round(rgba[1] * 255) + "," +
      Math.round(rgba[2] * 255) + "," + rgba[3] + ")";
  }

  function scaled(value, scale) {
    if (scale === "log") {
      return value > 0 ? Math.log(value) / Math.LN10 : -1000;
    }
    return value;
  }

  /* Data to figure pixels (y down) through one axes' mapping. */
  function project(ax, x, y, z) {
    var sx, sy;
    if (ax.kind === "3d") {
      var m = ax.M;
      var w = m[3][0] * x + m[3][1] * y + m[3][2] * z + m[3][3];
      sx = (m[0][0] * x + m[0][1] * y + m[0][2] * z + m[0][3]) / w;
      sy = (m[1][0] * x + m[1][1] * y + m[1][2] * z + m[1][3]) / w;
    } else {
      sx = scaled(x, ax.xscale);
      sy = scaled(y, ax.yscale);
    }
    var a = ax.affine;
    return [a[0][0] * sx + a[0][1] * sy + a[0][2], a[1][0] * sx + a[1][1] * sy + a[1][2]];
  }

  function glyphPath(ctx, glyph, cx, cy) {
    ctx.beginPath();
    glyph.path.forEach(function (seg) {
      var code = seg[0];
      if (code === 1) {
        ctx.moveTo(cx + seg[1], cy + seg[2]);
      } else if (code === 2) {
        ctx.lineTo(cx + seg[1], cy + seg[2]);
      } else if (code === 3) {
        ctx.quadraticCurveTo(cx + seg[1], cy + seg[2], cx + seg[3], cy + seg[4]);
      } else if (code === 4) {
        ctx.bezierCurveTo(cx + seg[1], cy + seg[2], cx + seg[3], cy + seg[4],
          cx + seg[5], cy + seg[6]);
      } else if (code === 79) {
        ctx.closePath();
      }
    });
  }

  function drawGlyph(ctx, glyph, px, py) {
    // Agg puts a marker's centre on the pixel grid: floor(x + 0.5).
    var cx = Math.floor(px + 0.5), cy = Math.floor(py + 0.5);
    glyphPath(ctx, glyph, cx, cy);
    if (glyph.fill) {
      ctx.fillStyle = css(glyph.fill);
      ctx.fill();
    }
    if (glyph.width > 0) {
      ctx.strokeStyle = css(glyph.stroke);
      ctx.lineWidth = glyph.width;
      ctx.lineJoin = glyph.join === "miter" ? "miter" : glyph.join === "bevel" ? "bevel" : "round";
      ctx.lineCap = glyph.cap === "projecting" ? "square" : glyph.cap === "round" ? "round" : "butt";
      ctx.stroke();
    }
  }

  /* Clip to a box rounded to whole pixels, as Agg rounds its clip box. */
  function clipTo(ctx, box) {
    var r = box.map(function (v) {
      return Math.floor(v + 0.5);
    });
    ctx.beginPath();
    ctx.rect(r[0], r[1], r[2] - r[0], r[3] - r[1]);
    ctx.clip();
  }

  function fontOf(place) {
    var family = place.family === "monospace"
      ? '"DejaVu Sans Mono", monospace' : '"DejaVu Sans", sans-serif';
    return place.size + "px " + family;
  }

  function fmt(value) {
    // The shortest text that reads back as the same float64: the exact value.
    return value === null || value === undefined || isNaN(value) ? "nan" : String(value);
  }

  /* One trace's per-epoch values, as the page draws them. */
  function arrays(source) {
    return {
      starts: source.starts,
      last: source.last,
      x: decode(source.x, Float64Array),
      y: decode(source.y, Float64Array),
      loss: decode(source.loss, Float64Array),
      z: decode(source.z, Float64Array),
      lr: decode(source.lr, Float64Array),
      lrConst: source.lrConst,
      panel: decode(source.panel, Float64Array),
      accuracy: decode(source.accuracy, Float64Array),
      bandLo: decode(source.bandLo, Float64Array),
      bandHi: decode(source.bandHi, Float64Array)
    };
  }

  /* Draw combination i of racer's sweep from now on (each decoded once, when
   * first chosen; the one as written is the racer's own values). */
  function use(racer, i) {
    var sweep = racer.spec.sweep;
    if (!racer.decoded[i]) {
      var source = sweep && i !== sweep.written ? sweep.combinations[i] : racer.spec;
      racer.decoded[i] = arrays(source);
    }
    var chosen = racer.decoded[i];
    Object.keys(chosen).forEach(function (name) {
      racer[name] = chosen[name];
    });
    racer.combination = i;
  }

  /* The index in grid order of the values at `at` on each key's axis. */
  function gridIndex(sweep, at) {
    var i = 0;
    for (var k = 0; k < sweep.keys.length; k++) {
      i = i * sweep.values[k].length + at[k];
    }
    return i;
  }

  function params(racer) {
    var sweep = racer.spec.sweep, chosen = {};
    if (sweep) {
      sweep.keys.forEach(function (key, k) {
        chosen[key] = sweep.values[k][racer.at[k]];
      });
    }
    return chosen;
  }

  /* A swept value as the sliders and messages show it. */
  function valueText(value) {
    return typeof value === "number" ? fmt(value) : String(value);
  }

  function quoted(text) {
    return JSON.stringify(String(text));
  }

  function mount(root, data) {
    var W = data.width, H = data.height, E = data.epochs;
    // What one step along the race counts: an epoch, or a gradient evaluation.
    var WORD = data.axis || "epoch";
    var main = data.axes[0], panelAxes = data.axes[1] || null;
    var accuracyAxes = data.axes[2] || null;
    var n = E + 1;
    var racers = data.racers.map(function (r) {
      var racer = { spec: r, visible: true, at: [], decoded: {} };
      if (r.sweep) {
        // Where on each key's values the combination as written lies: the
        // last key varies fastest, as the grid is ordered.
        var rest = r.sweep.written;
        for (var k = r.sweep.keys.length - 1; k >= 0; k--) {
          racer.at[k] = rest % r.sweep.values[k].length;
          rest = Math.floor(rest / r.sweep.values[k].length);
        }
      }
      use(racer, r.sweep ? r.sweep.written : 0);
      return racer;
    });
    var epoch = 0, playing = false, speed = 1, loop = !!data.loop;
    var clock = null;

    // The still in the markup is for pages where scripts do not run.
    Array.prototype.forEach.call(root.querySelectorAll(":scope > .optrace-still"), function (still) {
      root.removeChild(still);
    });
    root.classList.add("optrace-player");
    root.setAttribute("tabindex", "0");
    root.setAttribute("role", "group");
    root.setAttribute("aria-label", "race player: " + data.title);
    var stage = el("div", "optrace-stage", root);
    stage.style.width = W + "px";
    stage.style.aspectRatio = W + " / " + H;
    var img = el("img", "optrace-bg", stage);
    img.width = W;
    img.height = H;
    img.alt = data.title;
    img.addEventListener("load", function () {
      draw();
    });
    img.src = data.background;
    var canvas = el("canvas", "optrace-fg", stage);
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(W * ratio);
    canvas.height = Math.round(H * ratio);
    var ctx = canvas.getContext("2d");
    var tip = el("div", "optrace-tip", stage);
    tip.setAttribute("role", "status");
    tip.hidden = true;

    var legendButtons = racers.map(function (racer, i) {
      var box = racer.spec.legend;
      if (!box) {
        return null;
      }
      var button = el("button", "optrace-legend", stage);
      button.type = "button";
      button.setAttribute("aria-pressed", "true");
      button.setAttribute("aria-label", "show " + racer.spec.label);
      button.title = "hide or show " + racer.spec.label;
      button.style.left = (100 * box[0] / W) + "%";
      button.style.top = (100 * box[1] / H) + "%";
      button.style.width = (100 * (box[2] - box[0]) / W) + "%";
      button.style.height = (100 * (box[3] - box[1]) / H) + "%";
      button.addEventListener("click", function () {
        setVisible(i, !racer.visible);
      });
      button.addEventListener("focus", function () {
        showTip(readout(i, 0, epoch), box[2], box[3]);
      });
      button.addEventListener("blur", hideTip);
      return button;
    });

    var bar = el("div", "optrace-controls", root);
    var playButton = el("button", "optrace-play", bar);
    playButton.type = "button";
    var back = el("button", "optrace-back", bar);
    back.type = "button";
    back.textContent = "\u25c0";
    back.setAttribute("aria-label", "one " + WORD + " back");
    back.title = "one " + WORD + " back (left arrow)";
    var forward = el("button", "optrace-forward", bar);
    forward.type = "button";
    forward.textContent = "\u25b6\u258f";
    forward.setAttribute("aria-label", "one " + WORD + " forward");
    forward.title = "one " + WORD + " forward (right arrow)";
    var scrubber = el("input", "optrace-scrubber", bar);
    scrubber.type = "range";
    scrubber.min = "0";
    scrubber.max = String(E);
    scrubber.step = "1";
    scrubber.setAttribute("aria-label", WORD);
    var counter = el("output", "optrace-epoch", bar);
    var speedLabel = el("label", "optrace-speed", bar);
    speedLabel.appendChild(document.createTextNode("speed "));
    var speedSelect = el("select", null, speedLabel);
    SPEEDS.forEach(function (s) {
      var option = el("option", null, speedSelect);
      option.value = String(s);
      option.textContent = s + "x";
      option.selected = s === 1;
    });
    var loopLabel = el("label", "optrace-loop", bar);
    var loopBox = el("input", null, loopLabel);
    loopBox.type = "checkbox";
    loopBox.checked = loop;
    loopLabel.appendChild(document.createTextNode(" loop"));

    // One slider per swept key of each racer with a sweep, over the indices of
    // that key's values (so it snaps to them), the value shown beside it.
    var sliders = [];
    var sweepBox = null;
    racers.forEach(function (racer, r) {
      var sweep = racer.spec.sweep;
      if (!sweep) {
        return;
      }
      sweepBox = sweepBox || el("div", "optrace-sweeps", root);
      sweep.keys.forEach(function (key, k) {
        var name = racer.spec.label + " " + key;
        var row = el("label", "optrace-sweep", sweepBox);
        var caption = el("span", "optrace-sweep-name", row);
        caption.textContent = name;
        caption.title = name;
        var input = el("input", null, row);
        input.type = "range";
        input.min = "0";
        input.max = String(sweep.values[k].length - 1);
        input.step = "1";
        input.setAttribute("aria-label", name);
        var valueBox = el("output", "optrace-sweep-value", row);
        input.addEventListener("input", function () {
          var at = racer.at.slice();
          at[k] = Number(input.value);
          choice(r, at);
        });
        sliders.push({ racer: r, key: k, input: input, valueBox: valueBox });
      });
    });

    /* Where start s of racer r is drawn at epoch e: its place, whether it is
     * alive, outside the domain, and its point on the main axes. */
    function place(r, s, e) {
      var racer = racers[r];
      var last = racer.last[s];
      var at = Math.max(0, Math.min(e, last));
      var k = s * n + at;
      var x = racer.x[k];
      var y = racer.y ? racer.y[k] : null;
      var alive = last >= e;
      var out = alive && (x < data.domain[0] || x > data.domain[1] ||
        (data.ydomain !== null && y !== null && (y < data.ydomain[0] || y > data.ydomain[1])));
      var coords = data.dims === 1 ? [x, racer.loss[k]]
        : data.dims === 2 ? [x, y] : [x, y, racer.z[k]];
      if (out) {
        coords = coords.map(function (c, i) {
          return Math.min(Math.max(c, data.bounds[i][0]), data.bounds[i][1]);
        });
      }
      var p = project(main, coords[0], coords[1], coords[2]);
      return { alive: alive, out: out, px: p[0], py: p[1] };
    }

    function drawTrail(r, e) {
      var racer = racers[r], trail = data.trail;
      var first = Math.max(0, e - trail);
      ctx.lineWidth = data.trailWidth;
      ctx.lineCap = "round";
      var c = racer.spec.colour;
      for (var t = first + 1; t <= e; t++) {
        var age = e - t;
        ctx.strokeStyle = css([c[0], c[1], c[2], 0.85 * (1 - age / trail)]);
        ctx.beginPath();
        for (var s = 0; s < racer.starts; s++) {
          var a = point(racer, s, t - 1), b = point(racer, s, t);
          if (a && b) {
            ctx.moveTo(a[0], a[1]);
            ctx.lineTo(b[0], b[1]);
          }
        }
        ctx.stroke();
      }
    }

    function point(racer, s, t) {
      var k = s * n + t;
      var x = racer.x[k];
      var coords = data.dims === 1 ? [x, racer.loss[k]]
        : data.dims === 2 ? [x, racer.y[k]] : [x, racer.y[k], racer.z[k]];
      for (var i = 0; i < coords.length; i++) {
        if (!isFinite(coords[i])) {
          return null;
        }
      }
      return project(main, coords[0], coords[1], coords[2]);
    }

    /* One line of text at the anchor of `place` (the epoch counter). */
    function writeLine(place, line) {
      ctx.font = fontOf(place);
      ctx.textBaseline = "alphabetic";
      ctx.textAlign = place.ha === "right" ? "right" : place.ha === "center" ? "center" : "left";
      ctx.fillStyle = css(place.colour);
      ctx.fillText(line, place.x, place.y + place.one);
    }

    /* A note as matplotlib laid it out: each line's baseline and width (the
     * browser's glyphs are stretched to that width), on its box if it has one. */
    function writeNote(place, lines, layout) {
      ctx.save();
      if (place.clip) {
        clipTo(ctx, place.clip);
      }
      if (place.box) {
        var pad = place.box.pad, box = layout.extent;
        ctx.fillStyle = css(place.box.colour);
        ctx.fillRect(box[0] - pad, box[1] - pad, box[2] - box[0] + 2 * pad,
          box[3] - box[1] + 2 * pad);
      }
      ctx.font = fontOf(place);
      ctx.textBaseline = "alphabetic";
      ctx.textAlign = "left";
      ctx.fillStyle = css(place.colour);
      lines.forEach(function (line, i) {
        var width = ctx.measureText(line).width, wanted = layout.widths[i];
        var left = place.ha === "right" ? place.x - wanted
          : place.ha === "center" ? place.x - wanted / 2 : place.x;
        ctx.save();
        ctx.translate(left, place.y + layout.baselines[i]);
        if (width > 0 && wanted > 0) {
          ctx.scale(wanted / width, 1);
        }
        ctx.fillText(line, 0, 0);
        ctx.restore();
      });
      ctx.restore();
    }

    function noteAt(e) {
      var changes = data.notes.changes, note = null;
      for (var i = 0; i < changes.length && changes[i][0] <= e; i++) {
        note = changes[i];
      }
      return note;
    }

    function capOf(style) {
      return style === "projecting" ? "square" : style === "round" ? "round" : "butt";
    }

    /* Racer's loss line through epoch e, in its pattern, with its marker at
     * its head: the last finite value (a racer that diverged keeps its head). */
    function drawLossLine(racer, e) {
      var look = racer.spec.panelLine, c = racer.spec.colour;
      ctx.lineWidth = data.panel.width;
      ctx.lineJoin = look.join === "miter" ? "miter" : look.join === "bevel" ? "bevel" : "round";
      ctx.lineCap = capOf(look.cap);
      ctx.setLineDash(look.dash || []);
      ctx.lineDashOffset = look.offset;
      ctx.strokeStyle = css([c[0], c[1], c[2], 1]);
      ctx.beginPath();
      var pen = false, head = null;
      for (var t = 0; t <= e; t++) {
        var v = racer.panel[t];
        if (!isFinite(v)) {
          pen = false;
          continue;
        }
        var p = project(panelAxes, t, v);
        if (pen) {
          ctx.lineTo(p[0], p[1]);
        } else {
          ctx.moveTo(p[0], p[1]);
          pen = true;
        }
        head = p;
      }
      ctx.stroke();
      ctx.setLineDash([]);
      if (head) {
        drawGlyph(ctx, look.head, head[0], head[1]);
      }
    }

    /* Racer's test accuracy through epoch e on its axis, in its look: up to the
     * last finite value, as the loss panel draws it. */
    function drawAccuracyLine(racer, e) {
      var look = racer.spec.accuracyLine;
      ctx.lineWidth = look.width;
      ctx.lineJoin = look.join === "miter" ? "miter" : look.join === "bevel" ? "bevel" : "round";
      ctx.lineCap = capOf(look.cap);
      ctx.setLineDash(look.dash || []);
      ctx.lineDashOffset = look.offset;
      ctx.strokeStyle = css(look.colour);
      ctx.beginPath();
      var last = -1;
      for (var t = 0; t <= e; t++) {
        if (isFinite(racer.accuracy[t])) {
          last = t;
        }
      }
      var pen = false;
      for (var u = 0; u <= last; u++) {
        var v = racer.accuracy[u];
        if (!isFinite(v)) {
          pen = false;
          continue;
        }
        var p = project(accuracyAxes, u, v);
        if (pen) {
          ctx.lineTo(p[0], p[1]);
        } else {
          ctx.moveTo(p[0], p[1]);
          pen = true;
        }
      }
      ctx.stroke();
      ctx.setLineDash([]);
    }

    /* Racer's interquartile band through epoch e: one filled polygon per run
     * of epochs where both quartiles are finite, as fill_between draws it. */
    function drawBand(racer, e) {
      ctx.fillStyle = css(racer.spec.band.colour);
      var t = 0;
      while (t <= e) {
        var first = t;
        while (t <= e && isFinite(racer.bandLo[t]) && isFinite(racer.bandHi[t])) {
          t++;
        }
        if (t - first > 1) {
          ctx.beginPath();
          for (var a = first; a < t; a++) {
            var p = project(panelAxes, a, racer.bandLo[a]);
            if (a === first) {
              ctx.moveTo(p[0], p[1]);
            } else {
              ctx.lineTo(p[0], p[1]);
            }
          }
          for (var b = t - 1; b >= first; b--) {
            var q = project(panelAxes, b, racer.bandHi[b]);
            ctx.lineTo(q[0], q[1]);
          }
          ctx.closePath();
          ctx.fill();
        }
        t = Math.max(t, first + 1);
      }
    }

    function draw() {
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, W, H);
      var e = epoch;
      var places = racers.map(function (racer, r) {
        var list = [];
        for (var s = 0; s < racer.starts; s++) {
          list.push(place(r, s, e));
        }
        return list;
      });
      var note = noteAt(e);
      // A view's notes may lie beneath the racers, which pass over them.
      if (data.notes.under && note && note[2]) {
        writeNote(data.notes, note[1].split("\n"), note[2]);
      }
      ctx.save();
      clipTo(ctx, main.box);
      if (data.trail > 0) {
        racers.forEach(function (racer, r) {
          if (racer.visible) {
            drawTrail(r, e);
          }
        });
      }
      // Ghosts (x where a start diverged), then the hollow markers of starts
      // outside the domain, then the markers, as the scene draws them.
      racers.forEach(function (racer, r) {
        if (racer.visible) {
          places[r].forEach(function (p) {
            if (!p.alive) {
              drawGlyph(ctx, racer.spec.ghost, p.px, p.py);
            }
          });
        }
      });
      ctx.restore();
      racers.forEach(function (racer, r) {
        if (racer.visible) {
          places[r].forEach(function (p) {
            if (p.out) {
              drawGlyph(ctx, racer.spec.edge, p.px, p.py);
            }
          });
        }
      });
      ctx.save();
      clipTo(ctx, main.box);
      racers.forEach(function (racer, r) {
        if (racer.visible) {
          places[r].forEach(function (p) {
            if (p.alive && !p.out) {
              drawGlyph(ctx, racer.spec.marker, p.px, p.py);
            }
          });
        }
      });
      ctx.restore();
      // The legend and the counter's box lie over the racers, as in the GIF:
      // their pixels are copied back from the background.
      if (img.complete && img.naturalWidth) {
        var k = img.naturalWidth / W;
        ctx.imageSmoothingEnabled = false;
        data.covers.forEach(function (r) {
          var w = r[2] - r[0], h = r[3] - r[1];
          ctx.drawImage(img, r[0] * k, r[1] * k, w * k, h * k, r[0], r[1], w, h);
        });
      }
      writeLine(data.counter, String(e));
      if (!data.notes.under && note && note[2]) {
        writeNote(data.notes, note[1].split("\n"), note[2]);
      }
      if (panelAxes) {
        ctx.save();
        clipTo(ctx, panelAxes.box);
        // The test accuracy (on its axis beneath), the bands, then each line
        // with its head, as the scene draws them.
        racers.forEach(function (racer) {
          if (racer.visible && accuracyAxes && racer.accuracy && racer.spec.accuracyLine) {
            drawAccuracyLine(racer, e);
          }
        });
        racers.forEach(function (racer) {
          if (racer.visible && racer.bandLo) {
            drawBand(racer, e);
          }
        });
        racers.forEach(function (racer) {
          if (racer.visible) {
            drawLossLine(racer, e);
          }
        });
        // A vertical line snaps as Agg snaps it: to a pixel centre under an
        // odd stroke width, else to a pixel edge.
        var cx = Math.floor(project(panelAxes, e, 1)[0] + 0.5) +
          (Math.round(data.panel.cursorWidth) % 2 ? 0.5 : 0);
        ctx.strokeStyle = css(data.panel.cursor);
        ctx.lineWidth = data.panel.cursorWidth;
        ctx.lineCap = "butt";
        ctx.beginPath();
        ctx.moveTo(cx, panelAxes.box[1]);
        ctx.lineTo(cx, panelAxes.box[3]);
        ctx.stroke();
        ctx.restore();
      }
      racers.forEach(function (racer) {
        var box = racer.spec.legend;
        if (!racer.visible && box) {
          ctx.fillStyle = "rgba(255,255,255,0.7)";
          ctx.fillRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
        }
      });
    }

    function refresh() {
      draw();
      sliders.forEach(function (slider) {
        var racer = racers[slider.racer], at = racer.at[slider.key];
        var text = valueText(racer.spec.sweep.values[slider.key][at]);
        slider.input.value = String(at);
        slider.input.setAttribute("aria-valuetext", text);
        slider.valueBox.textContent = text;
      });
      scrubber.value = String(epoch);
      counter.textContent = WORD + " " + epoch + " / " + E;
      playButton.textContent = playing ? "\u275a\u275a" : "\u25b6";
      playButton.setAttribute("aria-label", playing ? "pause" : "play");
      playButton.title = (playing ? "pause" : "play") + " (space)";
      legendButtons.forEach(function (button, i) {
        if (button) {
          button.setAttribute("aria-pressed", String(racers[i].visible));
          button.setAttribute("aria-label", (racers[i].visible ? "hide " : "show ") +
            racers[i].spec.label);
        }
      });
    }

    /* Racer r draws the combination at `at` on each key's values. */
    function choice(r, at) {
      var racer = racers[r];
      racer.at = at;
      use(racer, gridIndex(racer.spec.sweep, at));
      refresh();
    }

    /* Draw racer `label` with `chosen` values of its swept keys (the others
     * as they are); refuses, naming it, a label, key or value not in the sweep. */
    function choose(label, chosen) {
      var r = -1;
      for (var i = 0; i < racers.length && r < 0; i++) {
        if (racers[i].spec.label === String(label)) {
          r = i;
        }
      }
      if (r < 0) {
        throw new Error("optrace: no racer " + quoted(label) + " (racers: " +
          racers.map(function (racer) { return quoted(racer.spec.label); }).join(", ") + ")");
      }
      var racer = racers[r], sweep = racer.spec.sweep, at = racer.at.slice();
      Object.keys(chosen || {}).forEach(function (key) {
        var k = sweep ? sweep.keys.indexOf(key) : -1;
        if (k < 0) {
          throw new Error("optrace: racer " + quoted(label) + " sweeps no " + quoted(key) +
            (sweep ? " (it sweeps " + sweep.keys.map(quoted).join(", ") + ")" : ""));
        }
        var wanted = chosen[key], found = sweep.values[k].indexOf(wanted);
        if (found < 0) {
          throw new Error("optrace: " + valueText(wanted) + " is not one of the values of " +
            quoted(key) + " for racer " + quoted(label) + " (" +
            sweep.values[k].map(valueText).join(", ") + ")");
        }
        at[k] = found;
      });
      if (sweep) {
        choice(r, at);
      }
      return params(racer);
    }

    function setVisible(i, visible) {
      racers[i].visible = visible;
      refresh();
    }

    /* Epochs per millisecond at 1x: the whole race takes as long as its GIF. */
    function rate() {
      var frames = data.frames.length;
      var span = Math.max(1, frames - 1) * data.interval;
      return speed * Math.max(E, 1) / span;
    }

    function tick(now) {
      if (!playing) {
        return;
      }
      var target = clock.epoch + Math.floor((now - clock.start) * rate());
      if (target > E) {
        if (loop) {
          target = 0;
          clock = { start: now, epoch: 0 };
        } else {
          target = E;
          playing = false;
        }
      }
      if (target !== epoch || !playing) {
        epoch = target;
        refresh();
      }
      if (playing) {
        window.requestAnimationFrame(tick);
      }
    }

    function play() {
      if (playing) {
        return;
      }
      if (epoch >= E) {
        epoch = 0;
      }
      playing = true;
      clock = { start: performance.now(), epoch: epoch };
      refresh();
      window.requestAnimationFrame(tick);
    }

    function pause() {
      playing = false;
      refresh();
    }

    function seek(e) {
      var value = Math.round(Number(e));
      if (!isFinite(value)) {
        throw new Error("optrace: seek needs an epoch number, not " + e);
      }
      epoch = Math.min(Math.max(value, 0), E);
      if (playing) {
        clock = { start: performance.now(), epoch: epoch };
      }
      refresh();
    }

    function step(by) {
      pause();
      seek(epoch + by);
    }

    function value(array, k) {
      if (!array) {
        return null;
      }
      var v = array[k];
      return isFinite(v) ? v : null;
    }

    function state() {
      return {
        epoch: epoch,
        playing: playing,
        racers: racers.map(function (racer, r) {
          var k = epoch;  // start 0's row
          var p = place(r, 0, epoch);
          return {
            label: racer.spec.label,
            visible: racer.visible,
            x: value(racer.x, k),
            y: value(racer.y, k),
            loss: value(racer.loss, k),
            params: params(racer),
            px: p.px,
            py: p.py
          };
        })
      };
    }

    /* The read-out of start s of racer r at epoch e, one line each. */
    function readout(r, s, e) {
      var racer = racers[r], k = s * n + e;
      var lines = [racer.spec.label];
      if (racer.starts > 1) {
        lines.push("start " + s + " of " + racer.starts);
      }
      lines.push(WORD + " " + e);
      lines.push("x = " + fmt(racer.x[k]));
      if (racer.y) {
        lines.push("y = " + fmt(racer.y[k]));
      }
      lines.push("loss = " + fmt(racer.loss[k]));
      var lr = racer.lr ? racer.lr[k] : racer.lrConst;
      if (lr !== null && lr !== undefined) {
        lines.push("lr = " + fmt(lr));
      }
      var chosen = params(racer);
      Object.keys(chosen).forEach(function (key) {
        if (key !== "lr") {
          lines.push(key + " = " + valueText(chosen[key]));
        }
      });
      return lines;
    }

    function showTip(lines, fx, fy) {
      tip.textContent = lines.join("\n");
      tip.hidden = false;
      var left = Math.min(fx + 12, W - tip.offsetWidth - 2);
      var top = Math.min(fy + 12, H - tip.offsetHeight - 2);
      if (fx + 12 + tip.offsetWidth > W) {
        left = Math.max(0, fx - 12 - tip.offsetWidth);
      }
      tip.style.left = (100 * left / W) + "%";
      tip.style.top = (100 * Math.max(0, top) / H) + "%";
    }

    function hideTip() {
      tip.hidden = true;
    }

    function inside(box, fx, fy) {
      return box && fx >= box[0] && fx <= box[2] && fy >= box[1] && fy <= box[3];
    }

    function hover(fx, fy) {
      var best = null, bestDistance = HOVER_PX + 1e-9;
      racers.forEach(function (racer, r) {
        if (!racer.visible) {
          return;
        }
        for (var s = 0; s < racer.starts; s++) {
          var p = place(r, s, epoch);
          var d = Math.hypot(p.px - fx, p.py - fy);
          if (d < bestDistance) {  // on a tie, the first drawn
            bestDistance = d;
            best = [r, s];
          }
        }
      });
      if (best) {
        var racer = racers[best[0]];
        var shown = Math.min(epoch, Math.max(0, racer.last[best[1]]));
        showTip(readout(best[0], best[1], shown), fx, fy);
        return;
      }
      if (panelAxes && inside(panelAxes.box, fx, fy)) {
        var a = panelAxes.affine;
        var t = Math.round((fx - a[0][2]) / a[0][0]);
        t = Math.min(Math.max(t, 0), epoch);
        var nearest = null, gap = Infinity;
        racers.forEach(function (racer, r) {
          var v = racer.panel[t];
          if (racer.visible && isFinite(v)) {
            var d = Math.abs(project(panelAxes, t, v)[1] - fy);
            if (d < gap) {
              gap = d;
              nearest = r;
            }
          }
        });
        if (nearest !== null) {
          var lines = racers[nearest].starts > 1
            ? [racers[nearest].spec.label, "median of " + racers[nearest].starts +
              " starts", "epoch " + t, "panel value = " + fmt(racers[nearest].panel[t])]
            : readout(nearest, 0, t);
          showTip(lines, fx, fy);
          return;
        }
      }
      hideTip();
    }

    canvas.addEventListener("mousemove", function (event) {
      var rect = canvas.getBoundingClientRect();
      hover((event.clientX - rect.left) * W / rect.width, (event.clientY - rect.top) * H / rect.height);
    });
    canvas.addEventListener("mouseleave", hideTip);
    canvas.addEventListener("click", function () {
      root.focus();
    });
    playButton.addEventListener("click", function () {
      if (playing) {
        pause();
      } else {
        play();
      }
    });
    back.addEventListener("click", function () {
      step(-1);
    });
    forward.addEventListener("click", function () {
      step(1);
    });
    scrubber.addEventListener("input", function () {
      seek(Number(scrubber.value));
    });
    speedSelect.addEventListener("change", function () {
      speed = Number(speedSelect.value);
      if (playing) {
        clock = { start: performance.now(), epoch: epoch };
      }
    });
    loopBox.addEventListener("change", function () {
      loop = loopBox.checked;
    });
    // Keys act on this player only: the listener sits on its own element.
    root.addEventListener("keydown", function (event) {
      var target = event.target, tag = target.tagName;
      if (event.altKey || event.ctrlKey || event.metaKey) {
        return;
      }
      if (event.key === " " || event.key === "Spacebar") {
        if (tag === "BUTTON" || tag === "SELECT" || (tag === "INPUT" && target.type === "checkbox")) {
          return;  // the focused control's own action
        }
        event.preventDefault();
        if (playing) {
          pause();
        } else {
          play();
        }
      } else if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
        if (tag === "SELECT" || tag === "INPUT") {
          return;  // the scrubber steps one epoch by itself
        }
        event.preventDefault();
        step(event.key === "ArrowLeft" ? -1 : 1);
      } else if (event.key === "Home" || event.key === "End") {
        if (tag === "INPUT" || tag === "SELECT") {
          return;
        }
        event.preventDefault();
        pause();
        seek(event.key === "Home" ? 0 : E);
      }
    });

    /* Every start's marker centre now, per racer: [[px, py], ...]. */
    function points() {
      return racers.map(function (racer, r) {
        var list = [];
        for (var s = 0; s < racer.starts; s++) {
          var p = place(r, s, epoch);
          list.push([p.px, p.py]);
        }
        return list;
      });
    }

    /* Where racer r's loss-panel line is at epoch e, or null without a panel. */
    function panelPoint(e, r) {
      return panelAxes ? project(panelAxes, e, racers[r].panel[e]) : null;
    }

    var api = {
      element: root,
      seek: seek,
      play: play,
      pause: pause,
      state: state,
      choose: choose,
      setVisible: setVisible,
      points: points,
      panelPoint: panelPoint
    };
    refresh();
    return api;
  }

  window.optraceMount = function (root, data) {
    var player = mount(root, data);
    registry.players.push(player);
    return player;
  };
})();
