"""Reading the text files a user hands minifcn, whichever tool saved them.

Class lists, split lists, class-weight files and a run's ``log.csv`` are often saved by other
tools: Windows Notepad starts a file with a byte-order mark and ends its lines with CRLF, a
spreadsheet does both, a Latin-1 editor writes bytes that are not UTF-8. ``read_lines`` reads the
first two and refuses the third by name: the file, the line, the bytes.
"""
import os

BOM = "\ufeff"


def read_text(path, what="file"):
    """The text of ``path``, decoded as UTF-8 (a byte-order mark dropped; CRLF and CR line ends
    become LF). A file that is not UTF-8 is a ValueError naming it, its line and the bytes."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what} {path} is a folder, not a text file")
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{what} {path}:{line}: bytes {data[e.start:e.start + 4]!r} are not "
                         f"UTF-8 (a file saved as Latin-1 or a Windows code page?); save it as "
                         f"UTF-8 text") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ValueError(f"{what} {path}:{line}: holds NUL bytes, so it is not a text file "
                         f"(UTF-16 text, or a binary file given by mistake?); save it as UTF-8")
    return text.removeprefix(BOM).replace("\r\n", "\n").replace("\r", "\n")


def read_lines(path, what="file", comments=True):
    """[(line number, line)] of the non-blank lines of a text file, stripped, as ``read_text``
    decodes it; ``comments``: lines starting with ``#`` are skipped too."""
    lines = []
    for n, line in enumerate(read_text(path, what).split("\n"), 1):
        line = line.strip()
        if line and not (comments and line.startswith("#")):
            lines.append((n, line))
    return lines
