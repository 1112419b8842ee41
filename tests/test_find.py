"""journey find: an analyst names a customer by their e-mail address (the warehouse holds only its
keyed hash), a user id or a customer_id, and gets the customer_id, what the warehouse holds of them
and the query of their journey, without changing the warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from journey_analytics.cli import main
from journey_analytics.config import HASH_KEY_ENV, load_settings
from journey_analytics.forget import ForgetError
from journey_analytics.lookup import find_customer
from journey_analytics.privacy import KeyMismatchError
from tests.conftest import DAY1, Landing, query, run_day
from tests.test_forget import ANN_EMAIL, ANN_USER, digest, write_day1


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("find")
    landing = Landing(root / "landing")
    write_day1(landing)
    path = root / "warehouse" / "journey.duckdb"
    run_day(landing, path, DAY1)
    return path


def test_an_address_names_its_customer_in_any_case(warehouse: Path) -> None:
    before = digest(warehouse)
    found = find_customer(" Ann@Example.COM ", warehouse, load_settings())
    assert found.customer_id == ANN_USER
    assert found.identifiers == {"anonymous_id": 1, "email": 1, "social_handle": 1, "user_id": 1}
    # three web events loaded (the fourth was quarantined), one e-mail open, one social comment
    assert found.events == {"email": 1, "social": 1, "web": 3}
    journey = query(warehouse, f"select customer_id, event_name from ({found.journey_sql()})")
    assert journey == [(ANN_USER, "open"), (ANN_USER, "page_view"), (ANN_USER, "login"), (ANN_USER, "purchase"),
                       (ANN_USER, "comment")]
    assert digest(warehouse) == before  # read-only: nothing written


def test_a_user_id_and_a_customer_id(warehouse: Path) -> None:
    assert find_customer("bob-7", warehouse, load_settings()).customer_id == "bob-7"
    assert find_customer("anon:dev-cat", warehouse, load_settings()).events == {"web": 1}


def test_unknown_and_wrong_key(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ForgetError, match="no customer 'nobody@example.com'"):
        find_customer("nobody@example.com", warehouse, load_settings())
    monkeypatch.setenv(HASH_KEY_ENV, "another-key")
    with pytest.raises(KeyMismatchError):
        find_customer(ANN_EMAIL, warehouse, load_settings())


def test_the_command(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["find", "--customer", ANN_EMAIL, "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"customer_id: {ANN_USER}"
    assert f"select * from events where customer_id = '{ANN_USER}' order by event_ts" in out
    assert ANN_EMAIL not in out
    assert main(["find", "--customer", "nobody", "--warehouse", str(warehouse)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("journey: error: no customer 'nobody'") and len(err.strip().splitlines()) == 1
    assert "nothing was changed" not in err  # find never changes anything: said by forget alone
