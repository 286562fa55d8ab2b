"""Safe, atomic extraction of a downloaded zip into the layout `prepare` reads.

Every member name is checked before anything is written: an absolute path, a drive letter, a `..`
component, a NUL byte, or a link pointing outside the archive refuses the whole archive. Members are
written (never with `extractall`) into a temporary folder beside the target, checked (`verify`), then
moved into place file by file (`os.replace`, same file system), so a file under its final name is
always complete. `place(member) -> relative path | None` decides where a member goes (None: left out).
"""

from __future__ import annotations

import posixpath
import re
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Callable

from avemotion.errors import AvemotionError

TMP_SUFFIX = ".extract.tmp"


class ArchiveError(AvemotionError):
    """An archive that is refused as a whole: `<archive>: <reason>`."""


def _parts(name: str) -> list[str]:
    return [p for p in re.split(r"[\\/]", name) if p not in ("", ".")]


def unsafe_reason(name: str) -> str | None:
    """Why a member name could write outside the target folder (None: it cannot)."""
    if "\x00" in name:
        return "has a NUL byte in its name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in _parts(name):
        return "has a '..' component (it would be written outside the target folder)"
    return None


def is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def check_members(zf: zipfile.ZipFile, archive: str) -> list[zipfile.ZipInfo]:
    """The archive's regular files; ArchiveError naming the first unsafe member."""
    files = []
    for info in zf.infolist():
        reason = unsafe_reason(info.filename)
        if reason:
            raise ArchiveError(f"{archive}: member {info.filename!r} {reason}; nothing was extracted")
        if is_link(info):
            target = zf.read(info).decode("utf-8", "replace")
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(info.filename.replace("\\", "/")), target))
            if unsafe_reason(target) or joined == ".." or joined.startswith("../"):
                raise ArchiveError(f"{archive}: member {info.filename!r} is a link to {target!r}, outside the "
                                   "target folder; nothing was extracted")
            continue  # a link inside the archive: not needed by any layout, not created
        if not info.is_dir():
            files.append(info)
    return files


def clean_temporaries(folder: Path) -> None:
    """Remove the temporary folders an interrupted extraction left."""
    if folder.is_dir():
        for tmp in folder.glob(f"*{TMP_SUFFIX}"):
            shutil.rmtree(tmp, ignore_errors=True)


def extract(archive: Path, dest: Path, workdir: Path, place: Callable[[str], str | None], *, name: str | None = None,
            verify: Callable[[Path, list[str]], None] | None = None) -> dict[str, int]:
    """Extract `archive` into `dest` through `place`; returns {relative path: size} of what was placed.
    `verify(tmp_folder, relative_paths)` may refuse the content (ArchiveError) before anything moves."""
    name = name or archive.name
    tmp = workdir / f"{name}{TMP_SUFFIX}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    placed: dict[str, int] = {}
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                members = check_members(zf, name)
                for info in members:
                    rel = place(info.filename.replace("\\", "/"))
                    if rel is None:
                        continue
                    if unsafe_reason(rel):  # a layout rule's bug must not write outside either
                        raise ArchiveError(f"{name}: member {info.filename!r} maps to {rel!r}, outside the target")
                    out = tmp / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    placed[rel] = info.file_size
        except zipfile.BadZipFile as err:
            raise ArchiveError(f"{name}: not a valid zip archive ({err})") from None
        except (EOFError, zipfile.LargeZipFile, NotImplementedError) as err:
            raise ArchiveError(f"{name}: cannot be extracted ({err or type(err).__name__})") from None
        if verify is not None:
            verify(tmp, sorted(placed))
        for rel in placed:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return placed
