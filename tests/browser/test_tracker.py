"""The _ppmatc tracker in a real headless Chromium against the service: order
and exactly-once across the script's load, an outage with a reload in the
middle, a page left right after its pushes, batching, and the generated
visitor id. Every test reads the result from the service's store: the trail
flow records each arrival as one digit (see trail.ppflow)."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import pytest

from browser.harness import TRAIL, wait_for

pytestmark = pytest.mark.browser

VISITOR = "v-browser"


def steps(first: int, last: int) -> str:
    """The script that pushes steps first..last."""
    push = "window._ppmatc.push({track_event: {event_name: 'step', event_data: {n: n}}});"
    return f"for (var n = {first}; n <= {last}; n++) {push}"


def trail(first: int, last: int) -> str:
    return "".join(str(n % 10) for n in range(first, last + 1))


def arrived(page: Any, service: Any, expected: str) -> Any:
    """Waits until the visitor's trail is as long as `expected`, then returns it.
    It waits on the page, so that Playwright meanwhile runs the page's routes."""

    def current() -> str:
        value = service.state(VISITOR).get("trail")
        return "" if value is None else str(value)

    wait_for(lambda: len(current()) >= len(expected), what=f"the trail {expected}", page=page)
    return current()


def track_bodies(page: Any) -> list[dict[str, Any]]:
    """Records the body of every POST /v1/track the page makes (fetch or beacon)."""
    bodies: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: (
            bodies.append(json.loads(r.post_data)) if r.method == "POST" and r.url.endswith("/v1/track") else None
        ),
    )
    return bodies


def test_pushes_before_and_after_the_script_loads_arrive_in_order_once(service_for, site, page):
    service = service_for(TRAIL)
    url = site.page("/", service, before=steps(1, 3), config=f'visitorId: "{VISITOR}",')
    bodies = track_bodies(page)
    page.goto(url)
    page.evaluate(steps(4, 30))  # 27 pushes at once: more than one batch of 20
    assert arrived(page, service, trail(1, 30)) == trail(1, 30)
    assert service.state(VISITOR)["event_count_1"] == 30
    # (Playwright hands the page's events over while it waits on the page)
    page.wait_for_function("(window.results || []).length == 30")
    assert {r["status"] for r in page.evaluate("window.results")} == {"applied"}
    # the three early pushes were drained first-in, first-out into the first request
    first = [e["track_event"]["event_data"]["n"] for e in bodies[0]["batch"]]
    assert first[:3] == [1, 2, 3]
    assert all(len(b["batch"]) <= 20 for b in bodies)
    ids = [e["message_id"] for b in bodies for e in b["batch"]]
    assert len(set(ids)) == 30
    assert all(
        e["visitor_id"] == VISITOR and e["track_event"]["event_timestamp"] > 0 for b in bodies for e in b["batch"]
    )
    assert all(isinstance(b["sent_at"], (int, float)) for b in bodies)


def test_a_push_after_the_script_loads_is_sent_at_once(service_for, site, page):
    service = service_for(TRAIL)
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}",'))
    # the request leaves far sooner than the 3 s the original tracker waited between polls
    with page.expect_request("**/v1/track", timeout=1500):
        page.evaluate(steps(1, 1))
    assert arrived(page, service, trail(1, 1)) == trail(1, 1)


def test_the_queue_survives_an_outage_and_a_reload(service_for, site, page):
    service = service_for(TRAIL)
    url = site.page("/", service, config=f'visitorId: "{VISITOR}",')
    page.goto(url)
    page.evaluate(steps(1, 2))
    assert arrived(page, service, trail(1, 2)) == trail(1, 2)
    service.stop()
    page.evaluate(steps(3, 5))
    # while the service is down the pushes wait in localStorage, retried with backoff
    wait_for(lambda: len(page.evaluate(_QUEUED)) == 3, what="three events queued in localStorage")
    page.reload()
    page.evaluate(steps(6, 7))
    wait_for(lambda: len(page.evaluate(_QUEUED)) == 5, what="five events queued after the reload")
    service.start()
    assert arrived(page, service, trail(1, 7)) == trail(1, 7)
    wait_for(lambda: page.evaluate(_QUEUED) == [], what="the queue to empty")


