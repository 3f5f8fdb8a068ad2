"""The pages' own assets: served from this service (no CDN), htmx from the pinned package."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_htmx_and_the_stylesheet_are_served_locally(web: TestClient) -> None:
    htmx = web.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200, "run `make install`: it fetches the pinned htmx package"
    assert "htmx" in htmx.text[:2000]
    assert web.get("/static/venapath.css").status_code == 200
    page = web.get("/evaluate").text
    assert "https://" not in page.split("<body", 1)[0]  # nothing from another host in <head>
    assert "<script>" not in page
    assert " style=" not in page
