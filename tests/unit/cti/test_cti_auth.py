"""CTI tokens and roles (hermetic)."""
import pytest

from hotline.common.errors import ConfigError, PermissionDenied, Unauthenticated
from hotline.common.settings import parse_tokens
from hotline.cti.auth import Caller, TokenTable, bearer_token, current_caller, token_ref

TOKENS = "t-agent:agent:1001, t-sup:supervisor,t-admin:admin,t-int:integration"


def test_tokens_parse_to_role_and_agent():
    assert parse_tokens(TOKENS) == {"t-agent": ("agent", "1001"), "t-sup": ("supervisor", None),
                                    "t-admin": ("admin", None), "t-int": ("integration", None)}


@pytest.mark.parametrize("text", ["s3cr3t:agent", "s3cr3t:agent:", "s3cr3t:root", ":admin", "s3cr3t",
                                  "s3cr3t:admin:1:2"])
def test_bad_token_entries_fail_fast_without_echoing_the_secret(text):
    with pytest.raises(ConfigError) as e:
        parse_tokens(text)
    assert "HOTLINE_CTI_TOKENS" in str(e.value) and "s3cr3t" not in str(e.value)


def test_token_table_resolves_known_tokens_only():
    table = TokenTable(parse_tokens(TOKENS))
    assert table.resolve("t-agent") == Caller("agent", "1001", token_ref("t-agent"))
    assert table.resolve("t-sup").role == "supervisor"
    assert table.resolve("t-agen") is None and table.resolve("") is None and table.resolve("t-agent2") is None


@pytest.mark.parametrize("metadata,token", [
    ((("authorization", "Bearer abc"),), "abc"),
    ((("x-other", "1"), ("authorization", "bearer   abc  ")), "abc"),
    ((("authorization", b"Bearer abc"),), "abc"),
])
def test_bearer_token_from_metadata(metadata, token):
    assert bearer_token(metadata) == token


@pytest.mark.parametrize("metadata", [None, (), (("authorization", "abc"),), (("authorization", "Basic abc"),),
                                      (("authorization", "Bearer "),),
                                      (("authorization", "Bearer a"), ("authorization", "Bearer b"))])
def test_missing_or_malformed_authorization_is_unauthenticated(metadata):
    with pytest.raises(Unauthenticated):
        bearer_token(metadata)


def test_an_agent_acts_only_for_itself():
    agent = Caller("agent", "1001", "x")
    agent.check_agent("1001", change=True)
    agent.check_agent("1001", change=False)
    for change in (True, False):
        with pytest.raises(PermissionDenied):
            agent.check_agent("1002", change=change)


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_act_for_any_agent(role):
    Caller(role, None, "x").check_agent("1002", change=True)
    Caller(role, None, "x").check_agent("1002", change=False)


def test_integrations_read_but_do_not_change_agent_states():
    integration = Caller("integration", None, "x")
    integration.check_agent("1002", change=False)
    with pytest.raises(PermissionDenied):
        integration.check_agent("1002", change=True)


def test_no_caller_outside_an_authenticated_call():
    with pytest.raises(Unauthenticated):
        current_caller()
