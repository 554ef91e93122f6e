"""Local team mode: the backend store URI that `mlflow server` gets."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from devtools.team import Database


def test_backend_store_uri_survives_any_password() -> None:
    database = Database("127.0.0.1", 5432, "mlflow", "mlflow", "p@ss/w:rd%?#")
    url = make_url(database.uri)
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "mlflow",
        "p@ss/w:rd%?#",
        "127.0.0.1",
        5432,
        "mlflow",
    )
