"""The atomic write: the whole file or nothing, and no temporary file left behind."""

from __future__ import annotations

import pytest

from serlib.files import atomic_path


def test_a_finished_write_replaces_the_file(tmp_path):
    target = tmp_path / "sub" / "a.json"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".")
        tmp.write_text("new")
        assert not target.exists()  # a reader sees nothing until the write is complete
    assert target.read_text() == "new" and not tmp.exists()


def test_an_interrupted_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_a_full_disk_is_one_line_and_leaves_the_old_file(tmp_path, monkeypatch):
    """torch.save on a full disk raises RuntimeError("... unexpected pos ..."), not ENOSPC:
    both are reported as a full disk, and the old checkpoint stays."""
    import shutil
    from collections import namedtuple

    import torch

    from serlib import files
    from serlib.errors import SerlibError

    target = tmp_path / "m.pth"
    target.write_bytes(b"old")
    usage = namedtuple("usage", "total used free")
    real_disk_usage = shutil.disk_usage
    monkeypatch.setattr(files.shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 4096, 4096))

    def full_save(obj, f):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1 vs 0")

    monkeypatch.setattr(torch, "save", full_save)
    with pytest.raises(SerlibError, match=r"m\.pth: could not be written, the disk is full "
                                          r"\(4\.1 kB free\)"), atomic_path(target) as tmp:
        torch.save({}, tmp)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.pth"]
    with pytest.raises(SerlibError, match="disk is full"), atomic_path(target):
        raise OSError(28, "No space left on device")
    # With space left, another failure is not put down to the disk.
    monkeypatch.setattr(files.shutil, "disk_usage", real_disk_usage)
    with pytest.raises(RuntimeError, match="unexpected pos"), atomic_path(target) as tmp:
        torch.save({}, tmp)
