"""``tradewind connections import|export`` with the files ``airflow connections export`` writes.

The fixtures below are written by us after the shapes of Airflow 2 and 3 (their export code and
docs): JSON ``{conn_id: {conn_type, description, login, password, host, port, schema, extra}}``
with ``extra`` as JSON text and nulls kept, YAML the same mapping, env ``CONN_ID=URI`` (Airflow's
``get_uri``: a host with its own protocol as ``http://https://...``, ``/?`` before the query,
non-string extras as ``__extra__``) or ``CONN_ID={json}``. Everything runs through the real CLI.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from cli_support import Home

pytestmark = pytest.mark.slow

PASSWORD = "s3cr3t/+=@"

# What the connections below look like once imported (the order of a Tradewind export).
EXPECTED = {
    "aws_default": {"conn_type": "aws", "description": None, "login": None, "password": None, "host": None,
                    "port": None, "schema": None,
                    "extra": {"endpoint_url": "http://localhost:9000", "region_name": "eu-west-1"}},
    "gcp": {"conn_type": "google_cloud_platform", "description": None, "login": None, "password": None,
            "host": None, "port": None, "schema": None, "extra": {"project": "p1", "scopes": ["a", "b"]}},
    "my_http": {"conn_type": "http", "description": None, "login": None, "password": None,
                "host": "https://api.example.com", "port": None, "schema": None, "extra": None},
    "warehouse": {"conn_type": "postgres", "description": "Sales warehouse", "login": "etl",
                  "password": PASSWORD, "host": "db.internal", "port": 5432, "schema": "sales",
                  "extra": {"sslmode": "require"}},
}

# `airflow connections export conns.json` (Airflow 2.x and 3.x: json.dumps(..., indent=2)).
AIRFLOW_JSON = json.dumps({
    "aws_default": {"conn_type": "aws", "description": None, "login": None, "password": None, "host": None,
                    "port": None, "schema": None,
                    "extra": '{"region_name": "eu-west-1", "endpoint_url": "http://localhost:9000"}'},
    "gcp": {"conn_type": "google_cloud_platform", "description": None, "login": None, "password": None,
            "host": None, "port": None, "schema": None, "extra": '{"project": "p1", "scopes": ["a", "b"]}'},
    "my_http": {"conn_type": "http", "description": None, "login": None, "password": None,
                "host": "https://api.example.com", "port": None, "schema": None, "extra": None},
    "warehouse": {"conn_type": "postgres", "description": "Sales warehouse", "login": "etl",
                  "password": PASSWORD, "host": "db.internal", "port": 5432, "schema": "sales",
                  "extra": '{"sslmode": "require"}'},
}, indent=2)

# `airflow connections export conns.yaml` (yaml.dump: keys sorted, block style).
AIRFLOW_YAML = """\
aws_default:
  conn_type: aws
  description: null
  extra: '{"region_name": "eu-west-1", "endpoint_url": "http://localhost:9000"}'
  host: null
  login: null
  password: null
  port: null
  schema: null
gcp:
  conn_type: google_cloud_platform
  description: null
  extra: '{"project": "p1", "scopes": ["a", "b"]}'
  host: null
  login: null
  password: null
  port: null
  schema: null
my_http:
  conn_type: http
  description: null
  extra: null
  host: https://api.example.com
  login: null
  password: null
  port: null
  schema: null
warehouse:
  conn_type: postgres
  description: Sales warehouse
  extra: '{"sslmode": "require"}'
  host: db.internal
  login: etl
  password: s3cr3t/+=@
  port: 5432
  schema: sales
