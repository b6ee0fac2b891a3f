"""TASKBASKET_REQUIRE_BACKENDS turns every skip for something missing into a failure."""

from __future__ import annotations

import pytest

from tests.stores import skip_unless_required


@pytest.mark.parametrize("value", ["all", "postgres", "redis,postgres"])
def test_a_required_backend_or_tool_fails_instead_of_skipping(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TASKBASKET_REQUIRE_BACKENDS", value)
    with pytest.raises(pytest.fail.Exception, match=r"postgres is required .* initdb is missing"):
        skip_unless_required("postgres", "initdb is missing")


@pytest.mark.parametrize("value", ["", "redis", "sqlite,mysql"])
def test_what_is_not_required_is_skipped_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TASKBASKET_REQUIRE_BACKENDS", value)
    with pytest.raises(pytest.skip.Exception, match="postgres: initdb is missing"):
        skip_unless_required("postgres", "initdb is missing")
