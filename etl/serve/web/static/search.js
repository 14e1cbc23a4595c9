// A ticked or cleared facet value runs the search at once (the filter stays in the URL).
for (const box of document.querySelectorAll('#search input[type=checkbox]')) {
  box.addEventListener('change', () => document.getElementById('search').submit());
}
