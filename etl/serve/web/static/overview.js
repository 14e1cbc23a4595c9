// Bars of the cell counts and histograms of each feature, published over recomputed (binned on
// the server: the basic Plotly bundle has bars but no histogram trace).
(function () {
  const data = JSON.parse(document.getElementById('overview-data').textContent);
  const config = {displaylogo: false, responsive: true};
  Object.entries(data.distributions).forEach(([label, counts], index) => {
    const div = document.getElementById('dist-' + (index + 1));
    Plotly.newPlot(div, [{type: 'bar', x: counts.map(c => c[0]), y: counts.map(c => c[1])}],
      {title: {text: 'cells by ' + label}, height: 300, margin: {t: 40, b: 80}}, config);
  });
  const holder = document.getElementById('histograms');
  Object.entries(data.histograms).forEach(([name, bins]) => {
    const div = document.createElement('div');
    div.className = 'plot';
    holder.appendChild(div);
    Plotly.newPlot(div, ['published', 'recomputed'].map(side => (
      {type: 'bar', x: bins.x, y: bins[side], width: bins.width, name: side, opacity: 0.6})),
      {title: {text: name}, barmode: 'overlay', height: 300, margin: {t: 40}}, config);
  });
})();
