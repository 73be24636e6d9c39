"""`idgraph users passwd` and `idgraph tokens`: the password never on the command line or
in the output; a token printed once and never listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from auth_fixtures import audit_text, seed
from typer.testing import CliRunner

from idgraph.app import auth
from idgraph.app.context import Env
from idgraph.app.errors import Unauthenticated
from idgraph.cli import app
from idgraph.settings import Settings
from idgraph.store import open_store

NEW = "a new synthetic passphrase"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    settings = Settings(data_dir=tmp_path)
    tmp_path.mkdir(exist_ok=True)
    with open_store(settings.db_path) as store:
        seed(store)
    return tmp_path


def run(data_dir: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def env_of(data_dir: Path) -> Env:
    return Env.open(Settings(data_dir=data_dir))


def test_passwd_from_stdin(data_dir: Path) -> None:
    code, out, err = run(data_dir, "users", "passwd", "gov", "--as", "gov", "--password-stdin",
                         stdin=NEW + "\n")
    assert code == 0, err
    assert NEW not in out + err
    env = env_of(data_dir)
    try:
        assert auth.login(env, "gov", NEW, client="cli-test").user.name == "gov"
        assert NEW not in audit_text(env)
    finally:
        env.close()


def test_passwd_prompt_asks_twice(data_dir: Path) -> None:
    # gov has no password yet: the current one is left empty
    code, out, err = run(data_dir, "users", "passwd", "gov", "--as", "gov",
                         stdin=f"\n{NEW}\n{NEW}\n")
    assert code == 0, err
    assert NEW not in out + err


NEXT = "the passphrase after that"


def test_own_password_change_needs_the_current_one(data_dir: Path) -> None:
    """Once set, one's own password changes only on presenting it: two lines on stdin
    (current, new), or the prompt's first answer."""
    assert run(data_dir, "users", "passwd", "gov", "--as", "gov", "--password-stdin",
               stdin=NEW + "\n")[0] == 0
    code, out, err = run(data_dir, "users", "passwd", "gov", "--as", "gov",
                         "--password-stdin", stdin=NEXT + "\n")
    assert code == 1 and "needs the current password" in " ".join(err.split())
    code, out, err = run(data_dir, "users", "passwd", "gov", "--as", "gov",
                         "--password-stdin", stdin=f"not the current one\n{NEXT}\n")
    assert code == 3 and "current password is wrong" in " ".join(err.split())
    assert "not the current one" not in out + err and NEXT not in out + err
    code, out, err = run(data_dir, "users", "passwd", "gov", "--as", "gov",
                         "--password-stdin", stdin=f"{NEW}\n{NEXT}\n")
    assert code == 0, err
    code, out, err = run(data_dir, "users", "passwd", "gov", "--as", "gov",
                         stdin=f"{NEXT}\n{NEW}\n{NEW}\n")
    assert code == 0, err
    # an admin sets gov's without gov's: one line
    code, out, err = run(data_dir, "users", "passwd", "gov", "--as", "root",
                         "--password-stdin", stdin=NEXT + "\n")
    assert code == 0, err
    env = env_of(data_dir)
    try:
        assert auth.login(env, "gov", NEXT, client="cli-test").user.name == "gov"
        assert NEW not in audit_text(env) and NEXT not in audit_text(env)
    finally:
        env.close()


@pytest.mark.parametrize(("args", "stdin", "code", "says"), [
    (["users", "passwd", "gov", "--as", "gov", "--password-stdin"], "short\n", 1,
     "at least 12 characters"),
    (["users", "passwd", "gov", "--as", "off", "--password-stdin"], NEW + "\n", 3,
     "may not users.manage"),
    (["users", "passwd", "nobody", "--as", "root", "--password-stdin"], NEW + "\n", 1,
     "no user 'nobody'"),
])
def test_passwd_refusals(
    data_dir: Path, args: list[str], stdin: str, code: int, says: str
) -> None:
    got, out, err = run(data_dir, *args, stdin=stdin)
    assert got == code, err
    assert says in " ".join(err.split())
    assert stdin.strip() not in out + err


def test_passwd_takes_no_password_argument(data_dir: Path) -> None:
    code, _, _ = run(data_dir, "users", "passwd", "gov", NEW, "--as", "gov")
    assert code != 0


def test_tokens_create_list_revoke(data_dir: Path) -> None:
    code, out, err = run(data_dir, "tokens", "create", "--as", "gov", "--name", "ci",
                         "--days", "7")
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("idg_") and "shown once" in err
    token_id = secret.split("_")[1]
    code, out, err = run(data_dir, "tokens", "list", "--as", "gov", "--json")
    assert code == 0, err
    assert token_id in out and secret.split("_", 2)[2] not in out
    code, out, err = run(data_dir, "tokens", "create", "--as", "off", "--user", "gov",
                         "--name", "x")
    assert code == 3
    code, out, err = run(data_dir, "tokens", "revoke", token_id, "--as", "gov")
    assert code == 0, err
    env = env_of(data_dir)
    try:
        with pytest.raises(Unauthenticated):
            auth.token_caller(env, secret)
        assert secret.split("_", 2)[2] not in audit_text(env)
    finally:
        env.close()
