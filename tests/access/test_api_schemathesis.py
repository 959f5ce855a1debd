"""A bounded schemathesis run against the published OpenAPI document: whatever it sends, with
valid, invalid or no credentials, to unknown or real records, grants and copies, the API
answers without a server error (5xx). Fixed seed, few examples, both catalogs (PostgreSQL
refuses NUL in text and ints beyond 32 bits, SQLite does not)."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from repository.access import make_copy
from repository.api.app import create_app
from repository.config import load_settings
from repository.context import open_repository
from repository.tokens import create
from repository.users import grant


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE,
                                  schemathesis.GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error(khoso, records, mode, tmp_path) -> None:  # type: ignore[no-untyped-def]
    repo = open_repository(str(khoso.home))
    try:
        bearer = [f"Bearer {create(repo, name, None, None)['token']}"
                  for name in ("an", "binh", "quan")]
        grant_id = grant(repo, records["secret"], "an", "binh", None, "NC")["grant"]
        copy_id = make_copy(repo, records["public"], "an", repo.settings.home / "dips",
                            "NC")["copy_id"]
    finally:
        repo.close()
    app = create_app(load_settings(str(khoso.home)), background=False)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Besides generated ids, aim at the real ones so requests reach records, grants, copies.
    real = [schema.include(path_regex=r"\{aip_id\}").as_strategy(
                mode, path_parameters={"aip_id": aip}) for aip in records.values()]
    real.append(schema.include(path_regex=r"\{grant_id\}").as_strategy(
        mode, path_parameters={"grant_id": grant_id}))
    real.append(schema.include(path_regex=r"\{copy_id\}").as_strategy(
        mode, path_parameters={"copy_id": copy_id}))
    cases = st.one_of(schema.as_strategy(mode), *real)
    auth = st.sampled_from([*bearer, "Bearer khoso_wrong", ""])
    seen: Counter[int] = Counter()

    @seed(20261124)
    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(cases, auth)
    def run(case, authorization: str) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers={"Authorization": authorization} if authorization else {})
        seen[response.status_code // 100] += 1
        case.validate_response(response, checks=[not_a_server_error])

    run()
    assert seen[4] and not seen[5]
    if mode is schemathesis.GenerationMode.POSITIVE:
        assert seen[2]  # valid requests got through, not only refusals
