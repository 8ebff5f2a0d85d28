"""``drive.mount`` as Colab's: the Drive appears at the mount point, ``MyDrive`` inside."""

import os
from pathlib import Path


def _local(path: str) -> Path:
    """``/content/...`` in the test's runtime folder (``$SERLIB_COLAB_CONTENT``)."""
    content = Path(os.environ["SERLIB_COLAB_CONTENT"])
    return content / Path(path).relative_to("/content") if path.startswith("/content") \
        else Path(path)


def mount(mountpoint: str, force_remount: bool = False, **kwargs) -> None:
    target, drive = _local(mountpoint), Path(os.environ["COLAB_STUB_DRIVE"])
    if target.is_symlink() and target.resolve() == drive.resolve():
        print(f"Drive already mounted at {mountpoint}; to attempt to forcibly remount, call "
              f'drive.mount("{mountpoint}", force_remount=True).')
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(drive, target_is_directory=True)
    print(f"Mounted at {mountpoint}")
