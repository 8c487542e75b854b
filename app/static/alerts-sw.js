// The service worker of inboxpilot's web push: shows what the server sent (a count, never
// a follower's words) and opens the queue when the notification is clicked.
"use strict";

self.addEventListener("push", function (event) {
  var data = { title: "inboxpilot", body: "Something needs you.", url: "/queue" };
  try { if (event.data) data = Object.assign(data, event.data.json()); } catch (e) { /* keep defaults */ }
  event.waitUntil(self.registration.showNotification(data.title, {
    body: data.body,
    tag: "inboxpilot-alerts",
    renotify: true,
    data: { url: data.url }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = new URL((event.notification.data && event.notification.data.url) || "/queue", self.location.origin);
  // The worker's scope is /static/, so no page is its client: open the queue anew.
  event.waitUntil(self.clients.openWindow(url.href));
});
