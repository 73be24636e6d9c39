"""Physical lines of a text file, decoded block by block.

Decoding here (not in a ``TextIOWrapper``) lets an encoding error name the line and the
byte offset of the file, and lets the readers count every physical line from the bytes,
independently of any parser.
"""

from __future__ import annotations

import codecs
import gzip
import re
from collections import deque
from collections.abc import Iterator, Sequence
from typing import IO

_BLOCK = 1 << 16
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_GZIP_MAGIC = b"\x1f\x8b"


class TextDecodeError(Exception):
    """The file is not text in its declared encoding; ``cause`` names line and byte."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__(cause)


def _breaks(text: str) -> str | None:
    """How the file ends its lines, from its first line break: "\\n" (with or without a
    \\r before it) or "\\r" (a classic Mac file); None before the first break."""
    at = _NEWLINE.search(text)
    if at is None or (at.group() == "\r" and at.end() == len(text)):
        return None  # a \r at the end may be the first half of a \r\n
    return "\r" if at.group() == "\r" else "\n"


def physical_lines(raw: gzip.GzipFile | IO[bytes], encoding: str) -> Iterator[str]:
    """The file's text lines (with their endings: \\r\\n, \\r or \\n), BOM stripped.

    A file whose first line ends in \\n or \\r\\n has lines ended by \\n only, as ``wc -l``,
    ``sed`` and editors count them: a stray \\r inside a value is part of its line, not a
    line of its own. A file whose first line ends in a lone \\r (classic Mac) is split at
    every \\r, \\n or \\r\\n. Decoded incrementally over binary blocks, so an encoding
    error names the line and byte offset of the file (of the decompressed stream for gzip).
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    fed = 0  # bytes given to the decoder so far
    done = 0  # lines yielded so far
    carry = ""  # decoded text not yet split into lines
    head = b""
    started = False
    breaks: str | None = None
    while True:
        block = raw.read(_BLOCK)
        head = head or block[:4]
        final = not block
        state = decoder.getstate()
        try:
            text = decoder.decode(block, final)
        except UnicodeDecodeError as exc:
            raise _decode_error(encoding, exc, state, block, fed, done, carry, head,
                                isinstance(raw, gzip.GzipFile), breaks) from None
        except UnicodeError as exc:  # "UTF-16 stream does not start with BOM"
            base = "utf-32" if "32" in encoding else "utf-16"
            raise TextDecodeError(
                f"line {done + 1}, byte {fed}: not valid {encoding} text: no byte-order mark "
                f"({exc}); set input.encoding to {base}-le or {base}-be") from None
        fed += len(block)
        if text and not started:
            started = True
            text = text.removeprefix("\ufeff")
        carry += text
        hold = ""
        if not final and carry.endswith("\r"):
            carry, hold = carry[:-1], "\r"  # the \n of a \r\n may be in the next block
        if breaks is None:  # the carry before this block had no break but a final \r
            tail = carry[-len(text) - 1:] + hold
            breaks = _breaks(tail) or ("\r" if final and "\r" in tail else None)
        if breaks == "\n":
            cut = carry.rfind("\n") + 1
        else:
            cut = max(carry.rfind("\n"), carry.rfind("\r")) + 1
        if cut:
            body, carry = carry[:cut], carry[cut:]
            if breaks == "\n" or "\r" not in body:
                lines = [s + "\n" for s in body[:-1].split("\n")]
            else:
                lines = _LINE.findall(body)
            done += len(lines)
            yield from lines
        carry += hold
        if final:
            if carry:
                yield carry
            return


def _decode_error(
    encoding: str, exc: UnicodeDecodeError, state: tuple[bytes, int],
    block: bytes, fed: int, done: int, carry: str, head: bytes, gz: bool,
    breaks: str | None = None,
) -> TextDecodeError:
    pending = state[0]
    offset = fed - len(pending) + exc.start
    before = carry
    try:  # the text decoded between the last full line and the bad byte
        d = codecs.getincrementaldecoder(encoding)(errors="strict")
        d.setstate(state)
        before += d.decode(block[: max(0, exc.start - len(pending))])
    except (UnicodeDecodeError, ValueError):
        pass
    if (breaks or _breaks(before)) == "\n":
        line = done + before.count("\n") + 1
    else:
        line = done + len(_NEWLINE.findall(before)) + 1
    where = f"line {line}, byte {offset}" + (" of the decompressed stream" if gz else "")
    cause = f"{where}: not valid {exc.encoding} text: {exc.reason}"
    if head.startswith(_UTF16_BOMS) and "16" not in encoding:
        cause += " (the file starts with a UTF-16 byte-order mark: set input.encoding: utf-16)"
    elif head.startswith(_GZIP_MAGIC) and gz:
        cause += " (the decompressed stream is itself gzip: the file was compressed twice)"
    return TextDecodeError(cause)


class NumberedLines:
    """Numbered physical lines with pushback; ``taken`` counts lines off the file."""

    def __init__(self, src: Iterator[str]) -> None:
        self._src = src
        self._back: deque[tuple[int, str]] = deque()
        self._next = 1
        self.taken = 0

    def pop(self) -> tuple[int, str] | None:
        if self._back:
            return self._back.popleft()
        text = next(self._src, None)
        if text is None:
            return None
        no, self._next = self._next, self._next + 1
        self.taken += 1
        return no, text

    def push_back(self, lines: Sequence[tuple[int, str]]) -> None:
        self._back.extendleft(reversed(lines))
