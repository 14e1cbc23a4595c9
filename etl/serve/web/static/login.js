// Keep the token as the cookie serve reads (same site only), then go to the search page.
document.getElementById('login').addEventListener('submit', ev => {
  ev.preventDefault();
  const token = document.getElementById('token').value.trim();
  document.cookie = `ctmirror_token=${encodeURIComponent(token)}; path=/; SameSite=Strict`;
  location.href = '/';
});
