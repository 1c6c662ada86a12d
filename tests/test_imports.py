"""Import jobs: a feed imported in the background, followed by `GET /api/imports/{id}`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from store.db import Database
from tests.factories import multipart

NDJSON = {"Content-Type": "application/x-ndjson"}


def ndjson(*lines: Any) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


async def finished(api: Any, job_id: int, timeout: float = 30) -> dict[str, Any]:
    """The job once it is no longer queued or running."""
    for _ in range(int(timeout / 0.05)):
        job = (await api.get(f"/api/imports/{job_id}")).data
        if job["status"] not in ("queued", "running"):
            return dict(job)
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {job_id} still {job['status']}")


async def test_a_job_imports_in_the_background_and_reports_its_failed_lines(api: Any, db: Database) -> None:
    lines = [{"sku": f"J-{n}", "name": f"Job {n}"} for n in range(300)]
    lines[10] = {"sku": "J-10", "price": "1"}  # new, but no name
    lines[20] = {"sku": "J-20", "name": "X", "price": "-2"}
    started = await api.call("POST", "/api/imports", raw=ndjson(*lines), headers=NDJSON)
    assert started.code == 202, started.body
    job = started.data
    assert job["status"] == "queued" and job["total_lines"] == 300 and job["format"] == "ndjson"
    done = await finished(api, job["id"])
    assert done["status"] == "done", done
    assert (done["done_lines"], done["created"], done["failed"]) == (300, 298, 2)
    assert done["errors"] == [{"line": 11, "sku": "J-10", "error": "name: is required"},
                              {"line": 21, "sku": "J-20", "error": "price: must not be negative"}]
    assert done["started_at"] and done["finished_at"]
    assert db.execute_sql("SELECT count(*) FROM product").fetchone()[0] == 298
    listed = (await api.get("/api/imports")).data
    assert [item["id"] for item in listed["imports"]] == [job["id"]]


async def test_a_csv_file_part_is_imported_and_a_bad_file_refused(api: Any) -> None:
    body, content_type = multipart({}, {"file": ("feed.csv", b"sku;name\nF-1;From a file\n")})
    started = await api.call("POST", "/api/imports?dry_run=true", raw=body, headers={"Content-Type": content_type})
    assert started.code == 202, started.body
    done = await finished(api, started.data["id"])
    assert (done["status"], done["format"], done["dry_run"], done["created"]) == ("done", "csv", True, 1)
    assert (await api.get("/api/products")).data["pagination"]["total_items"] == 0  # a dry run
    wrong, content_type = multipart({}, {"file": ("feed.xlsx", b"PK...")})
    refused = await api.call("POST", "/api/imports", raw=wrong, headers={"Content-Type": content_type})
    assert refused.code == 400 and refused.error == "file: 'feed.xlsx' is not a .csv, .ndjson or .jsonl file"
    header, content_type = multipart({}, {"file": ("feed.csv", b"sku,colour\nX,red\n")})
    started = await api.call("POST", "/api/imports", raw=header, headers={"Content-Type": content_type})
    failed = await finished(api, started.data["id"])
    assert (failed["status"], failed["message"]) == ("failed", "colour: unknown column")


async def test_a_running_job_can_be_cancelled_and_keeps_what_it_committed(api: Any, db: Database) -> None:
    lines = [{"sku": f"C-{n}", "name": f"Cancel {n}"} for n in range(20_000)]
    started = await api.call("POST", "/api/imports", raw=ndjson(*lines), headers=NDJSON)
    job_id = started.data["id"]
    for _ in range(400):
        job = (await api.get(f"/api/imports/{job_id}")).data
        if job["done_lines"] > 0:
            break
        await asyncio.sleep(0.02)
    cancelled = await api.delete(f"/api/imports/{job_id}")
    assert cancelled.code == 200, cancelled.body
    done = await finished(api, job_id)
    assert done["status"] == "cancelled" and 0 < done["done_lines"] < 20_000, done
    assert db.execute_sql("SELECT count(*) FROM product").fetchone()[0] == done["created"]
    again = await api.delete(f"/api/imports/{job_id}")
    assert again.code == 400 and again.error == f"id: import {job_id} has finished (cancelled)"


async def test_another_organizations_jobs_are_invisible(api: Any, other_api: Any) -> None:
    started = await api.call("POST", "/api/imports", raw=ndjson({"sku": "T-1", "name": "T"}), headers=NDJSON)
    job_id = started.data["id"]
    for call in (other_api.get(f"/api/imports/{job_id}"), other_api.delete(f"/api/imports/{job_id}")):
        response = await call
        assert response.code == 404 and response.error == f"import {job_id} not found"
    assert (await other_api.get("/api/imports")).data["imports"] == []
    await finished(api, job_id)
