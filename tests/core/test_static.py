"""Static files with DEBUG off: served by the web process, compressed, under hashed names."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

MANIFEST = "core.storage.StaticStorage"


@pytest.fixture
def collected(settings, tmp_path):
    """Production's storage and a fresh collectstatic into a temporary STATIC_ROOT."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST}}
    call_command("collectstatic", "--noinput", verbosity=0)
    return settings.STATIC_ROOT


@pytest.mark.django_db
def test_pages_link_hashed_names_that_the_web_process_serves_compressed(collected) -> None:
    client = Client()  # a new handler: WhiteNoise indexes the freshly collected files
    page = client.get("/login/").content.decode()
    css = re.search(r'href="(/static/herald/herald\.[0-9a-f]{12}\.css)"', page)
    assert css, "the login page links the stylesheet by its content-hashed name"
    served = client.get(css.group(1), HTTP_ACCEPT_ENCODING="gzip")
    assert served.status_code == 200
    assert served["Content-Encoding"] == "gzip"
    # Hashed names never change content: cached for a year, and marked immutable.
    assert "immutable" in served["Cache-Control"]
    assert "max-age=315360000" in served["Cache-Control"]
    plain = client.get(css.group(1))
    assert plain.status_code == 200
    assert b"{" in b"".join(plain.streaming_content)
    # The vendored scripts the UI needs are there too; a missing file is a plain 404.
    js = re.search(r'src="(/static/herald/vendor/htmx\.min\.[0-9a-f]{12}\.js)"', page)
    assert js
    assert client.get(js.group(1)).status_code == 200
    assert client.get("/static/herald/nothing-here.css").status_code == 404
