"""Try-scoped execution tokens (execute/tokens.py): real PyJWT, real secret key files."""

from __future__ import annotations

import time

import jwt
import pytest

from tradewind.config import Config
from tradewind.execute import tokens
from tradewind.execute.tokens import InvalidToken, issue_try_token, issue_workload_token, verify_token
from tradewind.workloads import TaskKey

KEY = TaskKey("etl", "manual__2024-01-01", "load", map_index=3, try_number=2)


def test_workload_token_names_its_try_and_verifies_in_its_scope(config):
    token = issue_workload_token(config, KEY)
    assert verify_token(config, token, tokens.WORKLOAD_SCOPE) == KEY
    assert verify_token(config, token, (tokens.WORKLOAD_SCOPE, tokens.TRY_SCOPE)) == KEY


def test_lifetimes_come_from_the_execution_api_settings(tw_home):
    cfg = Config.load(home=tw_home, environ={}, overrides={
        "execution_api": {"jwt_expiration_time": "30", "workload_token_expiration": "500"}})
    now = 1_700_000_000
    try_claims = jwt.decode(issue_try_token(cfg, KEY, now=now), options={"verify_signature": False})
    work_claims = jwt.decode(issue_workload_token(cfg, KEY, now=now), options={"verify_signature": False})
    assert try_claims["exp"] - now == 30 and work_claims["exp"] - now == 500
    assert try_claims["typ"] == "try" and work_claims["typ"] == "workload"
    assert try_claims["aud"] == tokens.AUDIENCE


def test_a_workload_token_cannot_act_as_a_try_token_and_back(config):
    with pytest.raises(InvalidToken) as err:
        verify_token(config, issue_workload_token(config, KEY), tokens.TRY_SCOPE)
    assert err.value.status == 403 and "'workload'" in str(err.value)
    with pytest.raises(InvalidToken) as err:
        verify_token(config, issue_try_token(config, KEY), tokens.WORKLOAD_SCOPE)
    assert err.value.status == 403


def test_expired_token_is_refused_with_401(config):
    token = issue_try_token(config, KEY, now=time.time() - 10_000)
    with pytest.raises(InvalidToken) as err:
        verify_token(config, token, tokens.TRY_SCOPE)
    assert err.value.status == 401 and "expired" in str(err.value)
    # still valid just before its end, by the caller's clock
    fresh = issue_try_token(config, KEY, now=1000)
    assert verify_token(config, fresh, tokens.TRY_SCOPE, now=1000 + 599) == KEY
    with pytest.raises(InvalidToken):
        verify_token(config, fresh, tokens.TRY_SCOPE, now=1000 + 600)


def test_forged_and_tampered_tokens_are_refused(config, tw_home):
    other = Config.load(home=tw_home, environ={}, overrides={"api": {"secret_key": "someone-elses-key-" + "k" * 40}})
    forged = issue_try_token(other, KEY)
    with pytest.raises(InvalidToken) as err:
        verify_token(config, forged, tokens.TRY_SCOPE)
    assert err.value.status == 401 and "invalid" in str(err.value)
    # the claims re-signed with "none" or edited without the key
    claims = jwt.decode(issue_try_token(config, KEY), options={"verify_signature": False})
    claims["run_id"] = "another_run"
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    with pytest.raises(InvalidToken):
        verify_token(config, unsigned, tokens.TRY_SCOPE)
    header, _payload, signature = issue_try_token(config, KEY).split(".")
    edited = jwt.encode(claims, "x" * 48, algorithm="HS256").split(".")[1]
    with pytest.raises(InvalidToken):
        verify_token(config, f"{header}.{edited}.{signature}", tokens.TRY_SCOPE)
    with pytest.raises(InvalidToken):
        verify_token(config, "not-a-jwt", tokens.TRY_SCOPE)


def test_a_user_access_token_is_not_an_execution_token_and_back(config, db):
    from tradewind.observe.api.auth import AuthService, _UserState, Role

    service = AuthService(config, db)
    access = service.issue_access_token("ada", _UserState(1, Role.ADMIN, True, "fp"))
    with pytest.raises(InvalidToken):
        verify_token(config, access, tokens.TRY_SCOPE)
    # a try token is never accepted as a user login (audience + typ differ)
    assert service._decode(issue_try_token(config, KEY), "access") is None


def test_the_executor_and_the_api_server_share_the_secret_of_one_home(tw_home):
    signer = Config.load(home=tw_home, environ={})
    checker = Config.load(home=tw_home, environ={})
    assert verify_token(checker, issue_workload_token(signer, KEY), "workload") == KEY
    assert (tw_home / tokens.SECRET_KEY_FILE).stat().st_mode & 0o777 == 0o600
