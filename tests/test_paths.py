"""Where Booth keeps its files: one place decides the defaults (installed or from a clone); relative paths in
a settings file are taken from the file's folder, never the current directory; secrets stay private."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from booth.cli.main import EXAMPLE_CONFIG, main
from booth.config import (
    ConfigError,
    SecretsExposed,
    default_backup_dir,
    default_config_path,
    default_database_url,
    default_photo_dir,
    is_installed,
    load_settings,
)
from booth.config.private import exposure_problems

REPO = Path(__file__).resolve().parent.parent


def booth(*argv: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("BOOTH_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "booth", *argv],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def example_with_relative_database(folder: Path) -> Path:
    """The shipped example, its database made relative as a newcomer would write it."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    installed = 'url = "sqlite:////var/lib/booth/booth.sqlite"'
    assert installed in text
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "example.toml"
    path.write_text(text.replace(installed, 'url = "sqlite:///booth.sqlite"'), encoding="utf-8")
    path.chmod(0o640)
    return path


def write_keys(private: Path, public: Path) -> None:
    """The app's real private key and Alipay's public key (another pair): the settings read and check key
    files when they are loaded."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from booth.config import private_key_pem, public_key_pem

    app, alipay = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    for path, text in ((private, private_key_pem(app)), (public, public_key_pem(alipay))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="ascii")


def test_staff_list_from_another_folder_uses_the_database_beside_the_settings(tmp_path: Path) -> None:
    """It used to make a new empty booth.sqlite in the current folder and answer 'nobody yet'."""
    config = example_with_relative_database(tmp_path / "etc")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    added = booth(
        "staff", "add", "boss", "--name", "王经理", "--role", "supervisor", "--pin-stdin",
        "--config", str(config), cwd=tmp_path, stdin="9999\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "etc" / "booth.sqlite").exists()
    listed = booth("staff", "list", "--config", str(config), cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert "boss" in listed.stdout and "王经理" in listed.stdout
    assert list(elsewhere.iterdir()) == []  # no stray database where the command was typed
    assert not (tmp_path / "booth.sqlite").exists()


def test_relative_photo_key_and_backup_paths_are_taken_from_the_settings_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = example_with_relative_database(tmp_path / "conf")
    text = config.read_text(encoding="utf-8")
    text = text.replace('# photo_dir = "/var/lib/booth/photos"', 'photo_dir = "photos"')
    text = text.replace('# folder = "/var/lib/booth/backups"', 'folder = "../copies"')
    text = text.replace(
        '# alipay_public_key_file = "/etc/booth/alipay_public_key.pem"',
        'alipay_public_key_file = "keys/a.pem"',
    )
    text = text.replace(
        '# app_private_key_file = "/etc/booth/alipay_app_private_key.pem"',
        f'app_private_key_file = "{tmp_path / "b.pem"}"',
    )
    config.write_text(text, encoding="utf-8")
    write_keys(tmp_path / "b.pem", conf_keys := tmp_path / "conf" / "keys" / "a.pem")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("conf") / "example.toml")  # a relative settings path as well
    conf = tmp_path / "conf"
    assert settings.database.url == f"sqlite:///{conf / 'booth.sqlite'}"
    assert settings.cameras.photo_path == conf / "photos"
    assert settings.backup.folder_path == conf / ".." / "copies"
    assert settings.alipay is not None and settings.alipay.alipay_public_key_file == conf / "keys" / "a.pem"
    assert settings.alipay.app_private_key_file == tmp_path / "b.pem"  # absolute: as written
    assert conf_keys.exists()


@pytest.mark.parametrize(
    "url",
    ["sqlite:////abs/booth.sqlite", "sqlite://", "sqlite:///:memory:", "postgresql://booth@127.0.0.1/booth"],
)
def test_absolute_memory_and_other_databases_are_left_as_written(tmp_path: Path, url: str) -> None:
    config = example_with_relative_database(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8").replace('url = "sqlite:///booth.sqlite"', f'url = "{url}"'),
        encoding="utf-8",
    )
    assert load_settings(config).database.url == url


def test_the_example_uses_the_installed_paths() -> None:
    settings = load_settings(EXAMPLE_CONFIG)
    assert settings.database.url == "sqlite:////var/lib/booth/booth.sqlite"


def test_installed_layout_is_etc_and_var_lib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOOTH_CONFIG", raising=False)
    monkeypatch.setattr(sys, "prefix", "/opt/booth/venv")
    assert is_installed()
    assert default_config_path() == Path("/etc/booth/booth.toml")
    assert default_database_url() == "sqlite:////var/lib/booth/booth.sqlite"
    assert default_photo_dir() == Path("/var/lib/booth/photos")
    assert default_backup_dir() == Path("/var/lib/booth/backups")


def test_a_clone_uses_the_users_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BOOTH_CONFIG", raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / ".venv"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert not is_installed()
    assert default_config_path() == tmp_path / "config" / "booth" / "booth.toml"
    assert default_database_url() == f"sqlite:///{tmp_path / 'data' / 'booth' / 'booth.sqlite'}"
    monkeypatch.setenv("BOOTH_CONFIG", str(tmp_path / "named.toml"))  # the unit's Environment=
    assert default_config_path() == tmp_path / "named.toml"


# --- secrets -----------------------------------------------------------------------------------------------


def test_a_settings_file_others_may_read_is_refused_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = example_with_relative_database(tmp_path)
    config.chmod(0o644)
    assert main(["staff", "list", "--config", str(config)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"refusing to start: {config} is readable by others (mode 0644) and holds the Bolink ukey and the "
        f"other secrets: chmod 640 {config} (group booth may read it) or chmod 600 {config}"
    )
    assert not (tmp_path / "booth.sqlite").exists()  # refused before the database was opened
    assert main(["config", "check", str(config)]) == 1
    assert f"{config} is readable by others (mode 0644)" in capsys.readouterr().err

    config.chmod(0o640)  # root:booth 0640, as the package installs it: fine
    assert main(["staff", "list", "--config", str(config)]) == 0
    assert main(["config", "check", str(config)]) == 0
    assert "OK" in capsys.readouterr().out


def test_a_world_writable_settings_file_is_refused(tmp_path: Path) -> None:
    config = example_with_relative_database(tmp_path)
    config.chmod(0o602)
    settings = load_settings(config)
    assert exposure_problems(settings, config) == [
        f"{config} is writable by others (mode 0602) and holds the Bolink ukey and the other secrets: "
        f"chmod 640 {config} (group booth may read it) or chmod 600 {config}"
    ]


def test_an_alipay_private_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    config = example_with_relative_database(tmp_path)
    text = config.read_text(encoding="utf-8").replace(
        '# app_private_key_file = "/etc/booth/alipay_app_private_key.pem"', 'app_private_key_file = "app.pem"'
    )
    text = text.replace(
        '# alipay_public_key_file = "/etc/booth/alipay_public_key.pem"', 'alipay_public_key_file = "pub.pem"'
    )
    config.write_text(text, encoding="utf-8")
    write_keys(tmp_path / "app.pem", tmp_path / "pub.pem")
    settings = load_settings(config)
    assert exposure_problems(settings, config) == []
    (tmp_path / "app.pem").chmod(0o644)
    (tmp_path / "pub.pem").chmod(0o644)  # a public key may be read by anyone...
    problems = exposure_problems(settings, config)
    assert problems == [
        f"{tmp_path / 'app.pem'} is readable by others (mode 0644) and holds the Alipay app private key: "
        f"chmod 640 {tmp_path / 'app.pem'} (group booth may read it) or chmod 600 {tmp_path / 'app.pem'}"
    ]
    (tmp_path / "pub.pem").chmod(0o646)  # ...but not changed by anyone
    assert any("pub.pem is writable by others (mode 0646)" in p for p in exposure_problems(settings, config))
    from booth.cli.demo import load_for_command

    with pytest.raises(SecretsExposed) as info:
        load_for_command(str(config), False)
    assert isinstance(info.value, ConfigError)
    assert str(info.value).count("refusing to start:") == 2


def test_the_demo_is_not_refused(tmp_path: Path) -> None:
    """The demo's settings come from no file; its throwaway keys are made 0600."""
    from booth.cli.demo import demo_settings

    assert exposure_problems(demo_settings(tmp_path), None) == []
