// Installs the service worker (booking/static/sw.js, served at /sw.js so its
// scope is the whole site). Without JavaScript every page works the same.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => undefined);
}
