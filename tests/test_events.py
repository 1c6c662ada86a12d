"""Change events: written in the transaction of the change, read from `GET /api/events`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from store.db import Database
from tests.factories import draw, post_product, upload

NDJSON = {"Content-Type": "application/x-ndjson"}


async def feed(api: Any, after: int | None = None, **query: Any) -> dict[str, Any]:
    params = {**({"after": after} if after is not None else {}), **query}
    path = "/api/events" + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
    response = await api.get(path)
    assert response.code == 200, response.body
    return dict(response.data)


async def new_events(api: Any, after: int) -> list[dict[str, Any]]:
    """Every event after `after`, following `next_after` page by page."""
    seen: list[dict[str, Any]] = []
    while True:
        page = await feed(api, after, limit=7)
        seen += page["events"]
        if not page["events"]:
            assert page["next_after"] == after
            return seen
        after = page["next_after"]
        assert after == page["events"][-1]["id"]


async def latest(api: Any) -> int:
    return int((await feed(api, limit=1000))["next_after"])


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(event["type"], event["object_id"]) for event in events]


async def test_every_kind_of_write_emits_its_event_with_the_object_as_get_shows_it(api: Any) -> None:
    async def one(after: int, expected: list[tuple[str, int]]) -> list[dict[str, Any]]:
        events = await new_events(api, after)
        assert kinds(events) == expected
        for event in events:
            assert event["occurred_at"].endswith("Z") and set(event) == {
                "id", "type", "object_id", "product_id", "occurred_at", "data"}
        return events

    start = await latest(api)
    product = await post_product(api, "Mug", "MUG-1", price="9.5")
    pid = product["id"]
    [created] = await one(start, [("product.created", pid)])
    assert created["data"] == (await api.get(f"/api/products/{pid}")).data and created["product_id"] == pid

    mark = await latest(api)
    await api.patch(f"/api/products/{pid}", {"name": "Big mug"})
    [updated] = await one(mark, [("product.updated", pid)])
    assert updated["data"] == (await api.get(f"/api/products/{pid}")).data
    assert updated["data"]["name"] == "Big mug"

    mark = await latest(api)
    await api.put(f"/api/products/{pid}/stock", [{"warehouse_id": 1, "quantity": 4}])
    [stock] = await one(mark, [("stock.updated", pid)])
    assert stock["data"] == (await api.get(f"/api/products/{pid}/stock")).data

    mark = await latest(api)
    category = (await api.post("/api/categories", {"name": "Kitchen"})).data
    child = (await api.post("/api/categories", {"name": "Cups", "parent_id": category["id"]})).data
    await api.put(f"/api/categories/{child['id']}", {"description": "For tea"})
    await api.post(f"/api/categories/{child['id']}/move", {"parent_id": None, "position": 0})
    events = await one(mark, [("category.created", category["id"]), ("category.created", child["id"]),
                              ("category.updated", child["id"]), ("category.moved", child["id"])])
    assert events[-1]["data"] == (await api.get(f"/api/categories/{child['id']}")).data
    assert events[-1]["product_id"] is None

    mark = await latest(api)
    await api.post(f"/api/categories/{category['id']}/products", {"product_ids": [pid]})
    gone = (await api.get(f"/api/categories/{category['id']}")).data
    await api.delete(f"/api/categories/{category['id']}")
    events = await one(mark, [("product.updated", pid), ("product.updated", pid), ("category.deleted", category["id"])])
    assert [c["id"] for c in events[0]["data"]["categories"]] == [category["id"]]
    assert events[1]["data"]["categories"] == []
    assert events[2]["data"] == gone

    shirt = (await post_product(api, "Shirt", "SH-1"))["id"]
    mark = await latest(api)
    variant = (await api.post(f"/api/products/{shirt}/variants", {"sku": "SH-1-RED"})).data
    await api.patch(f"/api/products/{shirt}/variants/{variant['id']}", {"price": "11"})
    shown = (await api.get(f"/api/products/{shirt}/variants/{variant['id']}")).data
    await api.delete(f"/api/products/{shirt}/variants/{variant['id']}")
    events = await one(mark, [("variant.created", variant["id"]), ("variant.updated", variant["id"]),
                              ("variant.deleted", variant["id"])])
    assert events[1]["data"] == shown == events[2]["data"] and events[0]["product_id"] == shirt

    mark = await latest(api)
    media = (await upload(api, pid, draw(1))).body["data"]
    await api.patch(f"/api/products/{pid}/media/{media['id']}", {"alt_text": "A mug"})
    shown = (await api.get(f"/api/products/{pid}/media/{media['id']}")).data
    await api.delete(f"/api/products/{pid}/media/{media['id']}")
    events = await one(mark, [("media.created", media["id"]), ("media.updated", media["id"]),
                              ("media.deleted", media["id"])])
    assert events[0]["data"]["alt_text"] == "" and events[1]["data"] == shown == events[2]["data"]

    mark = await latest(api)
    await api.put(f"/api/products/{pid}/translations/ro", {"name": "Cană"})
    await api.put(f"/api/products/{pid}/translations/de", {"name": "Becher"})
    shown = (await api.get(f"/api/products/{pid}/translations/ro")).data
    await api.delete(f"/api/products/{pid}/translations/ro")
    events = await one(mark, [("translation.updated", pid), ("translation.updated", pid), ("translation.deleted", pid)])
    assert [event["data"]["locale"] for event in events] == ["ro", "de", "ro"]
    assert events[0]["data"] == shown == events[2]["data"]

    mark = await latest(api)
    attribute = (await api.post("/api/product-attributes", {"name": "Volume", "type": "number"})).data
    await api.patch(f"/api/product-attributes/{attribute['id']}", {"name": "Capacity"})
    await api.patch(f"/api/products/{pid}", {"attributes": {attribute["code"]: 300}})
    shown = (await api.get(f"/api/product-attributes/{attribute['id']}")).data
    await api.delete(f"/api/product-attributes/{attribute['id']}")
    events = await one(mark, [("attribute.created", attribute["id"]), ("attribute.updated", attribute["id"]),
                              ("product.updated", pid), ("attribute.deleted", attribute["id"]),
                              ("product.updated", pid)])
    assert events[1]["data"] == shown == events[3]["data"]
    assert events[4]["data"]["attributes"] == {} == (await api.get(f"/api/products/{pid}")).data["attributes"]

    mark = await latest(api)
    await api.delete(f"/api/products/{pid}")
    [archived] = await one(mark, [("product.archived", pid)])
    assert archived["data"]["status"] == "archived" == (await api.get(f"/api/products/{pid}")).data["status"]


async def test_writes_that_change_nothing_or_are_refused_emit_nothing(api: Any) -> None:
    product = await post_product(api, "Mug", "MUG-1", price="9.5")
    pid = product["id"]
    await api.put(f"/api/products/{pid}/translations/ro", {"name": "Cană"})
    mark = await latest(api)
    assert (await api.patch(f"/api/products/{pid}", {"name": "Mug", "price": "9.50"})).code == 200
    assert (await api.put(f"/api/products/{pid}/translations/ro", {"name": "Cană"})).code == 200
    assert (await api.put(f"/api/products/{pid}/stock", [{"warehouse_id": 1, "quantity": 0}])).code == 200
    assert (await api.patch(f"/api/products/{pid}", {"price": "-1"})).code == 400
    assert (await api.post("/api/products", {"name": "Again", "sku": "MUG-1"})).code == 400
    assert (await api.patch(f"/api/products/{pid}", {"category_ids": [999]})).code == 400
    await api.delete(f"/api/products/{pid}")
    after_archive = await latest(api)
    await api.delete(f"/api/products/{pid}")  # already archived
    assert await latest(api) == after_archive
    assert kinds(await new_events(api, mark)) == [("product.archived", pid)]


async def test_bulk_lines_emit_like_single_writes_and_a_failed_line_none(api: Any) -> None:
    mark = await latest(api)
    lines = [
        {"sku": "B-1", "name": "One", "translations": {"ro": {"name": "Unu"}, "de": {"name": "Eins"}},
         "variants": [{"sku": "B-1-S"}]},
        {"sku": "B-2", "name": "Two", "price": "-5"},  # refused: nothing of it, no event
        {"sku": "B-1", "name": "One, renamed"},
        {"sku": "B-1", "name": "One, renamed"},  # unchanged
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    dry = await api.call("POST", "/api/products/bulk?dry_run=true", raw=body, headers=NDJSON)
    assert dry.code == 200 and await latest(api) == mark
    answer = await api.call("POST", "/api/products/bulk", raw=body, headers=NDJSON)
    assert [result["status"] for result in answer.data["results"]] == ["created", "failed", "updated", "unchanged"]
    pid = answer.data["results"][0]["id"]
    events = await new_events(api, mark)
    variant_id = (await api.get(f"/api/products/{pid}/variants")).data["variants"][0]["id"]
    assert kinds(events) == [("product.created", pid), ("translation.updated", pid),
                             ("translation.updated", pid), ("variant.created", variant_id),
                             ("product.updated", pid)]
    assert events[0]["data"]["name"] == "One"  # each line's events show what that line did
    assert [event["data"]["locale"] for event in events[1:3]] == ["ro", "de"]
    assert events[4]["data"] == (await api.get(f"/api/products/{pid}")).data


async def test_the_feed_pages_filters_and_refuses_bad_parameters(api: Any) -> None:
    mark = await latest(api)
    ids = [(await post_product(api, f"P{n}", f"P-{n}"))["id"] for n in range(5)]
    await api.put(f"/api/products/{ids[0]}/stock", [{"warehouse_id": 1, "quantity": 2}])
    page = await feed(api, mark, limit=2)
    assert [event["object_id"] for event in page["events"]] == ids[:2]
    assert page["next_after"] == page["events"][1]["id"]
    rest = await feed(api, page["next_after"])
    assert kinds(rest["events"]) == [("product.created", i) for i in ids[2:]] + [("stock.updated", ids[0])]
    only = await feed(api, mark, type="stock.updated")
    assert kinds(only["events"]) == [("stock.updated", ids[0])]
    both = await feed(api, mark, type="stock.*,product.created")
    assert len(both["events"]) == 6
    assert (await feed(api, mark, type="variant.*"))["events"] == []
    assert (await feed(api, 10**9)) == {"events": [], "next_after": 10**9}
    for query, message in [
        ("limit=0", "limit: must be between 1 and 1000"),
        ("limit=1001", "limit: must be between 1 and 1000"),
        ("after=-1", "after: must be between 0 and "),
        ("after=x", "after: must be an integer"),
        ("type=product", "type: unknown event type 'product'"),
        ("type=product.sold", "type: unknown event type 'product.sold'"),
        ("since=1", "since: unknown query parameter"),
    ]:
        refused = await api.get(f"/api/events?{query}")
        assert refused.code == 400 and refused.error.startswith(message), (query, refused.body)


async def test_organizations_see_only_their_own_events(api: Any, other_api: Any, anon: Any) -> None:
    await post_product(api, "Mine", "M-1")
    theirs = await post_product(other_api, "Theirs", "T-1")
    mine = await feed(api)
    assert [event["data"]["sku"] for event in mine["events"]] == ["M-1"]
    other = await feed(other_api)
    assert kinds(other["events"]) == [("product.created", theirs["id"])]
    # A cursor taken from another organization's feed shows nothing of it.
    assert (await feed(other_api, 0))["events"] == other["events"]
    assert (await anon.get("/api/events")).code == 401


async def test_readers_paging_during_concurrent_writes_see_every_event_once_in_order(api: Any) -> None:
    mark = await latest(api)
    seen: list[dict[str, Any]] = []
    writing = True

    async def write(n: int) -> None:
        product = await post_product(api, f"C{n}", f"C-{n}")
        await api.patch(f"/api/products/{product['id']}", {"name": f"C{n} again"})

    async def read() -> None:
        after = mark
        while writing or (await feed(api, after))["events"]:
            page = await feed(api, after, limit=3)
            seen.extend(page["events"])
            after = page["next_after"]
            await asyncio.sleep(0)

    reader = asyncio.ensure_future(read())
    await asyncio.gather(*(write(n) for n in range(20)))
    writing = False
    await reader
    ids = [event["id"] for event in seen]
    assert ids == sorted(set(ids)) and len(ids) == 40
    assert sorted(kinds(seen)).count(("product.created", seen[0]["object_id"])) == 1


async def test_retention_removes_old_events_and_an_older_cursor_answers_410(api: Any, app: Any, db: Database) -> None:
    ids = [(await post_product(api, f"R{n}", f"R-{n}"))["id"] for n in range(3)]
    events = (await feed(api))["events"]
    # The first two happened long ago.
    for event in events[:2]:
        db.execute_sql("UPDATE event SET occurred_at = '2020-01-01T00:00:00.000000Z' WHERE id = ?", (event["id"],))
    app.remove_old_events_now()
    kept = await feed(api)
    assert kinds(kept["events"]) == [("product.created", ids[2])]
    assert kinds((await feed(api, events[1]["id"]))["events"]) == [("product.created", ids[2])]
    for cursor in (0, events[0]["id"]):
        gone = await api.get(f"/api/events?after={cursor}")
        assert gone.code == 410
        assert gone.error == (f"after: the events up to {events[1]['id']} are no longer kept;"
                              f" the oldest kept is {events[2]['id']}: resync, then read from"
                              f" after={events[2]['id'] - 1}")
    # Ids are never reused: the next event comes after every removed one.
    await post_product(api, "R3", "R-3")
    assert (await feed(api, events[1]["id"]))["events"][-1]["id"] > events[2]["id"]


async def test_a_rolled_back_write_leaves_no_event(db: Database, org_id: int) -> None:
    from store.products import write

    before = db.execute_sql("SELECT count(*) FROM event").fetchone()[0]
    try:
        with db.writing():
            write.create_product(db, org_id, {"name": "Lost", "sku": "L-1"})
            raise RuntimeError("the process fails before commit")
    except RuntimeError:
        pass
    assert db.execute_sql("SELECT count(*) FROM event").fetchone()[0] == before
    assert db.execute_sql("SELECT count(*) FROM product WHERE sku = 'L-1'").fetchone()[0] == 0
    with db.writing():
        write.create_product(db, org_id, {"name": "Kept", "sku": "K-1"})
    row = db.execute_sql("SELECT type, json_extract(data, '$.sku') FROM event ORDER BY id DESC LIMIT 1").fetchone()
    assert tuple(row) == ("product.created", "K-1")


async def test_newest_first_pages_back_with_before(api: Any) -> None:
    mark = await latest(api)
    ids = [(await post_product(api, f"N{n}", f"N-{n}"))["id"] for n in range(5)]
    page = await feed(api, mark, order="newest", limit=2)
    assert [event["object_id"] for event in page["events"]] == [ids[4], ids[3]]
    assert page["next_after"] == page["events"][0]["id"]  # the highest: where following starts
    back = await feed(api, mark, order="newest", limit=2, before=page["events"][-1]["id"])
    assert [event["object_id"] for event in back["events"]] == [ids[2], ids[1]]
    window = await feed(api, mark, before=page["events"][-1]["id"])
    assert [event["object_id"] for event in window["events"]] == ids[:3]
    refused = await api.get("/api/events?order=latest")
    assert refused.code == 400 and refused.error == "order: must be one of oldest, newest"