_QUEUED = """(() => {
  var out = [];
  for (var i = 0; i < localStorage.length; i++) {
    var key = localStorage.key(i);
    var value = key.indexOf("_ppmatc_q") == 0 && localStorage.getItem(key);
    if (value) out = out.concat(JSON.parse(value));
  }
  return out.map(e => e.track_event.event_data.n);
})()"""


def test_events_pushed_just_before_leaving_the_page_arrive(service_for, site, page):
    service = service_for(TRAIL)
    site.pages["/next"] = "<!doctype html><p>another page, without the tracker</p>"
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}",'))
    page.evaluate(steps(1, 5) + f"location.href = '{site.url}/next';")
    page.wait_for_url(site.url + "/next")
    assert arrived(page, service, trail(1, 5)) == trail(1, 5)


def test_a_hidden_page_sends_its_queue_by_beacon(service_for, site, page):
    service = service_for(TRAIL)
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}",'))
    beacons: list[str] = []
    page.on(
        "request", lambda r: beacons.append(r.headers.get("content-type", "")) if r.resource_type == "ping" else None
    )
    # the pushes and the page's hiding in one task: no fetch can start before the beacon
    page.evaluate(
        steps(1, 4)
        + """Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));"""
    )
    assert arrived(page, service, trail(1, 4)) == trail(1, 4)
    assert beacons and beacons[0].startswith("text/plain")


def test_a_queue_too_big_for_one_beacon_sends_its_oldest_part(service_for, site, page):
    service = service_for(TRAIL)
    # only beacons get through; ten events of 30 KB of UTF-8 each are over Chromium's 64 KB for a
    # beacon, so are five; two are not
    page.route(
        "**/v1/track", lambda route: route.continue_() if route.request.resource_type == "ping" else route.abort()
    )
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}",'))
    pad = "\u5b57" * 10_000
    page.evaluate(
        f"""for (var n = 1; n <= 10; n++)
          window._ppmatc.push({{track_event: {{event_name: 'step', event_data: {{n: n, pad: '{pad}'}}}}}});
        Object.defineProperty(document, "visibilityState", {{value: "hidden", configurable: true}});
        document.dispatchEvent(new Event("visibilitychange"));"""
    )
    assert arrived(page, service, trail(1, 2)) == trail(1, 2)


def test_a_generated_visitor_id_is_kept_across_page_loads(service_for, site, page):
    service = service_for(TRAIL)
    url = site.page("/", service)
    page.goto(url)
    first = page.evaluate("window._ppmatc.visitorId")
    page.reload()
    assert page.evaluate("window._ppmatc.visitorId") == first
    assert page.evaluate("localStorage.getItem('_ppmatc_visitor')") == first


def test_message_ids_without_crypto_random_uuid(service_for, site, page):
    # randomUUID exists only in secure contexts; a site on plain http elsewhere than localhost lacks it
    service = service_for(TRAIL)
    page.add_init_script("delete Crypto.prototype.randomUUID;")
    bodies = track_bodies(page)
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}",'))
    assert page.evaluate("typeof crypto.randomUUID") == "undefined"
    page.evaluate(steps(1, 3))
    assert arrived(page, service, trail(1, 3)) == trail(1, 3)
    page.wait_for_function("(window.results || []).length == 3")
    ids = [e["message_id"] for b in bodies for e in b["batch"]]
    assert len(set(ids)) == 3
    assert all(len(i) == 36 and i[14] == "4" for i in ids)


def test_an_event_the_service_rejects_is_dropped_and_the_rest_go_on(service_for, site, page):
    service = service_for(TRAIL)
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}",'))
    page.evaluate(steps(1, 2) + "window._ppmatc.push({track_event: {event_name: 'no_such_event'}});" + steps(3, 4))
    assert arrived(page, service, trail(1, 4)) == trail(1, 4)
    page.wait_for_function("(window.results || []).length == 5")
    assert [r["status"] for r in page.evaluate("window.results")].count("rejected") == 1
    wait_for(lambda: page.evaluate(_QUEUED) == [], what="the queue to empty")


