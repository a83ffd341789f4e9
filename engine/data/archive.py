"""Safe zip extraction: every member is checked before a single byte is written.

`zipfile` alone caps neither the number of entries, the total size nor the compression ratio,
and it happily writes wherever an odd name points. Here the whole archive is refused, with the
offending member named, when any member is unsafe.
"""

from __future__ import annotations

import re
import shutil
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.data.errors import CodedDataError
from engine.errors import DataError

# Files that archivers and operating systems add on their own; never part of a dataset.
JUNK_NAMES = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini", ".DS_Store"})

_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_UNICODE_PATH_EXTRA = 0x7075  # Info-ZIP Unicode Path extra field
_S_IFMT, _S_IFLNK = 0o170000, 0o120000
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipLimits:
    """What an archive may hold before it is refused."""

    max_members: int = 50_000
    max_total_bytes: int = 4 << 30
    max_ratio: float = 200.0
    ratio_min_bytes: int = 1 << 20  # the ratio check applies to members larger than this


def is_junk(name: str) -> bool:
    """Hidden files and folders, and the litter of macOS and Windows (`__MACOSX`, `Thumbs.db`...)."""
    return name.startswith(".") or name in JUNK_NAMES


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as the person who zipped it wrote it.

    Names without the UTF-8 flag were decoded by `zipfile` as cp437; many archivers write UTF-8
    (or, on Russian Windows, cp866) without setting the flag, so those are tried first.
    """
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    raw = info.filename.encode("cp437")
    unicode_path = _unicode_path_extra(info.extra, raw)
    if unicode_path is not None:
        return unicode_path
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return raw.decode("cp866") if _looks_cp866(raw) else info.filename


def _looks_cp866(raw: bytes) -> bool:
    """Russian Windows names: every high byte a cp866 Cyrillic letter, mostly in runs (words), not
    the lone accented letters of a cp437 name such as 'café'."""
    high = {i for i, b in enumerate(raw) if b >= 0x80}
    if not high or not all(0x80 <= raw[i] <= 0xAF or 0xE0 <= raw[i] <= 0xF1 for i in high):
        return False
    in_runs = sum(1 for i in high if (i - 1 in high) or (i + 1 in high))
    return in_runs * 2 > len(high)


def _unicode_path_extra(extra: bytes, raw_name: bytes) -> str | None:
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if tag == _UNICODE_PATH_EXTRA and len(body) > 5 and body[0] == 1:
            (crc,) = struct.unpack_from("<I", body, 1)
            if crc == zlib.crc32(raw_name):
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
    return None


def _relative_parts(name: str) -> tuple[str, ...] | None:
    """The path components of a member name, or None when the name escapes the target."""
    name = name.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name) or "\x00" in name:
        return None
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if any(p == ".." for p in parts):
        return None
    return parts


_REFUSED = "The zip '{name}' was refused: %s; re-create the archive from the image folders."
# English sentence of each error, by code: the UI says it in another language by code (ui/i18n `dataerr.<code>`).
ERRORS: dict[str, str] = {
    "zip_too_many": _REFUSED % "it holds {n:,} entries, more than the limit of {max:,}",
    "zip_outside": _REFUSED % "the member '{member}' points outside the folder it would be extracted to",
    "zip_symlink": _REFUSED % "the member '{member}' is a symbolic link",
    "zip_too_big": _REFUSED % "it unpacks to more than {gib:.1f} GiB (reached at member '{member}')",
    "zip_bomb": _REFUSED % "the member '{member}' expands more than {ratio:.0f} times, like a zip bomb",
    "zip_password": "The zip '{name}' is password-protected (member '{member}'); zip the images again without a "
                    "password.",
    "zip_damaged": "The zip '{name}' is damaged at member '{member}' ({error}); re-create or re-download it.",
    "zip_method": "The zip '{name}' uses a compression method that cannot be read ({error}); re-create it with "
                  "ordinary (deflate) compression.",
    "zip_unreadable": "The file '{name}' is not a readable zip archive (it may be damaged); re-create or re-download "
                      "it.",
}


def _refuse(code: str, zip_path: Path, **params: object) -> DataError:
    """The DataError of `code` about `zip_path`, with a code and params a UI can translate."""
    return CodedDataError(code, ERRORS[code].format(name=zip_path.name, **params), name=zip_path.name, **params)


def check_archive(
    zf: zipfile.ZipFile, zip_path: Path, target: Path, limits: ZipLimits
) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """Check every member and return (member, path parts) for the files worth extracting."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise _refuse("zip_too_many", zip_path, n=len(infos), max=limits.max_members)
    root = target.resolve()
    total = 0
    wanted = []
    for info in infos:
        name = member_name(info)
        parts = _relative_parts(name)
        if parts is None:
            raise _refuse("zip_outside", zip_path, member=name)
        if (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
            raise _refuse("zip_symlink", zip_path, member=name)
        dest = root.joinpath(*parts).resolve() if parts else root
        if parts and not dest.is_relative_to(root):
            raise _refuse("zip_outside", zip_path, member=name)
        if info.flag_bits & _ENCRYPTED_FLAG:
            raise _refuse("zip_password", zip_path, member=name)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise _refuse("zip_too_big", zip_path, gib=limits.max_total_bytes / (1 << 30), member=name)
        if info.file_size > limits.ratio_min_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise _refuse("zip_bomb", zip_path, member=name, ratio=limits.max_ratio)
        if info.is_dir() or not parts or any(is_junk(p) for p in parts):
            continue
        wanted.append((info, parts))
    return wanted


def safe_extract(zip_path: str | Path, target: str | Path, limits: ZipLimits | None = None) -> list[str]:
    """Extract the non-junk files of a zip into `target` after checking every member; return their relative names."""
    zip_path, target = Path(zip_path), Path(target)
    limits = limits or ZipLimits()
    try:
        with zipfile.ZipFile(zip_path) as zf:
            wanted = check_archive(zf, zip_path, target, limits)
            names = []
            for info, parts in wanted:
                dest = target.joinpath(*parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with zf.open(info) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                except (zipfile.BadZipFile, zlib.error, EOFError) as e:
                    raise _refuse("zip_damaged", zip_path, member="/".join(parts), error=str(e)) from None
                except NotImplementedError as e:
                    raise _refuse("zip_method", zip_path, error=str(e)) from None
                names.append("/".join(parts))
    except zipfile.BadZipFile:
        raise _refuse("zip_unreadable", zip_path) from None
    return names
