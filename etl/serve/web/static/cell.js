// The cell page's plots: sweep viewer (zoom loads the window at full resolution), F-I curve,
// morphology projections and the GLIF overlay. Data comes from /web/api as compact arrays:
// sample indices and values; times are index / rate.
(function () {
  const ctm = window.ctm;
  ctm.scriptsReady = performance.now();  // Plotly parsed and run
  const config = {displaylogo: false, responsive: true};
  const times = (part, rate) => part.i.map(i => i / rate);
  ctm.draws = 0;
  const asJson = r => (r.ok ? r.json() : null);

  function sweepFigure(d) {
    const traces = [
      {x: times(d.stimulus, d.rate_hz), y: d.stimulus.y, name: 'stimulus (pA)', yaxis: 'y2',
       line: {width: 1, color: '#777'}, hoverinfo: 'x+y'},
      {x: times(d.response, d.rate_hz), y: d.response.y, name: 'response (mV)',
       line: {width: 1, color: '#1f77b4'}, hoverinfo: 'x+y'},
      {x: d.spikes.t, y: d.spikes.v, name: 'spike peaks (ephys_spikes)', mode: 'markers',
       marker: {color: '#d62728', size: 8, symbol: 'triangle-down'}},
    ];
    const layout = {
      height: 460, margin: {t: 30, r: 10, l: 60, b: 40}, uirevision: d.sweep_number,
      title: {text: `sweep ${d.sweep_number}: ${d.num_samples.toLocaleString()} samples at ${d.rate_hz / 1000} kHz`, font: {size: 13}},
      xaxis: {title: {text: 'time (s)'}, anchor: 'y'},
      yaxis: {title: {text: 'mV'}, domain: [0, 0.72]},
      yaxis2: {title: {text: 'pA'}, domain: [0.78, 1]},
      legend: {orientation: 'h', y: -0.15},
    };
    return [traces, layout];
  }

  function drawSweep(d) {
    const div = document.getElementById('sweep');
    if (!d) { document.getElementById('sweep-note').textContent = 'The samples of this sweep are not in the mirror.'; return; }
    const [traces, layout] = sweepFigure(d);
    const range = div.layout && div.layout.xaxis && !div.layout.xaxis.autorange && ctm.zoomed
      ? div.layout.xaxis.range : null;
    if (range) { layout.xaxis.range = range; layout.xaxis.autorange = false; }
    return Plotly.react(div, traces, layout, config).then(() => {
      div.dataset.window = `${d.first}-${d.last}`;
      div.dataset.sweep = d.sweep_number;
      ctm.draws += 1;
      if (ctm.firstDraw === undefined) ctm.firstDraw = performance.now();
    });
  }

  function loadSweep(number, t0, t1) {
    const query = t0 === undefined ? '' : `?t0=${t0}&t1=${t1}`;
    return fetch(`/web/api/sweep/${ctm.specimen}/${number}${query}`).then(asJson).then(drawSweep);
  }

  function watchZoom() {
    const div = document.getElementById('sweep');
    div.on('plotly_relayout', ev => {
      // a drag sends range[0] and range[1], a call of Plotly.relayout may send the pair
      const range = ev['xaxis.range'] || [ev['xaxis.range[0]'], ev['xaxis.range[1]']];
      if (range[0] !== undefined) {
        ctm.zoomed = true;
        loadSweep(ctm.sweep, range[0], range[1]);
      } else if (ev['xaxis.autorange']) {
        ctm.zoomed = false;
        loadSweep(ctm.sweep);
      }
    });
    for (const row of document.querySelectorAll('#sweeps tr[data-sweep]')) {
      row.addEventListener('click', ev => {
        ev.preventDefault();
        document.querySelectorAll('#sweeps tr.chosen').forEach(r => r.classList.remove('chosen'));
        row.classList.add('chosen');
        ctm.sweep = Number(row.dataset.sweep);
        ctm.zoomed = false;
        history.replaceState(null, '', `?sweep=${ctm.sweep}`);
        loadSweep(ctm.sweep);
      });
    }
  }

  function drawFi(d) {
    if (!d) return;
    const p = d.points;
    const amp = p.map(r => r.stimulus_amplitude_pa);
    return Plotly.newPlot('fi', [
      {x: amp, y: p.map(r => r.spike_rate_hz), name: 'published', mode: 'lines+markers'},
      {x: amp, y: p.map(r => r.spike_rate_hz_recomputed), name: 'recomputed', mode: 'lines+markers',
       line: {dash: 'dot'}},
    ], {height: 320, margin: {t: 20, r: 10}, xaxis: {title: {text: 'stimulus (pA)'}},
        yaxis: {title: {text: 'spike rate (Hz)'}}, legend: {orientation: 'h', y: -0.25}}, config);
  }

  const COLOURS = {'soma': '#000', 'axon': '#1f77b4', 'basal dendrite': '#d62728',
                   'apical dendrite': '#9467bd'};
  function drawMorphology(d) {
    if (!d) return;
    const views = [['x', 'y', ''], ['x', 'z', '2'], ['z', 'y', '3']];
    const traces = [];
    for (const [name, lines] of Object.entries(d.compartments)) {
      views.forEach(([h, v, axis], index) => traces.push({
        x: lines[h], y: lines[v], mode: 'lines', name, legendgroup: name, showlegend: index === 0,
        line: {width: 1, color: COLOURS[name] || '#2ca02c'}, xaxis: 'x' + axis, yaxis: 'y' + axis,
        hoverinfo: 'skip'}));
    }
    views.forEach(([h, v, axis], index) => traces.push({
      x: [d.soma[h]], y: [d.soma[v]], mode: 'markers', name: 'soma', legendgroup: 'soma marker',
      showlegend: index === 0, marker: {size: 10, color: '#000'}, xaxis: 'x' + axis, yaxis: 'y' + axis}));
    const layout = {height: 480, margin: {t: 30, r: 10, b: 90}, legend: {orientation: 'h', y: -0.22}};
    views.forEach(([h, v, axis], index) => {
      layout['xaxis' + axis] = {domain: [index / 3 + 0.02, (index + 1) / 3 - 0.02], title: {text: h + ' (µm)'}, anchor: 'y' + axis};
      layout['yaxis' + axis] = {title: {text: v + ' (µm)'}, anchor: 'x' + axis, scaleanchor: 'x' + axis,
                                autorange: v === 'y' ? 'reversed' : true};
    });
    layout.title = {text: `${d.nodes} nodes: xy, xz and zy projections`, font: {size: 13}};
    return Plotly.newPlot('morphology', traces, layout, config);
  }

  function drawGlif(modelId) {
    return fetch(`/web/api/glif/${modelId}`).then(asJson).then(d => {
      const div = document.getElementById('glif');
      if (!d) return;
      if (d.problem) { div.innerHTML = `<p class="problem">${d.problem}</p>`; return; }
      return Plotly.react(div, [
        {x: times(d.recorded, d.rate_hz), y: d.recorded.y, name: `recorded, sweep ${d.sweep_number}`,
         line: {width: 1, color: '#1f77b4'}},
        {x: times(d.simulated, d.rate_hz), y: d.simulated.y, name: `${d.model.level_name} model`,
         line: {width: 1, color: '#ff7f0e'}},
      ], {height: 380, margin: {t: 30, r: 10}, xaxis: {title: {text: 'time (s)'}},
          yaxis: {title: {text: 'mV'}}, legend: {orientation: 'h', y: -0.2},
          title: {text: `model ${d.model.neuronal_model_id} over the recorded sweep`, font: {size: 13}}},
        config).then(() => { div.dataset.model = modelId; });
    });
  }

  // the sweep first: the F-I plot draws once the sweep is on screen, not in its way
  const sweepDrawn = ctm.pending.sweep ? ctm.pending.sweep.then(drawSweep).then(watchZoom)
    : Promise.resolve();
  sweepDrawn.then(() => ctm.pending.fi).then(drawFi).then(() => {
    const morphology = document.getElementById('morphology');
    const later = [];
    if (morphology) later.push(fetch(`/web/api/morphology/${ctm.specimen}`).then(asJson).then(drawMorphology));
    const buttons = document.querySelectorAll('button.overlay');
    buttons.forEach(b => b.addEventListener('click', () => drawGlif(b.dataset.model)));
    if (buttons.length) later.push(drawGlif(buttons[buttons.length - 1].dataset.model));
    return Promise.all(later);
  }).then(() => { ctm.done = true; });
})();
