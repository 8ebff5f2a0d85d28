"""emoDB download against an HTTP server on localhost, and unsafe archives."""

from __future__ import annotations

import functools
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import EMODB_FILES, write_wav

from serlib.cli import main
from serlib.corpora import download_emodb, index_emodb, safe_extract
from serlib.errors import SerlibError, UnsafeArchiveError


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields the base URL."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def make_emodb_zip(path: Path, tmp: Path, extra: dict[str, bytes] | None = None) -> Path:
    """A zip like emoDB's: wav/ plus the folders the course does not use."""
    with zipfile.ZipFile(path, "w") as z:
        for name in EMODB_FILES:
            z.write(write_wav(tmp / "src" / name, 0.3), f"wav/{name}")
        z.writestr("lablaut/03a01Fa.lablaut", "labels")
        z.writestr("erkennung.txt", "recognition rates")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return path


def test_download_unpacks_wav_and_checks_it(server, tmp_path, capsys):
    www, url = server
    make_emodb_zip(www / "download.zip", tmp_path)
    out = download_emodb(tmp_path / "emodb", f"{url}/download.zip", progress=False)
    assert sorted(p.name for p in (out / "wav").iterdir()) == sorted(EMODB_FILES)
    assert not (out / "lablaut").exists()  # only wav/ is unpacked
    assert "8 files unpacked" in capsys.readouterr().out
    assert len(index_emodb(out, progress=False).table) == len(EMODB_FILES)


def test_download_command(server, tmp_path, capsys):
    www, url = server
    make_emodb_zip(www / "download.zip", tmp_path)
    assert main(["download", "--corpus", "emodb", "--out", str(tmp_path / "e"),
                 "--url", f"{url}/download.zip"]) == 0
    assert "8 files unpacked" in capsys.readouterr().out


def test_missing_file_on_server_is_a_clear_error(server, tmp_path):
    _, url = server
    with pytest.raises(SerlibError, match="could not download .*HTTP 404"):
        download_emodb(tmp_path / "emodb", f"{url}/nothing.zip", progress=False)
    assert not list((tmp_path / "emodb").glob("download.zip*"))  # no partial file left


def test_not_a_zip(server, tmp_path):
    www, url = server
    (www / "download.zip").write_text("<html>moved</html>")
    with pytest.raises(SerlibError, match="not a readable zip"):
        download_emodb(tmp_path / "emodb", f"{url}/download.zip", progress=False)


@pytest.mark.parametrize("member", ["wav/../../evil.wav", "/tmp/evil.wav", "../evil.wav",
                                    "wav/..\\..\\evil.wav", "C:/evil.wav"])
def test_members_outside_the_target_are_refused(server, tmp_path, member):
    www, url = server
    make_emodb_zip(www / "download.zip", tmp_path, {member: b"RIFF"})
    with pytest.raises(UnsafeArchiveError, match="refused"):
        download_emodb(tmp_path / "a" / "emodb", f"{url}/download.zip", progress=False)
    assert not (tmp_path / "a" / "emodb" / "wav").exists()  # nothing unpacked at all
    assert not (tmp_path / "evil.wav").exists() and not (tmp_path / "a" / "evil.wav").exists()


def test_symlink_members_are_refused(tmp_path):
    zpath = tmp_path / "link.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        info = zipfile.ZipInfo("wav/link.wav")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="wav/link.wav"):
        safe_extract(zpath, tmp_path / "out")


def test_safe_extract_keeps_a_good_archive(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("wav/a.txt", "a")
        z.writestr("other/b.txt", "b")
    (tmp_path / "ok.zip").write_bytes(buf.getvalue())
    written = safe_extract(tmp_path / "ok.zip", tmp_path / "out", prefix="wav/")
    assert written == [tmp_path / "out" / "wav" / "a.txt"]
