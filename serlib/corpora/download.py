"""Downloading emoDB and unpacking archives without writing outside the target folder."""

from __future__ import annotations

import os
import shutil
import stat
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from ..errors import SerlibError, UnsafeArchiveError

#: The official address of the emoDB release (Burkhardt et al., 2005).
EMODB_URL = "http://emodb.bilderbar.info/download/download.zip"


def download(url: str, dest: str | os.PathLike, *, progress: bool = True,
             timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` through a temporary ``.part`` file; returns ``dest``.

    An interrupted download never leaves a file at ``dest``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as f:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name,
                      disable=not progress) as bar:
                while chunk := response.read(1 << 16):
                    f.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        part.unlink(missing_ok=True)
        raise SerlibError(f"could not download {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        part.unlink(missing_ok=True)
        raise SerlibError(f"could not download {url}: {getattr(e, 'reason', e)}") from None
    os.replace(part, dest)
    return dest


def check_members(archive: zipfile.ZipFile, dest: Path) -> None:
    """Refuse an archive any of whose members would land outside ``dest``.

    Absolute paths, ``..`` components, drive letters and symbolic links are all
    refused, naming the member: one bad member means the archive is not trusted.
    """
    root = dest.resolve()
    for info in archive.infolist():
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if (name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0])
                or stat.S_ISLNK(info.external_attr >> 16)):
            raise UnsafeArchiveError(f"{archive.filename}: member {name!r} would be written "
                                     f"outside {dest}; the archive is refused")
        target = (root / name).resolve()
        if target != root and root not in target.parents:
            raise UnsafeArchiveError(f"{archive.filename}: member {name!r} resolves outside "
                                     f"{dest}; the archive is refused")


def safe_extract(zip_path: str | os.PathLike, dest: str | os.PathLike,
                 prefix: str = "") -> list[Path]:
    """Extract the members under ``prefix`` (all when empty) of a zip into ``dest``.

    Checks every member first (:func:`check_members`); returns the files written.
    """
    dest = Path(dest)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise SerlibError(f"{zip_path}: not a readable zip archive ({e})") from None
    with archive:
        check_members(archive, dest)
        written = []
        for info in archive.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            target = dest / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            written.append(target)
    return written


#: The marker of a folder that ``serlib download`` filled.
DOWNLOAD_MARKER = ".serlib-download.json"


def _is_download(folder: Path) -> bool:
    """A folder of ``serlib download``'s: its marker, or only what an older one wrote."""
    if (folder / DOWNLOAD_MARKER).is_file():
        return True
    names = {p.name for p in folder.iterdir()}
    return bool(names) and names <= {"download.zip", "download.zip.part", "wav"}


def download_emodb(out: str | os.PathLike, url: str = EMODB_URL, *,
                   progress: bool = True) -> Path:
    """Download the emoDB zip and unpack its ``wav/`` folder into ``out``; returns ``out``.

    Checks what was unpacked: the folder must index as emoDB. The number of
    files is reported rather than assumed (the release has 535). ``out`` must be new,
    empty, or an earlier download (finished ones are not downloaded again); a folder
    holding anything else is refused.
    """
    import json

    from ..files import claim_folder
    from .emodb import index_emodb

    out = Path(out)
    if claim_folder(out, ours=_is_download, what="an emoDB download"):
        try:
            done = json.loads((out / DOWNLOAD_MARKER).read_text()).get("complete")
        except (OSError, ValueError, AttributeError):
            done = False
        if done:
            print(f"emoDB: already downloaded into {out} (delete the folder to download again)")
            return out
    zip_path = download(url, out / "download.zip", progress=progress)
    files = safe_extract(zip_path, out, prefix="wav/")
    if not files:
        raise SerlibError(f"{url}: the archive holds no wav/ folder; is this emoDB's zip?")
    index = index_emodb(out, progress=False)
    bad = f", {len(index.problems)} unusable" if index.problems else ""
    (out / DOWNLOAD_MARKER).write_text(json.dumps({"url": url, "files": len(files),
                                                   "complete": True}))
    print(f"emoDB: {len(files)} files unpacked into {out / 'wav'}, "
          f"{len(index.table)} usable utterances{bad}")
    return out