"""

# `airflow connections export conns.env` (default --serialization-format uri). The description
# is not part of a URI, so it does not travel this way (as in Airflow).
AIRFLOW_ENV_URI = """\
aws_default=aws:///?region_name=eu-west-1&endpoint_url=http%3A%2F%2Flocalhost%3A9000
gcp=google-cloud-platform:///?__extra__=%7B%22project%22%3A+%22p1%22%2C+%22scopes%22%3A+%5B%22a%22%2C+%22b%22%5D%7D
my_http=http://https://api.example.com
warehouse=postgres://etl:s3cr3t%2F%2B%3D%40@db.internal:5432/sales?sslmode=require
"""

# `airflow connections export conns.env --serialization-format json`.
AIRFLOW_ENV_JSON = "".join(
    f"{conn_id}={json.dumps(fields)}\n" for conn_id, fields in json.loads(AIRFLOW_JSON).items())

# A hand-written file in the shape Airflow's file loader documents (local filesystem secrets
# backend, also what `connections import` reads): URI strings, extra as an object, extra_dejson,
# uri with a description, conn_id repeated, a one-element list, Airflow 3's team_name (null).
AIRFLOW_HANDWRITTEN = json.dumps({
    "aws_default": {"conn_type": "aws",
                    "extra_dejson": {"region_name": "eu-west-1", "endpoint_url": "http://localhost:9000"}},
    "gcp": ["google-cloud-platform://?__extra__=%7B%22project%22%3A%20%22p1%22%2C%20%22scopes%22%3A%20%5B%22a%22%2C%20%22b%22%5D%7D"],
    "my_http": {"conn_id": "my_http", "conn_type": "http", "host": "https://api.example.com", "team_name": None},
    "warehouse": {"uri": "postgresql://etl:s3cr3t%2F%2B%3D%40@db.internal:5432/sales?sslmode=require",
                  "description": "Sales warehouse"},
})


def _in_clear(home: Home) -> dict:
    """The stored connections, passwords in clear, as our export prints them (extra decoded)."""
    data = json.loads(home.ok("connections", "export", "-").stdout)
    for fields in data.values():
        fields["extra"] = json.loads(fields["extra"]) if fields["extra"] else None
    return data


@pytest.mark.parametrize("name,text,drops_description", [
    ("conns.json", AIRFLOW_JSON, False),
    ("conns.yaml", AIRFLOW_YAML, False),
    ("conns.yml", AIRFLOW_YAML, False),
    ("conns.env", AIRFLOW_ENV_URI, True),
    ("conns-json.env", AIRFLOW_ENV_JSON, False),
    ("handwritten.json", AIRFLOW_HANDWRITTEN, False),
])
def test_every_airflow_export_format_imports_unchanged(home, tmp_path, name, text, drops_description):
    source = tmp_path / name
    source.write_text(text)
    result = home.ok("connections", "import", str(source))
    assert f"4 of 4 connections imported from {source}" in result.stdout
    expected = json.loads(json.dumps(EXPECTED))
    if drops_description:
        expected["warehouse"]["description"] = None
    assert _in_clear(home) == expected
    # Stored as any other connection: the password is masked when shown.
    shown = home.json("connections", "get", "warehouse")
    assert shown["password"] == "***" and PASSWORD not in json.dumps(shown)


def test_existing_connections_skip_overwrite_or_fail(home, tmp_path):
    home.ok("connections", "add", "warehouse", "--conn-uri", "postgres://old@old-host/old")
    source = tmp_path / "conns.json"
    source.write_text(AIRFLOW_JSON)

    skipped = home.ok("connections", "import", str(source))  # Airflow's default: keep what exists
    assert "3 of 4 connections imported" in skipped.stdout and "1 skipped" in skipped.stdout
    assert _in_clear(home)["warehouse"]["host"] == "old-host"

    failed = home.run("connections", "import", str(source), "--action-on-existing-key", "fail")
    assert failed.returncode == 1
    assert "connections already exist: aws_default, gcp, my_http, warehouse; nothing imported" in failed.stderr

    overwritten = home.ok("connections", "import", str(source), "--overwrite")
    assert "4 of 4 connections imported" in overwritten.stdout
    assert _in_clear(home) == EXPECTED
    clash = home.run("connections", "import", str(source), "--overwrite", "-a", "skip")
    assert clash.returncode == 1 and "--overwrite contradicts --action-on-existing-key skip" in clash.stderr


BAD_FILES = [
    ("port.json", {"ok": {"conn_type": "http"}, "bad": {"conn_type": "http", "port": "eighty"}},
     "connection 'bad': port 'eighty' is not a number"),
    ("extra.json", {"ok": {"conn_type": "http"}, "bad": {"conn_type": "http", "extra": ["a"]}},
     "connection 'bad': field 'extra' must be JSON text or an object, got list"),
    ("field.json", {"ok": {"conn_type": "http"}, "bad": {"conn_type": "http", "hots": "x"}},
     "connection 'bad': unknown field(s) hots"),
    ("mixed.json", {"ok": {"conn_type": "http"}, "bad": {"uri": "http://x", "host": "y"}},
     "connection 'bad': field 'uri' cannot be combined with host"),
    ("id.json", {"ok": {"conn_type": "http"}, "bad": {"conn_id": "other", "conn_type": "http"}},
     "connection 'bad': field 'conn_id' is 'other', not the entry's key"),
    ("type.json", {"ok": {"conn_type": "http"}, "bad": {"host": "x"}},
     "connection 'bad': field 'conn_type' is required"),
    ("both.json", {"ok": {"conn_type": "http"}, "bad": {"conn_type": "http", "extra": "{}", "extra_dejson": {}}},
     "connection 'bad': give field 'extra' or 'extra_dejson', not both"),
    ("many.json", {"ok": {"conn_type": "http"}, "bad": ["http://a", "http://b"]},
     "connection 'bad' is defined 2 times"),
    ("uri.json", {"ok": {"conn_type": "http"}, "bad": "no-scheme-here"}, "connection 'bad': 'no-scheme-here' is not a URI"),
]


def test_bad_entries_name_file_entry_and_field_and_import_nothing(home, tmp_path):
    for name, data, message in BAD_FILES:
        source = tmp_path / name
        source.write_text(json.dumps(data))
        result = home.run("connections", "import", str(source))
        assert result.returncode == 1, (name, result.stdout)
        assert f"{source}: {message}" in result.stderr, (name, result.stderr)
    assert _in_clear(home) == {}  # "ok" came first in every file and was not imported either


def test_bad_env_yaml_and_file_errors(home, tmp_path):
    env = tmp_path / "conns.env"
    env.write_text("# exported\nok=http://ok.example\nbroken line\n")
    result = home.run("connections", "import", str(env))
    assert result.returncode == 1 and f"{env}:3: expected CONN_ID=URI or CONN_ID=JSON" in result.stderr
    env.write_text("dup=http://a\ndup=http://b\n")
    result = home.run("connections", "import", str(env))
    assert result.returncode == 1 and f"{env}: connection 'dup' is defined 2 times" in result.stderr

    yaml_file = tmp_path / "conns.yaml"
    yaml_file.write_text(textwrap.dedent("""\
        ok:
          conn_type: http
        db:
          conn_type: postgres
          password: 12345
    """))
    result = home.run("connections", "import", str(yaml_file))
    assert result.returncode == 1
    assert f"{yaml_file}: connection 'db': field 'password' must be a string, got int 12345" in result.stderr
    yaml_file.write_text("ok: [unclosed\n")
    result = home.run("connections", "import", str(yaml_file))
    assert result.returncode == 1 and f"{yaml_file}: invalid YAML" in result.stderr

    other = tmp_path / "conns.txt"
    other.write_text("{}")
    result = home.run("connections", "import", str(other))
    assert result.returncode == 1 and "unsupported file extension .txt: use .json, .yaml, .env" in result.stderr
    result = home.run("connections", "import", str(tmp_path / "missing.json"))
    assert result.returncode == 1 and "missing.json: no such file" in result.stderr
    assert _in_clear(home) == {}


def _add_the_expected(home: Home) -> None:
    home.ok("connections", "add", "warehouse", "--conn-type", "postgres", "--conn-description", "Sales warehouse",
            "--conn-host", "db.internal", "--conn-login", "etl", "--conn-password", PASSWORD,
            "--conn-port", "5432", "--conn-schema", "sales", "--conn-extra", '{"sslmode": "require"}')
    home.ok("connections", "add", "my_http", "--conn-type", "http", "--conn-host", "https://api.example.com")
    home.ok("connections", "add", "aws_default", "--conn-type", "aws", "--conn-extra",
            '{"region_name": "eu-west-1", "endpoint_url": "http://localhost:9000"}')
    home.ok("connections", "add", "gcp", "--conn-type", "google_cloud_platform",
            "--conn-extra", '{"project": "p1", "scopes": ["a", "b"]}')


def test_our_export_has_airflows_shape_and_reads_back(home, tmp_path):
    _add_the_expected(home)
    # JSON: exactly the keys and value types Airflow's export writes (extra as JSON text).
    target = tmp_path / "out.json"
    home.ok("connections", "export", str(target))
    ours = json.loads(target.read_text())
    airflow = json.loads(AIRFLOW_JSON)
    assert set(ours) == set(airflow)
    for conn_id, fields in ours.items():
        assert set(fields) == set(airflow[conn_id]), conn_id
        assert isinstance(fields["extra"], (str, type(None)))
        assert {k: v for k, v in fields.items() if k != "extra"} == {
            k: v for k, v in airflow[conn_id].items() if k != "extra"}
        assert (json.loads(fields["extra"]) if fields["extra"] else None) == EXPECTED[conn_id]["extra"]

    # YAML, env (uri and json): each loads into a fresh home as the same connections.
    for name, extra_args in (("out.yaml", ()), ("out.env", ()), ("out-json.env", ("--serialization-format", "json"))):
        path = tmp_path / name
        home.ok("connections", "export", str(path), *extra_args)
        fresh = Home(tmp_path / f"fresh-{name}")
        fresh.ok("db", "migrate")
        fresh.ok("connections", "import", str(path))
        expected = json.loads(json.dumps(EXPECTED))
        if name == "out.env":
            expected["warehouse"]["description"] = None
        assert _in_clear(fresh) == expected, name

    # env lines: CONN_ID=URI with Airflow's rules (type with dashes, quoted password).
    env_lines = dict(line.split("=", 1) for line in (tmp_path / "out.env").read_text().splitlines())
    assert env_lines["gcp"].startswith("google-cloud-platform://")
    assert env_lines["warehouse"].startswith("postgres://etl:s3cr3t%2F%2B%3D%40@db.internal:5432/sales")
    misuse = home.run("connections", "export", str(tmp_path / "x.json"), "--serialization-format", "uri")
    assert misuse.returncode == 1 and "--serialization-format may only be used with the env file format" in misuse.stderr
