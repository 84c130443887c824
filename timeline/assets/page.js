// Draws the timeline embedded in this page (its layout is described at
// pageData in html.go). Names and labels come from the program traced and
// are untrusted: they reach the page through textContent and attribute
// properties only, never as markup.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const root = $('timeline');
  const chart = $('chart');
  const plot = $('plot');
  const lanesSvg = $('lanes');
  const axisSvg = $('axis');
  const tip = $('tip');
  const data = JSON.parse($('timeline-data').textContent);
  // The SVG namespace, taken from an element the parser made, so that the
  // page holds no URL at all.
  const NS = lanesSvg.namespaceURI;

  const SEG = 8;       // numbers a segment in lane.segs: see pageLane in html.go
  const MARK = 3;      // numbers a mark: time, kind, label
  const ROW = 20;      // px a lane; .lane-label's height in page.css
  const AXIS = 24;     // px of the time axis; #axis-wrap's height
  const MIN_PX = 2;    // segments narrower than this merge with their neighbours
  const MIN_SPAN = 20; // ns: the deepest zoom
  const POLL = data.states.length;      // the loop's poll waits, as a state
  const HELD = POLL + 1;                 // a resource's holds, as a state
  const POST = data.marks.length;       // the loop's posts, as a mark kind
  const HOLD = 3;      // numbers a hold in resource.holds: start, end, holder
  const stateKeys = data.states.map((s) => s.key).concat('poll', 'hold');
  const markKeys = data.marks.concat('post');

  // Rows: the event loop first, then the tasks by ID, all in the lanes'
  // flat layout so that one routine draws them.
  const loop = { label: 'event loop', loop: true, segs: [], marks: [] };
  for (let i = 0; i < data.polls.length; i += 3) {
    loop.segs.push(data.polls[i], data.polls[i + 1], POLL, 0, 0, 0, 0, data.polls[i + 2]);
  }
  for (let i = 0; i < data.posts.length; i += 2) loop.marks.push(data.posts[i], POST, data.posts[i + 1]);
  // Then a row for each resource, its holds as segments naming the holder
  // (as a waker is named).
  const resources = (data.resources || []).map((res) => {
    const row = { label: res.name, resource: true, segs: [], marks: [] };
    for (let i = 0; i < res.holds.length; i += HOLD) {
      row.segs.push(res.holds[i], res.holds[i + 1], HELD, 0, res.holds[i + 2], 0, 0, 0);
    }
    return row;
  });
  const rows = [loop].concat(resources, data.lanes);
  const byId = new Map(data.lanes.map((l) => [l.id, l]));

  const full = { t0: data.start, span: Math.max(data.end - data.start, MIN_SPAN) };
  const view = { t0: full.t0, span: full.span };
  let selected = null; // the pinned item: {r, i, j} or {r, m}

  // ---- formatting -------------------------------------------------------

  function unit(ns) {
    const a = Math.abs(ns);
    return a >= 1e9 ? [1e9, 's'] : a >= 1e6 ? [1e6, 'ms'] : a >= 1e3 ? [1e3, 'µs'] : [1, 'ns'];
  }
  // A duration, to four significant digits.
  function fmtDur(ns) {
    const [d, u] = unit(ns);
    return +(ns / d).toPrecision(4) + ' ' + u;
  }
  // A time on the recorder's clock, precise to step ns.
  function fmtAt(ns, step = 1) {
    const [d, u] = unit(ns || step);
    const decimals = Math.min(9, Math.max(0, Math.ceil(Math.log10(d / step))));
    return (ns / d).toFixed(decimals) + ' ' + u;
  }

  // ---- drawing ----------------------------------------------------------

  function svg(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  // first returns the first index of a flat array (stride numbers an item,
  // sorted by the number at off) whose number at off is >= t.
  function first(a, stride, off, t) {
    let lo = 0, hi = a.length / stride;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid * stride + off] < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // drawRow draws the segments and marks of row r in view. Runs of
  // segments narrower than MIN_PX become one "merged" rectangle coloured
  // by the state that took most of their time, so that what is drawn
  // stays within a few rectangles a pixel however many segments there are.
  function drawRow(out, r, w, k) {
    const row = rows[r], s = row.segs, y = r * ROW, t0 = view.t0, t1 = t0 + view.span;
    const px = (t) => Math.min(Math.max((t - t0) * k, -2), w + 2);
    let run = null; // narrow segments being merged: {x0, x1, i, j, time: {state: ns}}
    const rect = (x0, x1, st, i, j, merged) => {
      const sel = selected && selected.r === r && selected.i <= i && j <= selected.j;
      const e = svg('rect', { x: x0, y: y + 3, width: Math.max(x1 - x0, 1), height: ROW - 6,
        class: 's-' + stateKeys[st] + (merged ? ' merged' : '') + (sel ? ' sel' : ''),
        'data-r': r, 'data-i': i, 'data-j': j });
      out.appendChild(e);
      drawn++;
    };
    const flush = () => {
      if (!run) return;
      const most = Object.keys(run.time).reduce((a, b) => (run.time[b] > run.time[a] ? b : a));
      rect(run.x0, run.x1, +most, run.i, run.j, run.j - run.i > 1);
      run = null;
    };
    for (let i = first(s, SEG, 1, t0); i < s.length / SEG && s[i * SEG] <= t1; i++) {
      const o = i * SEG, x0 = px(s[o]), x1 = px(s[o + 1]), st = s[o + 2];
      if (run && x0 > run.x1 + 0.5) flush(); // a gap: the task was gone
      if (x1 - x0 >= MIN_PX) { flush(); rect(x0, x1, st, i, i + 1, false); continue; }
      if (!run) run = { x0, x1, i, j: i, time: {} };
      run.x1 = x1;
      run.j = i + 1;
      run.time[st] = (run.time[st] || 0) + (s[o + 1] - s[o]) + 1e-9; // +1e-9: instants count
      if (run.x1 - run.x0 >= MIN_PX) flush();
    }
    flush();
    // Marks: one of each kind a pixel is enough to see.
    const m = row.marks, last = {};
    for (let i = first(m, MARK, 0, t0); i < m.length / MARK && m[i * MARK] <= t1; i++) {
      const x = Math.round(px(m[i * MARK])), kind = m[i * MARK + 1];
      if (last[kind] === x) continue;
      last[kind] = x;
      const sel = selected && selected.r === r && selected.m === i;
      out.appendChild(svg('path', { d: `M${x - 4} ${y}h8l-4 7z`, class: 'm-' + markKeys[kind] + (sel ? ' sel' : ''),
        'data-r': r, 'data-m': i }));
      drawn++;
    }
  }

  // drawAxis draws ticks every 1, 2 or 5 times a power of ten ns, about
  // every 100 px, with grid lines across the lanes.
  function drawAxis(grid, w, k) {
    const raw = Math.max(view.span / Math.max(w / 100, 1), 1);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw);
    const out = document.createDocumentFragment();
    const height = rows.length * ROW;
    for (let n = Math.ceil(view.t0 / step); n * step <= view.t0 + view.span; n++) {
      const x = (n * step - view.t0) * k;
      out.appendChild(svg('line', { x1: x, x2: x, y1: AXIS - 8, y2: AXIS }));
      const label = svg('text', { x: x + 3, y: AXIS - 10 });
      label.textContent = fmtAt(n * step, step);
      out.appendChild(label);
      grid.appendChild(svg('line', { x1: x, x2: x, y1: 0, y2: height, class: 'grid' }));
    }
    axisSvg.setAttribute('width', w);
    axisSvg.replaceChildren(out);
  }

  let drawn = 0, pending = false;
  function render() {
    pending = false;
    const w = Math.max(plot.clientWidth, 1), k = w / view.span;
    const out = document.createDocumentFragment();
    drawn = 0;
    drawAxis(out, w, k);
    // Only the rows scrolled into view (and one more each side).
    const top = chart.scrollTop - AXIS;
    const from = Math.max(0, Math.floor(top / ROW) - 1);
    const to = Math.min(rows.length, Math.ceil((top + chart.clientHeight) / ROW) + 1);
    for (let r = from; r < to; r++) drawRow(out, r, w, k);
    lanesSvg.setAttribute('width', w);
    lanesSvg.setAttribute('height', rows.length * ROW);
    lanesSvg.replaceChildren(out);
    $('view').textContent = fmtAt(view.t0) + ' – ' + fmtAt(view.t0 + view.span) + ' (' + fmtDur(view.span) + ')';
    root.dataset.drawn = drawn;
  }
  // schedule renders once before the next frame, or after 100 ms where
  // no frames come (a background tab, a headless browser).
  function schedule() {
    if (pending) return;
    pending = true;
    const once = () => { if (pending) render(); };
    requestAnimationFrame(once);
    setTimeout(once, 100);
  }

  // ---- what a mark or segment was -----------------------------------------

  const str = (i) => data.strings[i];
  function waker(peer, why) {
    if (peer) return byId.has(peer) ? byId.get(peer).label : '#' + peer;
    return why ? 'loop (' + why + ')' : '';
  }

  // describe returns [name, value] pairs for the element with dataset ds.
  function describe(ds) {
    const row = rows[+ds.r];
    const task = ['task', row.label];
    if (ds.m !== undefined) {
      const o = +ds.m * MARK, kind = row.marks[o + 1];
      const out = [row.loop ? ['track', row.label] : task, ['event', markKeys[kind]], ['at', fmtAt(row.marks[o])]];
      if (kind === POST) out.push(['functions run', String(row.marks[o + 2])]);
      else if (str(row.marks[o + 2])) out.push(['value', str(row.marks[o + 2])]);
      return out;
    }
    const s = row.segs, i = +ds.i, j = +ds.j, o = i * SEG;
    if (j - i > 1) {
      const time = new Map();
      for (let n = i; n < j; n++) {
        const st = s[n * SEG + 2];
        time.set(st, (time.get(st) || 0) + s[n * SEG + 1] - s[n * SEG]);
      }
      const total = s[(j - 1) * SEG + 1] - s[o];
      const out = [row.loop || row.resource ? ['track', row.label] : task, ['merged', (j - i) + ' segments: zoom in to tell them apart'],
        ['start', fmtAt(s[o])], ['duration', fmtDur(total)]];
      for (const [st, t] of [...time].sort((a, b) => b[1] - a[1])) {
        out.push([stateName(st), fmtDur(t) + (total > 0 ? ' (' + Math.round(100 * t / total) + '%)' : '')]);
      }
      return out;
    }
    const st = s[o + 2];
    if (st === HELD) {
      return [['resource', row.label], ['held by', waker(s[o + 4], '') || '(not recorded)'], ['start', fmtAt(s[o])],
        ['duration', fmtDur(s[o + 1] - s[o])]];
    }
    if (st === POLL) {
      return [['track', row.label], ['state', 'waiting in the poller'], ['start', fmtAt(s[o])],
        ['duration', fmtDur(s[o + 1] - s[o])], ['descriptors ready', String(s[o + 7])]];
    }
    const key = stateKeys[st], out = [task, ['state', stateName(st)]];
    if (key === 'ready') out.push(['cause', str(s[o + 3])]);
    else if (key !== 'run') out.push(['waits for', str(s[o + 3]) || '(not recorded)']);
    out.push(['start', fmtAt(s[o])], ['duration', fmtDur(s[o + 1] - s[o])]);
    if (s[o + 6]) out.push(['deadline', fmtAt(s[o + 6]) + (s[o + 7] ? ' (passed)' : '')]);
    const by = waker(s[o + 4], str(s[o + 5]));
    if (by) out.push([key === 'ready' ? 'made ready by' : 'woken by', by]);
    return out;
  }
  const stateName = (st) => (st === POLL ? 'poller wait' : st === HELD ? 'held' : data.states[st].title);

  function fill(dl, pairs) {
    dl.replaceChildren();
    for (const [name, value] of pairs) {
      const dt = document.createElement('dt'), dd = document.createElement('dd');
      dt.textContent = name;
      dd.textContent = value;
      dl.append(dt, dd);
    }
  }

  // ---- interaction ------------------------------------------------------

  // Hover: a tooltip beside the pointer.
  lanesSvg.addEventListener('mousemove', (e) => {
    const ds = e.target.dataset;
    if (drag || !ds || ds.r === undefined) { tip.hidden = true; return; }
    fill($('tip-body'), describe(ds));
    tip.hidden = false;
    const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 4);
    const y = e.clientY + 14 + tip.offsetHeight > window.innerHeight ? e.clientY - tip.offsetHeight - 8 : e.clientY + 14;
    tip.style.left = Math.max(x, 0) + 'px';
    tip.style.top = Math.max(y, 0) + 'px';
  });
  lanesSvg.addEventListener('mouseleave', () => { tip.hidden = true; });

  // Click: pin the details in the panel (unless the click ended a drag).
  lanesSvg.addEventListener('click', (e) => {
    const ds = e.target.dataset;
    if (dragged || !ds || ds.r === undefined) return;
    selected = ds.m !== undefined ? { r: +ds.r, m: +ds.m } : { r: +ds.r, i: +ds.i, j: +ds.j };
    fill($('details-body'), describe(ds));
    $('details').hidden = false;
    schedule();
  });
  $('details-close').addEventListener('click', () => {
    $('details').hidden = true;
    selected = null;
    schedule();
  });

  // Zoom by factor f about the time at x px (default: the middle).
  function zoom(f, x) {
    const w = Math.max(plot.clientWidth, 1);
    if (x === undefined) x = w / 2;
    const at = view.t0 + (x / w) * view.span;
    const span = Math.min(Math.max(view.span * f, MIN_SPAN), full.span * 2);
    setView(at - (x / w) * span, span);
  }
  function setView(t0, span) {
    view.span = span;
    // Keep some of the recording in sight.
    view.t0 = Math.min(Math.max(t0, full.t0 - span / 2), full.t0 + full.span - span / 2);
    schedule();
  }
  const panBy = (px) => setView(view.t0 + (px / Math.max(plot.clientWidth, 1)) * view.span, view.span);

  plot.addEventListener('wheel', (e) => {
    e.preventDefault();
    const scale = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1; // lines, pages
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      panBy((e.shiftKey ? e.deltaY || e.deltaX : e.deltaX) * scale);
    } else {
      zoom(Math.exp(e.deltaY * scale * 0.002), e.clientX - plot.getBoundingClientRect().left);
    }
  }, { passive: false });

  // Drag: pan. A move of more than 3 px makes it a drag, not a click.
  let drag = null, dragged = false;
  plot.addEventListener('mousedown', (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, t0: view.t0 };
    dragged = false;
    e.preventDefault();
  });
  window.addEventListener('mousemove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3 && !dragged) {
      dragged = true;
      plot.classList.add('dragging');
      tip.hidden = true;
    }
    if (dragged) setView(drag.t0 - (dx / Math.max(plot.clientWidth, 1)) * view.span, view.span);
  });
  window.addEventListener('mouseup', () => {
    drag = null;
    plot.classList.remove('dragging');
  });

  $('zoom-in').addEventListener('click', () => zoom(1 / 1.5));
  $('zoom-out').addEventListener('click', () => zoom(1.5));
  $('zoom-reset').addEventListener('click', () => setView(full.t0, full.span));
  window.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === '+' || e.key === '=') zoom(1 / 1.5);
    else if (e.key === '-') zoom(1.5);
    else if (e.key === '0') setView(full.t0, full.span);
    else if (e.key === 'ArrowLeft') panBy(-100);
    else if (e.key === 'ArrowRight') panBy(100);
  });
  chart.addEventListener('scroll', schedule);
  window.addEventListener('resize', schedule);

  // ---- first drawing ----------------------------------------------------

  const labels = $('labels');
  for (const row of rows) {
    const div = document.createElement('div');
    div.className = 'lane-label' + (row.loop ? ' loop' : row.resource ? ' resource' : '');
    div.textContent = row.label;
    div.title = row.label;
    labels.appendChild(div);
  }
  render();
  // What was drawn, for tests and tools that read the DOM.
  let segments = 0, marks = 0;
  for (const l of data.lanes) {
    segments += l.segs.length / SEG;
    marks += l.marks.length / MARK;
  }
  Object.assign(root.dataset, {
    lanes: data.lanes.length, segments, marks,
    resources: resources.length, polls: data.polls.length / 3, posts: data.posts.length / 2, rendered: 'true',
  });
})();
