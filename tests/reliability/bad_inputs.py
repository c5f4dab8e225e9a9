"""Builders for the bad-input table: each writes one hostile or odd file (or folder entry).

Every builder takes the folder to write into and returns the path it made. The table in
test_bad_input.py says what the ingest must do with each.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import zipfile
from pathlib import Path

from tests.ingest.builders import write_pdf

MB = 1024 * 1024
DATA = Path(__file__).parent / "data"
PROSE = (
    "The liaison office reviews the training plan every spring. Each advisor drafts an annex "
    "for the operation order, and the review board checks it against the national action plan. "
)


def text_of_size(size: int, sentence: str = PROSE) -> str:
    """Prose paragraphs (blank-line separated) adding up to about ``size`` characters."""
    paragraph = sentence * 6 + "\n\n"
    return paragraph * (size // len(paragraph) + 1)


def zero_bytes(folder: Path) -> Path:
    path = folder / "zero.txt"
    path.write_bytes(b"")
    return path


def whitespace_only(folder: Path) -> Path:
    path = folder / "blank.md"
    path.write_bytes(b" \n\n\t \r\n   \n")
    return path


def control_characters_only(folder: Path) -> Path:
    path = folder / "controls.txt"
    path.write_bytes(bytes(range(1, 9)) * 50 + b"\x7f\x1b\x0e" * 20)
    return path


def binary_as_text(folder: Path) -> Path:
    path = folder / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(4096))
    return path


def elf_as_markdown(folder: Path) -> Path:
    path = folder / "tool.md"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(8) + os.urandom(2048))
    return path


def latin1_text(folder: Path) -> Path:
    path = folder / "latin1.txt"
    path.write_bytes(("Résumé of the naïve café meeting. " * 20).encode("latin-1"))
    return path


def undecodable_text(folder: Path) -> Path:
    """Not UTF-8, and no legacy encoding decodes it without garbage."""
    path = folder / "noise.txt"
    path.write_bytes(bytes(range(128, 256)) * 8)
    return path


def utf16_with_bom(folder: Path) -> Path:
    path = folder / "utf16-bom.txt"
    text = "The UTF-16 memo names Ms. Ibáñez as the focal point.\n" * 3
    path.write_bytes(text.encode("utf-16"))
    return path


def utf16_without_bom(folder: Path) -> Path:
    path = folder / "utf16-nobom.md"
    text = "# Memo\n\nThe BOM-less memo lists the Tegucigalpa workshop.\n"
    path.write_bytes(text.encode("utf-16-le"))
    return path


def utf16_big_endian_without_bom(folder: Path) -> Path:
    path = folder / "utf16be-nobom.txt"
    path.write_bytes("Big-endian notes on the Quito seminar.\n".encode("utf-16-be"))
    return path


def truncated_utf16(folder: Path) -> Path:
    path = folder / "utf16-cut.txt"
    path.write_bytes("Cut short".encode("utf-16") + b"\x41")  # odd length after the BOM
    return path


def _pdf_bytes(folder: Path) -> bytes:
    source = write_pdf(
        folder / ".source.pdf",
        ["The field manual covers the protection of civilians. " * 20] * 3,
        title="Field manual",
    )
    data = source.read_bytes()
    source.unlink()
    return data


def truncated_pdf(folder: Path) -> Path:
    path = folder / "truncated.pdf"
    data = _pdf_bytes(folder)
    path.write_bytes(data[: len(data) // 3])
    return path


def corrupt_pdf(folder: Path) -> Path:
    path = folder / "corrupt.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(8192) + b"\n%%EOF\n")
    return path


def pdf_header_only(folder: Path) -> Path:
    path = folder / "header-only.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    return path


def _encrypted(folder: Path, name: str, user_password: str) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(_pdf_bytes(folder))).pages:
        writer.add_page(page)
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    path = folder / name
    with path.open("wb") as out:
        writer.write(out)
    return path


def encrypted_pdf(folder: Path) -> Path:
    return _encrypted(folder, "encrypted.pdf", "user-secret")


def pdf_with_owner_password_only(folder: Path) -> Path:
    """Opens without a password (only printing/copying rights are restricted): it must load."""
    return _encrypted(folder, "owner-only.pdf", "")


def aes_pdf_with_owner_password_only(folder: Path) -> Path:
    """AES-256, no password needed to open: the usual "protected" PDF. A stored file, since
    writing AES needs the 'cryptography' package, which this project may not have."""
    path = folder / "aes-owner-only.pdf"
    shutil.copy(DATA / "aes256-owner-password-only.pdf", path)
    return path


def pdf_without_text_layer(folder: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_fill_color(40, 80, 160)
    pdf.rect(20, 20, 120, 80, style="F")
    pdf.ellipse(50, 120, 60, 40, style="D")
    path = folder / "scanned.pdf"
    pdf.output(str(path))
    return path


def docx_zip_bomb(folder: Path) -> Path:
    """A .docx whose document.xml inflates to 120 MB (about 120 KB on disk)."""
    path = folder / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as part:
            block = b"<w:p>" + b"A" * (MB - 10) + b"</w:p>"
            for _ in range(120):
                part.write(block)
    return path


def docx_zip_bomb_lying_header(folder: Path) -> Path:
    """Like docx_zip_bomb, but the zip headers claim the part is tiny (a forged size)."""
    path = folder / "forged-bomb.docx"
    real = docx_zip_bomb(folder)
    data = bytearray(real.read_bytes())
    real.unlink()
    name = b"word/document.xml"
    forged = (1000).to_bytes(4, "little")
    local = data.find(b"PK\x03\x04" + bytes(0), 0)
    while local != -1:  # local headers: uncompressed size at offset 22
        if data[local + 30 : local + 30 + len(name)] == name:
            data[local + 22 : local + 26] = forged
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central != -1:  # central directory: uncompressed size at offset 24
        if data[central + 46 : central + 46 + len(name)] == name:
            data[central + 24 : central + 28] = forged
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    return path


def docx_not_a_zip(folder: Path) -> Path:
    path = folder / "letter.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2048))  # an old binary .doc
    return path


def docx_without_document_part(folder: Path) -> Path:
    path = folder / "hollow.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/other.xml", "<x/>")
    return path


def big_text(folder: Path, size: int = 50 * MB) -> Path:
    path = folder / "big-50mb.txt"
    path.write_text(text_of_size(size)[:size], encoding="utf-8")
    return path


def deeply_nested_html(folder: Path) -> Path:
    depth = 100_000
    path = folder / "nested.html"
    path.write_text(
        "<html><head><title>Nested</title></head><body>"
        + "<div>" * depth
        + "<p>The innermost paragraph names the Lima liaison desk.</p>"
        + "</div>" * depth
        + "</body></html>",
        encoding="utf-8",
    )
    return path


def one_long_line(folder: Path) -> Path:
    """10 MB of prose on one line: no newline anywhere."""
    path = folder / "one-line.txt"
    path.write_text(text_of_size(10 * MB).replace("\n", " ")[: 10 * MB], encoding="utf-8")
    return path


def one_long_markdown_line(folder: Path) -> Path:
    """10 MB on one Markdown line full of unclosed emphasis and link openers."""
    path = folder / "one-line.md"
    unit = "*open [bracket `tick _under "
    path.write_text(unit * (10 * MB // len(unit)), encoding="utf-8")
    return path


def yaml_billion_laughs(folder: Path) -> Path:
    """Front matter whose title expands to 9**9 items if anything turns it into a string."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    path = folder / "laughs.md"
    path.write_text(
        "---\n" + "\n".join(lines) + "\ntitle: *a9\ndate: *a9\n---\n# Laughs\n\n"
        "The body text of the laughing memo is ordinary.\n",
        encoding="utf-8",
    )
    return path