def answer_first(page: Any, answers: list[tuple[int, dict[str, str]]]) -> list[tuple[float, dict[str, Any]]]:
    """Answers the page's first POSTs /v1/track with these (status, headers) in
    the service's place and lets the later ones through; returns the time and
    body of every request."""
    seen: list[tuple[float, dict[str, Any]]] = []

    def route(route: Any) -> None:
        seen.append((time.monotonic(), json.loads(route.request.post_data)))
        if len(seen) <= len(answers):
            status, headers = answers[len(seen) - 1]
            route.fulfill(status=status, body='{"error": "made up by the test"}', headers={**_CORS, **headers})
        else:
            route.continue_()

    page.route("**/v1/track", route)
    return seen


def test_server_errors_are_retried_with_the_same_message_ids(service_for, site, page):
    service = service_for(TRAIL)
    seen = answer_first(page, [(503, {}), (500, {})])
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}",'))
    page.evaluate(steps(1, 3))
    assert arrived(page, service, trail(1, 3)) == trail(1, 3)
    ids = [[e["message_id"] for e in body["batch"]] for _, body in seen]
    assert len(ids) == 3 and ids[0] == ids[1] == ids[2]


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_retry_after_is_honoured(service_for, site, page, form):
    service = service_for(TRAIL)
    # an HTTP date has whole seconds: 5 s ahead is 4 to 5 s away
    after = "3" if form == "seconds" else email.utils.formatdate(time.time() + 5, usegmt=True)
    seen = answer_first(page, [(429, {"Retry-After": after})])
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}",'))
    page.evaluate(steps(1, 1))
    assert arrived(page, service, trail(1, 1)) == trail(1, 1)
    page.wait_for_function("(window.results || []).length == 1")
    # without Retry-After the first retry comes after 0.5 to 1 s (the times are
    # taken when Playwright hands a request over, give or take a few tenths)
    assert seen[1][0] - seen[0][0] >= 2.5


def test_a_request_refused_whole_is_retried_in_halves(service_for, site, page):
    service = service_for(TRAIL)
    # the batch of five is refused, then its older half, then the first event alone: only that one is dropped
    seen = answer_first(page, [(413, {}), (400, {}), (400, {})])
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}",'))
    page.evaluate(steps(1, 5))
    assert arrived(page, service, trail(2, 5)) == trail(2, 5)
    batches = [[e["track_event"]["event_data"]["n"] for e in body["batch"]] for _, body in seen]
    assert batches == [[1, 2, 3, 4, 5], [1, 2], [1], [2, 3, 4, 5]]


def test_the_queue_cap_drops_the_oldest_events(service_for, site, page):
    service = service_for(TRAIL)
    page.route("**/v1/track", lambda route: route.abort())
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}", queueCap: 5,'))
    page.evaluate(steps(1, 8))
    assert page.evaluate(_QUEUED) == [4, 5, 6, 7, 8]


# a cross-origin answer made up by a test: the page may read it, and its Retry-After
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Retry-After",
    "Content-Type": "application/json",
}


def test_the_write_key_goes_in_the_body_and_a_wrong_one_loses_nothing(service_for, site, page):
    service = service_for(TRAIL, write_key="site-key")
    page.goto(site.page("/", service, config=f'visitorId: "{VISITOR}", writeKey: "wrong",'))
    page.evaluate(steps(1, 2))
    page.wait_for_timeout(1500)
    assert service.state(VISITOR) == {}
    assert page.evaluate(_QUEUED) == [1, 2]  # 401 is retried, never dropped
    page.goto(site.page("/right", service, config=f'visitorId: "{VISITOR}", writeKey: "site-key",'))
    assert arrived(page, service, trail(1, 2)) == trail(1, 2)
