"""``files.upload`` as Colab's: ``{name: bytes}`` of the files the user chose."""

import os
from pathlib import Path


def upload() -> dict[str, bytes]:
    chosen = os.environ.get("COLAB_STUB_UPLOAD")
    if not chosen:
        return {}
    path = Path(chosen)
    print(f"Saving {path.name} to {path.name}")
    return {path.name: path.read_bytes()}


def download(filename: str) -> None:
    print(f"download {filename}")