def symlink_loop(folder: Path) -> Path:
    a, b = folder / "loop-a.md", folder / "loop-b.md"
    os.symlink(b.name, a)
    os.symlink(a.name, b)
    return a


def dangling_symlink(folder: Path) -> Path:
    path = folder / "dangling.md"
    os.symlink("does-not-exist.md", path)
    return path


def fifo(folder: Path) -> Path:
    """A named pipe: opening it for reading blocks forever, root or not."""
    path = folder / "pipe.txt"
    os.mkfifo(path)
    return path


def unix_socket(folder: Path) -> Path:
    """A socket file: open() fails with ENXIO even for root (chmod 000 would not)."""
    path = folder / "socket.md"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()  # the file stays; nothing listens
    return path


def mode_000(folder: Path) -> Path:
    """chmod 000: unreadable for a normal user, readable for root (who runs the tests here)."""
    path = folder / "locked.txt"
    path.write_text("The locked note mentions the Asuncion roster.\n", encoding="utf-8")
    path.chmod(0)
    return path


def hard_link_copy(folder: Path) -> Path:
    """The same file under two names (a hard link): two documents, each consistent."""
    first = folder / "original.md"
    first.write_text("# Original\n\nThe twin memo describes the Montevideo exercise.\n")
    second = folder / "twin.md"
    os.link(first, second)
    return second


def symlink_alias(folder: Path) -> Path:
    """A second name that is a symbolic link to a file in the same root: one document."""
    target = folder / "target.md"
    target.write_text("# Target\n\nThe aliased memo describes the Cusco exercise.\n")
    alias = folder / "alias.md"
    os.symlink(target.name, alias)
    return alias


def name_with_spaces_and_unicode(folder: Path) -> Path:
    path = folder / "Informe final – Bogotá 2023 ✓.md"
    path.write_text("# Informe\n\nThe Bogotá report thanks the Cali team.\n", encoding="utf-8")
    return path


def name_with_dots(folder: Path) -> Path:
    sub = folder / "sub..dir"
    sub.mkdir()
    path = sub / "notes..v2..md"
    path.write_text("# Notes\n\nThe double-dot notes list the Panama drill.\n", encoding="utf-8")
    return path


def name_not_utf8(folder: Path) -> Path:
    """A file name that is not valid UTF-8 (e.g. from an old Windows zip)."""
    raw = os.fsencode(folder) + b"/r\xe9sum\xe9.txt"
    with open(raw, "wb") as out:
        out.write(b"The latin-1 named file describes the Caracas seminar.\n")
    return Path(os.fsdecode(raw))


def unsupported_type(folder: Path) -> Path:
    path = folder / "diagram.svg"
    path.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return path


def html_legacy_charset_undeclared(folder: Path) -> Path:
    path = folder / "legacy.html"
    path.write_bytes("<html><body><p>Café crème au Québec.</p></body></html>".encode("cp1252"))
    return path
