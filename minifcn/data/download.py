"""Download PASCAL VOC 2012 (resumable, md5-checked) and unpack it safely.

Three steps, each its own function: ``download_url`` fetches into ``<file>.part`` and continues a
partial download where it stopped (an HTTP Range request; for a file:// URL, a seek in the
source); ``file_md5`` checks the whole file before it is renamed into place; ``safe_extract``
checks every member of the tar before writing anything, because a tar may name paths outside the
target folder ("/etc/x", "../x") or links that point there.
"""
import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request

from tqdm import tqdm

VOC2012_URL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
VOC2012_MD5 = "6cd6e144f989b92b3379bac3b3de84fd"
CHUNK = 1 << 20  # bytes per read


def file_md5(path):
    """The md5 hex digest of a file, read in chunks (the VOC tar is 2 GB)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_source(url, start):
    """Open ``url`` at byte ``start``.

    Returns (stream, total size or None, whether the stream starts at ``start``).
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = urllib.request.url2pathname(parsed.path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"download source not found: {path} (from {url})")
        stream = open(path, "rb")
        stream.seek(start)
        return stream, os.path.getsize(path), True
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as e:
        if e.code == 416:  # range not satisfiable: the .part already holds the whole file
            return None, start, True
        raise
    length = response.headers.get("Content-Length")
    # 206 Partial Content: the server honoured the Range; 200: it sent the whole file again
    resumed = response.status == 206
    offset = start if resumed else 0
    return response, (offset + int(length)) if length is not None else None, resumed


def download_url(url, path, md5=None, progress=True):
    """Download ``url`` to ``path`` through ``path + '.part'``, resuming a partial download.

    The file is renamed to ``path`` only after its md5 (if given) matches; on a mismatch the
    download is deleted and ValueError names the expected and actual digests. Returns ``path``.
    """
    part = path + ".part"
    start = os.path.getsize(part) if os.path.isfile(part) else 0
    stream, total, resumed = _open_source(url, start)
    if stream is not None:
        with stream, open(part, "ab" if resumed else "wb") as out, tqdm(
            total=total, initial=start if resumed else 0, unit="B", unit_scale=True,
            desc=os.path.basename(path), disable=not progress,
        ) as bar:
            for block in iter(lambda: stream.read(CHUNK), b""):
                out.write(block)
                bar.update(len(block))
    if md5 is not None:
        actual = file_md5(part)
        if actual != md5:
            os.remove(part)  # a bad file must not be used, nor resumed from next time
            raise ValueError(
                f"md5 mismatch for {url}: expected {md5}, got {actual}; the download was deleted"
            )
    os.replace(part, path)
    return path


def _unsafe_reason(member):
    """Why extracting this tar member could write outside the target folder, or None."""
    name = member.name.replace("\\", "/")
    if name.startswith("/") or os.path.isabs(member.name) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a '..' component"
    if member.issym() or member.islnk():
        return f"a link (to {member.linkname!r})"
    if not (member.isfile() or member.isdir()):
        return "a device file, fifo or other special file"
    return None


def safe_extract(tar_path, root):
    """Extract a tar into ``root``, refusing the whole archive if any member is unsafe.

    Every member is checked before anything is written: absolute paths, '..' components, links
    and special files raise ValueError naming the member.
    """
    root = os.path.abspath(root)
    with tarfile.open(tar_path) as tar:
        members = tar.getmembers()
        for member in members:
            reason = _unsafe_reason(member)
            target = os.path.abspath(os.path.join(root, member.name))
            if reason is None and os.path.commonpath([root, target]) != root:
                reason = "a path outside the target folder"
            if reason is not None:
                raise ValueError(
                    f"refusing to extract {tar_path}: member {member.name!r} has {reason}"
                )
        for member in members:
            target = os.path.join(root, member.name)
            if member.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with tar.extractfile(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)


def _is_voc(folder):
    return all(
        os.path.isdir(os.path.join(folder, sub))
        for sub in ("JPEGImages", "SegmentationClass", os.path.join("ImageSets", "Segmentation"))
    )


def download_voc(root, url=VOC2012_URL, md5=VOC2012_MD5, progress=True):
    """Download and unpack VOC2012 trainval into ``root``; return ``root/VOCdevkit/VOC2012``.

    Does nothing if that folder is already complete. The tar (2 GB) is kept in ``root`` so that a
    failed extraction can be retried without downloading again; delete it when done.
    """
    root = os.path.expanduser(os.fspath(root))
    voc = os.path.join(root, "VOCdevkit", "VOC2012")
    if _is_voc(voc):
        return voc
    os.makedirs(root, exist_ok=True)
    tar_path = os.path.join(root, os.path.basename(urllib.parse.urlparse(url).path) or "voc.tar")
    if os.path.isfile(tar_path) and md5 is not None and file_md5(tar_path) != md5:
        # not the archive we expect (damaged, or another release): fetch it again
        os.remove(tar_path)
    if not os.path.isfile(tar_path):
        download_url(url, tar_path, md5, progress)
    safe_extract(tar_path, root)
    if not _is_voc(voc):
        raise FileNotFoundError(
            f"{tar_path} did not contain VOCdevkit/VOC2012 with JPEGImages/, SegmentationClass/ "
            f"and ImageSets/Segmentation/"
        )
    return voc
