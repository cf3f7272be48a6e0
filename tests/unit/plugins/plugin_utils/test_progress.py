import pytest

from ansible_collections.lomashwood.multiregion.plugins.callback.progress import _duration, _short_names, progress_line

REPLICAS = ["lomash-%s-prod-replica" % s for s in ("auth", "orders", "products", "content", "customers")]


@pytest.mark.parametrize("names, short", [
    (REPLICAS[:2], ["auth", "orders"]),
    (["lomash-auth-prod-replica"], ["lomash-auth-prod-replica"]),  # one name: nothing shared to drop
    (["a-x", "a-x"], ["x", "x"]),  # never down to nothing
    (["auth-service", "api-gateway"], ["auth-service", "api-gateway"]),
])
def test_short_names_drop_what_all_share(names, short):
    assert _short_names(names) == short


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (41.4, "41s"), (72, "1m 12s"), (3725, "1h 02m")])
def test_duration(seconds, text):
    assert _duration(seconds) == text


def test_progress_line_says_what_is_done_and_what_is_pending():
    progress = {"what": "promotions", "done_word": "available", "total": 8, "elapsed_seconds": 41,
                "done": REPLICAS, "pending": {"lomash-analytics-prod-replica": "modifying",
                                              "lomash-appointments-prod-replica": "modifying"}}
    assert progress_line(progress) == ("promotions: 5/8 available (auth, orders, products, content, ...), "
                                       "pending: analytics (modifying), appointments (modifying); 41s so far")


def test_progress_line_with_nothing_done_yet():
    progress = {"what": "promotions", "done_word": "available", "total": 2, "elapsed_seconds": 3, "done": [],
                "pending": {"lomash-auth-prod-replica": "modifying", "lomash-orders-prod-replica": "not found"}}
    assert progress_line(progress) == "promotions: 0/2 available, pending: auth (modifying), orders (not found); 3s so far"
