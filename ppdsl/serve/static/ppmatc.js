/* ppmatc.js: the _ppmatc tracker of `ppdsl serve`. A page pushes
 * {track_event: {...}} objects onto window._ppmatc; this script sends them to
 * POST /v1/track in order, each exactly once, and hands the replies back.
 *
 * - Pushes made before the script loaded are drained first-in, first-out;
 *   later pushes start a send at once (no polling).
 * - Each push gets a message_id when it is pushed; retries reuse it, so the
 *   service applies it once however often it arrives.
 * - At most 20 events a request and one request in flight; events pushed
 *   meanwhile go in the next one. Network errors, 5xx, 429 and 401 are retried
 *   with exponential backoff and jitter (Retry-After wins); only events the
 *   service rejected, and the oldest ones past the queue cap, are dropped.
 * - The queue lives in localStorage, so a reload or a later visit sends what is
 *   left. When the page is hidden or left, what is queued goes by sendBeacon.
 * - window._ppmatc_config = {endpoint, writeKey, visitorId, onReply, onResult,
 *   queueCap}. Without visitorId, a generated id is kept in localStorage.
 *
 * Requests are text/plain with the write key in the body: a simple CORS
 * request, no preflight, and the same body a beacon sends. */
(function (w) {
  "use strict";
  var pre = w._ppmatc;
  if (pre && pre.loaded) return; // loaded twice: the first copy does the work
  var cfg = w._ppmatc_config || {};
  var doc = w.document;
  var script = doc.currentScript;
  var endpoint = cfg.endpoint || (script && script.src ? new URL("/v1/track", script.src).href : "/v1/track");
  var BATCH = 20;
  var cap = cfg.queueCap || 1000;
  var PREFIX = "_ppmatc_q";
  var store = storage();
  var key = PREFIX + Date.now().toString(36) + uuid().slice(0, 8);
  var queue = adopt();
  var visitorId = cfg.visitorId || remembered();
  var busy = false;
  var timer = null;
  var failures = 0;

  function storage() {
    try {
      var s = w.localStorage;
      s.setItem(PREFIX, "");
      s.removeItem(PREFIX);
      return s;
    } catch (e) {
      return null; // storage off (privacy settings): the queue lives in memory only
    }
  }

  function uuid() {
    var c = w.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    // randomUUID needs a secure context; getRandomValues does not
    var b = new Uint8Array(16), i, s = "";
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (i = 0; i < 16; i++) b[i] = Math.random() * 256;
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    for (i = 0; i < 16; i++) s += (b[i] + 256).toString(16).slice(1) + (i == 3 || i == 5 || i == 7 || i == 9 ? "-" : "");
    return s;
  }

  function remembered() {
    var id = store && store.getItem("_ppmatc_visitor");
    if (!id) {
      id = uuid();
      if (store) store.setItem("_ppmatc_visitor", id);
    }
    return id;
  }

  // Take over the queues that earlier page loads (or other open tabs) left, oldest
  // first. A tab that is still open writes its own queue back on its next change:
  // both then send the same events, and the service keeps one of each.
  function adopt() {
    var keys = [], seen = {}, out = [], i, j, items;
    if (!store) return out;
    for (i = 0; i < store.length; i++) if (store.key(i).indexOf(PREFIX) == 0) keys.push(store.key(i));
    keys.sort();
    for (i = 0; i < keys.length; i++) {
      try {
        items = JSON.parse(store.getItem(keys[i])) || [];
      } catch (e) {
        items = [];
      }
      store.removeItem(keys[i]);
      for (j = 0; j < items.length; j++)
        if (items[j] && !seen[items[j].message_id]) {
          seen[items[j].message_id] = 1;
          out.push(items[j]);
        }
    }
    return out;
  }

  function save() {
    if (queue.length > cap) queue.splice(0, queue.length - cap); // the cap drops the oldest
    if (!store) return;
    try {
      if (queue.length) store.setItem(key, JSON.stringify(queue));
      else store.removeItem(key);
    } catch (e) {
      // quota exceeded: the queue still lives in memory
    }
  }

  function push() {
    for (var i = 0; i < arguments.length; i++) {
      var item = arguments[i] || {};
      var event = item.track_event || item;
      if (event.event_timestamp == null) event.event_timestamp = Date.now() / 1000;
      var envelope = { visitor_id: visitorId, message_id: item.message_id || uuid(), track_event: event };
      if (item.visitor) envelope.visitor = item.visitor;
      queue.push(envelope);
    }
    save();
    schedule(0);
    return queue.length;
  }

  function schedule(delay) {
    if (!timer && !busy && queue.length) timer = setTimeout(flush, delay);
  }

  function body(batch) {
    var b = { batch: batch, sent_at: Date.now() / 1000 };
    if (cfg.writeKey) b.writeKey = cfg.writeKey;
    return JSON.stringify(b);
  }

  function flush() {
    timer = null;
    if (busy || !queue.length) return;
    busy = true;
    var batch = queue.slice(0, BATCH);
    var text = body(batch);
    var abort = w.AbortController ? new AbortController() : null;
    var hung = setTimeout(function () {
      if (abort) abort.abort();
    }, 15000);
    fetch(endpoint, {
      method: "POST",
      body: text,
      headers: { "Content-Type": "text/plain" },
      // keepalive lets the request outlive the page, within 64 KB for all such requests
      // (20000 UTF-16 units are at most 60 KB of UTF-8); a retry goes without it
      keepalive: !failures && text.length < 20000,
      signal: abort && abort.signal,
    })
      .then(function (response) {
        var status = response.status;
        if (status == 200) return response.json().then(function (json) { done(batch, json.results || []); });
        if (status == 400 || status == 413) {
          // the request itself was refused: its older half goes alone, down to one event,
          // which is dropped if it is refused alone
          if (batch.length == 1) return done(batch, [{ status: "rejected", error: "HTTP " + status }]);
          BATCH = batch.length >> 1;
          return retry(0);
        }
        retry(wait(response.headers.get("Retry-After")));
      })
      .catch(function () {
        retry(0);
      })
      .then(function () {
        clearTimeout(hung);
      });
  }

  function done(batch, results) {
    var sent = {}, i, r, a;
    for (i = 0; i < batch.length; i++) {
      sent[batch[i].message_id] = 1;
      r = results[i] || {};
      if (r.status == "rejected" && w.console) console.warn("_ppmatc: event rejected:", r.error || r.message, batch[i].track_event);
      if (cfg.onResult) call(cfg.onResult, r, batch[i]);
      if (cfg.onReply && r.actions) for (a = 0; a < r.actions.length; a++) call(cfg.onReply, r.actions[a], r);
    }
    queue = queue.filter(function (e) {
      return !sent[e.message_id];
    });
    save();
    busy = false;
    failures = 0;
    BATCH = 20;
    schedule(0);
  }

  function call(f, x, y) {
    try {
      f(x, y);
    } catch (e) {
      setTimeout(function () {
        throw e; // the page's error, reported without stopping the tracker
      });
    }
  }

  // Retry-After in seconds or as an HTTP date; null (or unreadable) gives 0
  function wait(header) {
    var ms = header == null ? 0 : isNaN(header) ? Date.parse(header) - Date.now() : header * 1000;
    return ms > 0 ? ms : 0;
  }

  function retry(after) {
    busy = false;
    failures++;
    var backoff = Math.min(60000, 1000 * Math.pow(2, failures - 1));
    schedule(Math.max(after, backoff * (0.5 + Math.random() / 2)));
  }

  // What is queued goes in one beacon; the browser refuses one over its limit
  // (64 KB in Chromium), and then the older half is tried, and so on. It stays
  // queued: whether a beacon arrived is never known, and a copy sent again later
  // is a duplicate the service ignores.
  function beacon() {
    var n = navigator.sendBeacon ? queue.length : 0;
    while (n > 0 && !navigator.sendBeacon(endpoint, new Blob([body(queue.slice(0, n))], { type: "text/plain" }))) n >>= 1;
  }

  doc.addEventListener("visibilitychange", function () {
    if (doc.visibilityState == "hidden") beacon();
  });
  w.addEventListener("pagehide", beacon);
  w.addEventListener("online", function () {
    clearTimeout(timer);
    timer = null;
    schedule(0);
  });

  w._ppmatc = { push: push, loaded: true, visitorId: visitorId };
  if (pre && pre.length) push.apply(null, pre);
  else schedule(0);
})(window);
