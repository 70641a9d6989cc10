import pytest

from hotline.common import settings
from hotline.common.errors import ConfigError


def test_defaults_load_without_environment():
    s = settings.load({})
    assert s.esl.port == 8021 and s.esl.password is None


def test_environment_overrides_file_and_defaults(tmp_path):
    f = tmp_path / "h.toml"
    f.write_text('[esl]\nport = 8022\nhost = "fs.example"\n')
    s = settings.load({"HOTLINE_ESL_PORT": "8023"}, config_file=f)
    assert (s.esl.host, s.esl.port) == ("fs.example", 8023)


@pytest.mark.parametrize("env,needle", [
    ({"HOTLINE_ESL_PORT": "abc"}, "HOTLINE_ESL_PORT='abc' is not a valid int"),
    ({"HOTLINE_ESL_PORT": "70000"}, "HOTLINE_ESL_PORT=70000 is not a TCP port"),
    ({"HOTLINE_LOG_JSON": "maybe"}, "HOTLINE_LOG_JSON='maybe' is not a valid bool"),
    ({"HOTLINE_CLICKHOUSE_BACKEND": "mysql"}, "HOTLINE_CLICKHOUSE_BACKEND='mysql'"),
    ({"HOTLINE_GRPC_ROUTING": "nohost"}, "HOTLINE_GRPC_ROUTING='nohost': expected host:port"),
    ({"HOTLINE_IVR_MENU": "1=sales,12=x"}, "'12=x' is not digit=queue"),
    ({"HOTLINE_ROUTING_QUEUES": "sales"}, "'sales' is not name:skill"),
    ({"HOTLINE_CTI_TOKENS": "t1:agent"}, "agent token needs its agent id"),
    ({"HOTLINE_CTI_TOKENS": "t1:root"}, "token:role[:agent_id]"),
])
def test_bad_values_fail_fast_naming_the_variable(env, needle):
    with pytest.raises(ConfigError) as e:
        settings.load(env)
    assert needle in str(e.value)


def test_bad_config_file_is_named(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[esl\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        settings.load({}, config_file=f)
    f.write_text("[esl]\nportt = 1\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        settings.load({}, config_file=f)
    with pytest.raises(ConfigError, match="does not exist"):
        settings.load({}, config_file=tmp_path / "missing.toml")


def test_the_esl_password_has_no_default():
    with pytest.raises(ConfigError, match="HOTLINE_ESL_PASSWORD"):
        settings.load({}).esl.require_password()
    assert settings.load({"HOTLINE_ESL_PASSWORD": "s3cret"}).esl.require_password() == "s3cret"


def test_esl_nodes_list_several_switches_and_bad_entries_are_named() -> None:
    one = settings.load({"HOTLINE_ESL_NODE_ID": "a", "HOTLINE_ESL_PORT": "8022"})
    assert one.esl.node_addresses() == [("a", "127.0.0.1", 8022)]
    many = settings.load({"HOTLINE_ESL_NODES": "fs1=10.0.0.1:8021, fs2=[fd00::2]:8021"})
    assert many.esl.node_addresses() == [("fs1", "10.0.0.1", 8021), ("fs2", "fd00::2", 8021)]
    for bad in ("fs1=10.0.0.1", "fs1:10.0.0.1:8021", "fs1=10.0.0.1:0", "f s=h:1", "fs1=h:1,fs1=g:2", ","):
        with pytest.raises(ConfigError, match="HOTLINE_ESL_NODES"):
            settings.load({"HOTLINE_ESL_NODES": bad})
    with pytest.raises(ConfigError, match="HOTLINE_ESL_MAX_EVENT_BACKLOG"):
        settings.load({"HOTLINE_ESL_MAX_EVENT_BACKLOG": "0"})
    with pytest.raises(ConfigError, match="HOTLINE_KAFKA_LINGER_MS"):
        settings.load({"HOTLINE_KAFKA_LINGER_MS": "-1"})
    assert settings.load({"HOTLINE_KAFKA_LINGER_MS": "10"}).kafka.linger_ms == 10
