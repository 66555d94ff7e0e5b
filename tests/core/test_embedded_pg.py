"""core.embedded_pg: the PostgreSQL of `make run` and the unit tests, from the pip wheel.

One test walks a real instance's life in a scratch directory (the unit run's own server in
var/pgtest is another instance, untouched): first start, a second start that finds it running,
a `kill -9` of the postmaster and a start that recovers the committed rows, stop.
"""

import os
import signal
from pathlib import Path

import psycopg
import pytest

from core import embedded_pg


def test_an_instance_lives_in_var_unless_its_socket_path_would_be_too_long(tmp_path) -> None:
    assert embedded_pg.instance_dir(tmp_path / "var", "pg") == tmp_path / "var" / "pg"
    deep = tmp_path / ("d" * 90) / "var"
    moved = embedded_pg.instance_dir(deep, "pg")
    assert moved.parent == Path("/tmp")
    assert moved.name.startswith("herald-pg-")
    assert moved == embedded_pg.instance_dir(deep, "pg")  # the same checkout, the same place
    assert moved != embedded_pg.instance_dir(deep, "pgtest")


def test_the_database_url_carries_the_socket_directory_as_its_host() -> None:
    url = embedded_pg.database_url(Path("/srv/herald/var/pg"), "herald")
    assert url == "postgres://postgres@/herald?host=/srv/herald/var/pg"
    import environ

    # As DATABASE_URL: Django hands OPTIONS to psycopg, so the socket directory is the host.
    parsed = environ.Env.db_url_config(url)
    assert (parsed["NAME"], parsed["USER"]) == ("herald", "postgres")
    assert parsed["OPTIONS"] == {"host": "/srv/herald/var/pg"}


def test_start_stop_and_a_killed_server_that_restarts_with_its_data(tmp_path) -> None:
    directory = tmp_path / "pg"
    try:
        assert embedded_pg.start(directory, options=embedded_pg.FAST) is True
        assert embedded_pg.start(directory) is False  # already running: used as it is
        assert embedded_pg.is_running(directory)
        assert embedded_pg.create_database(directory, "herald") is True
        assert embedded_pg.create_database(directory, "herald") is False
        with psycopg.connect(embedded_pg.database_url(directory, "herald")) as conn:
            # Written to the WAL at commit (the instance's asynchronous commit could still hold
            # it in shared memory when the server is killed).
            conn.execute("SET synchronous_commit TO on")
            conn.execute("CREATE TABLE kept AS SELECT generate_series(1, 100) AS n")
        # No TCP port: a socket file in the instance's own directory.
        assert (directory / f".s.PGSQL.{embedded_pg.PORT}").is_socket()
        with embedded_pg.connect(directory) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)

        pid = embedded_pg._postmaster_pid(directory / "data")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # Until its parent reaps it the killed postmaster still holds postmaster.pid: start
        # waits for that, then PostgreSQL recovers from its WAL.
        assert embedded_pg.start(directory) is True
        with psycopg.connect(embedded_pg.database_url(directory, "herald")) as conn:
            assert conn.execute("SELECT count(*) FROM kept").fetchone() == (100,)
    finally:
        stopped = embedded_pg.stop(directory)
    assert stopped is True
    assert not embedded_pg.is_running(directory)
    assert embedded_pg.stop(directory) is False


def test_a_start_that_fails_says_why_with_the_server_log(tmp_path) -> None:
    directory = tmp_path / "pg"
    with pytest.raises(embedded_pg.EmbeddedPostgresError, match="shared_buffers"):
        embedded_pg.start(directory, options={"fsync": "off", "shared_buffers": "1kB"})
    assert not embedded_pg.is_running(directory)
