"""Paths outside the API (the web UI's files, the reference page's files, public media)
that no file has: a 404 whatever bytes the path holds (a 400 for bytes that are not
UTF-8), never a 500 or a traceback in the log."""

from __future__ import annotations

import logging
from typing import Any

import pytest


@pytest.mark.parametrize("path, code", [
    ("/ui/%00", 404), ("/ui/app.js%00", 404), ("/ui/js/app.js%00.map", 404), ("/ui/%00/app.js", 404),
    ("/ui/js%00/app.js", 404), ("/ui/js/%00%00", 404), ("/ui/%0a", 404), ("/ui/" + "a" * 5000, 404),
    ("/docs/%00", 404), ("/docs/docs.js%00", 404), ("/docs/swagger-ui/%00", 404),
    ("/media/%00", 404), ("/media/%00.webp", 404), ("/media/aaaaaaaaaaaaaaaa%00.webp", 404),
    # Not UTF-8: Tornado refuses the URL itself.
    ("/ui/%ff", 400), ("/ui/%c0%ae%c0%ae/micropim.py", 400),
])
async def test_odd_bytes_in_a_file_path_are_a_404_not_a_crash(anon: Any, caplog: Any, path: str,
                                                              code: int) -> None:
    with caplog.at_level(logging.INFO):
        response = await anon.get(path)
    assert response.code == code, (path, response.code, response.raw[:200])
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


async def test_the_ui_files_are_still_served(anon: Any) -> None:
    assert (await anon.get("/ui/js/app.js")).code == 200
    assert (await anon.get("/")).code == 200
