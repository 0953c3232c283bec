"""download_voc on small tars served from file:// URLs: extraction, md5, resume, hostile tars."""
import hashlib
import io
import os
import pathlib
import tarfile

import pytest

from minifcn.data import download_url, download_voc, safe_extract

VOC = "VOCdevkit/VOC2012"


def _add(tar, name, data=b"", kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def make_tar(path, extra=()):
    """A miniature VOCtrainval tar; ``extra`` = (name, data, type, linkname) members appended."""
    with tarfile.open(path, "w") as tar:
        for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
            _add(tar, f"{VOC}/{folder}", kind=tarfile.DIRTYPE)
        _add(tar, f"{VOC}/JPEGImages/2007_000032.jpg", b"jpeg bytes " * 300)
        _add(tar, f"{VOC}/SegmentationClass/2007_000032.png", b"png bytes")
        _add(tar, f"{VOC}/ImageSets/Segmentation/train.txt", b"2007_000032\n")
        for member in extra:
            _add(tar, *member)
    return path


def md5(path):
    return hashlib.md5(pathlib.Path(path).read_bytes()).hexdigest()


def test_download_and_extract(tmp_path):
    src = make_tar(tmp_path / "VOCtrainval.tar")
    root = tmp_path / "root"
    voc = download_voc(str(root), url=src.as_uri(), md5=md5(src), progress=False)
    assert voc == str(root / "VOCdevkit" / "VOC2012")
    assert (root / VOC / "ImageSets/Segmentation/train.txt").read_text() == "2007_000032\n"
    assert (root / VOC / "JPEGImages/2007_000032.jpg").read_bytes() == b"jpeg bytes " * 300
    assert (root / "VOCtrainval.tar").read_bytes() == src.read_bytes()
    assert not (root / "VOCtrainval.tar.part").exists()
    # a second call finds the folder complete and touches nothing (even with a wrong url)
    gone = (tmp_path / "gone.tar").as_uri()
    assert download_voc(str(root), url=gone, md5=None, progress=False) == voc


def test_md5_mismatch_is_refused_and_nothing_is_used(tmp_path):
    src = make_tar(tmp_path / "VOCtrainval.tar")
    root = tmp_path / "root"
    with pytest.raises(ValueError, match=f"expected {'0' * 32}, got {md5(src)}"):
        download_voc(str(root), url=src.as_uri(), md5="0" * 32, progress=False)
    assert sorted(os.listdir(root)) == []  # no tar kept, nothing extracted


def test_resume_continues_a_partial_file(tmp_path):
    # the .part holds bytes that differ from the source's: only a download that really continues
    # from the end of the .part produces this md5
    src = tmp_path / "blob.bin"
    src.write_bytes(bytes(range(256)) * 40)
    dest = tmp_path / "out" / "blob.bin"
    dest.parent.mkdir()
    pathlib.Path(str(dest) + ".part").write_bytes(b"x" * 1000)
    expected = b"x" * 1000 + src.read_bytes()[1000:]
    download_url(src.as_uri(), str(dest), md5=hashlib.md5(expected).hexdigest(), progress=False)
    assert dest.read_bytes() == expected
    assert not pathlib.Path(str(dest) + ".part").exists()


def test_download_voc_resumes(tmp_path):
    src = make_tar(tmp_path / "VOCtrainval.tar")
    root = tmp_path / "root"
    root.mkdir()
    (root / "VOCtrainval.tar.part").write_bytes(src.read_bytes()[:3000])
    download_voc(str(root), url=src.as_uri(), md5=md5(src), progress=False)
    assert (root / VOC / "SegmentationClass/2007_000032.png").read_bytes() == b"png bytes"


@pytest.mark.parametrize("member, reason", [
    (("/tmp/minifcn-test-evil-abs", b"evil"), "absolute"),
    (("../evil.txt", b"evil"), r"'\.\.'"),
    (("VOCdevkit/../../evil.txt", b"evil"), r"'\.\.'"),
    (("VOCdevkit/VOC2012/link", b"", tarfile.SYMTYPE, "../../../evil.txt"), "link"),
    (("VOCdevkit/VOC2012/hard", b"", tarfile.LNKTYPE, "/etc/passwd"), "link"),
    (("VOCdevkit/VOC2012/dev", b"", tarfile.CHRTYPE), "device"),
])
def test_hostile_tars_are_refused_before_anything_is_written(tmp_path, member, reason):
    src = make_tar(tmp_path / "evil.tar", extra=[member])
    root = tmp_path / "a" / "root"
    with pytest.raises(ValueError, match=rf"member '{member[0]}' has .*{reason}"):
        download_voc(str(root), url=src.as_uri(), md5=md5(src), progress=False)
    assert os.listdir(root) == ["evil.tar"]  # the download, and no extracted file at all
    assert not (tmp_path / "a" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not os.path.exists("/tmp/minifcn-test-evil-abs")


def test_safe_extract_plain_tar(tmp_path):
    src = make_tar(tmp_path / "ok.tar")
    safe_extract(str(src), str(tmp_path / "out"))
    assert (tmp_path / "out" / VOC / "JPEGImages" / "2007_000032.jpg").is_file()


def test_missing_source_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.tar"):
        download_voc(
            str(tmp_path / "root"), url=(tmp_path / "nothing.tar").as_uri(), progress=False
        )


class _RangeServer:
    """A local HTTP server for ``data``; honours 'Range: bytes=N-' unless told not to."""

    def __init__(self, data, honour_range=True):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                start = 0
                ranged = self.headers.get("Range")
                if ranged and honour_range:
                    start = int(ranged.split("=")[1].rstrip("-"))
                    if start >= len(data):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/VOCtrainval.tar"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("honour_range", [True, False])
def test_http_resume_with_and_without_range_support(tmp_path, honour_range, no_proxy):
    data = bytes(range(256)) * 50
    dest = tmp_path / "blob.bin"
    pathlib.Path(str(dest) + ".part").write_bytes(b"x" * 500)
    # a server that honours Range continues after the .part; one that ignores it resends it all
    expected = b"x" * 500 + data[500:] if honour_range else data
    with _RangeServer(data, honour_range) as server:
        download_url(server.url, str(dest), md5=hashlib.md5(expected).hexdigest(), progress=False)
    assert dest.read_bytes() == expected


def test_http_part_already_complete(tmp_path, no_proxy):
    data = b"all of it" * 100
    dest = tmp_path / "blob.bin"
    pathlib.Path(str(dest) + ".part").write_bytes(data)
    with _RangeServer(data) as server:  # answers 416: nothing left to send
        download_url(server.url, str(dest), md5=hashlib.md5(data).hexdigest(), progress=False)
    assert dest.read_bytes() == data
