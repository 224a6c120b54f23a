// Landdesk's service worker: "My bookings" (with today's door PINs) stays
// readable without a connection, as in a village hall with no signal at the
// door. Only the member's own bookings page is kept; it is dropped on logout
// and whenever the server no longer shows it (logged out elsewhere). Pages
// work without it: this is an addition, never a requirement.
const CACHE = "landdesk-v1";
const BOOKINGS = "/bookings";
const OFFLINE = "/offline";
const SHELL = ["/static/app.css", OFFLINE];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL).then(() => refreshBookings(cache)))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function refreshBookings(cache) {
  return fetch(BOOKINGS, { credentials: "same-origin" })
    .then((response) => keepOrForget(cache, response))
    .catch(() => undefined);
}

function keepOrForget(cache, response) {
  // A redirect means the login is gone: forget the saved copy.
  if (response.ok && !response.redirected && response.type === "basic") {
    return cache.put(BOOKINGS, response.clone()).then(() => response);
  }
  return cache.delete(BOOKINGS).then(() => response);
}

function offlinePage() {
  return caches
    .match(OFFLINE)
    .then((page) => page || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } }));
}

function savedCopy() {
  return caches.open(CACHE).then((cache) =>
    cache.match(BOOKINGS).then((saved) => {
      if (!saved) return offlinePage();
      // Show the note the page carries for this case ("saved copy").
      return saved.text().then(
        (html) =>
          new Response(html.replace('class="offline-note', 'class="offline-note shown'), {
            headers: { "Content-Type": "text/html; charset=utf-8" },
          }),
      );
    }),
  );
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === "/logout") {
    event.waitUntil(caches.open(CACHE).then((cache) => cache.delete(BOOKINGS)));
    return;
  }
  if (request.method !== "GET") return;
  if (request.mode === "navigate" && url.pathname === BOOKINGS) {
    event.respondWith(
      fetch(request)
        .then((response) =>
          url.search ? response : caches.open(CACHE).then((cache) => keepOrForget(cache, response)),
        )
        .catch(savedCopy),
    );
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(offlinePage));
  } else if (url.pathname === "/static/app.css") {
    event.respondWith(fetch(request).catch(() => caches.match(request)));
  }
});
