"""Write a hostile variant of a good bundle, for tests. Usage: craft_zip.py GOOD OUT CASE."""
import json
import sys
import zipfile

good, out, case = sys.argv[1], sys.argv[2], sys.argv[3]
src = zipfile.ZipFile(good)
entries = [(info, src.read(info.filename)) for info in src.infolist()]
blob_names = [i.filename for i, _ in entries if i.filename.startswith("blobs/sha256/")]
first_blob = blob_names[0]


def plain(name, data, dst):
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = 0o100644 << 16
    dst.writestr(info, data, compress_type=zipfile.ZIP_STORED)


with zipfile.ZipFile(out, "w") as dst:
    extra = []
    for info, data in entries:
        name = info.filename
        if case == "missing-blob" and name == first_blob:
            continue
        if case == "symlink" and name == first_blob:
            link = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            link.create_system = 3
            link.external_attr = (0o120777 << 16)
            dst.writestr(link, "/etc/passwd")
            continue
        if case == "size-lie" and name == "ferry.json":
            doc = json.loads(data)
            doc["blobs"][0]["size"] += 1
            data = json.dumps(doc).encode()
        if case == "bad-ferry-json" and name == "ferry.json":
            data = b'{"schema": "ferry.bundle/v1", "images": 5'
        if case == "deflate":
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
            continue
        plain(name, data, dst)
    hostile_names = {
        "traversal": "../evil",
        "traversal-deep": "blobs/../../evil",
        "absolute": "/tmp/evil",
        "drive": "C:evil",
        "backslash": "blobs\\sha256\\evil",
        "ntfs-stream": "index.json:evil",
        "device": "CON",
        "trailing-dot": "index.json.",
        "case-collision": "INDEX.JSON",
        "unlisted-blob": "blobs/sha256/" + "ab" * 32,
    }
    if case in hostile_names:
        plain(hostile_names[case], b"evil", dst)
    if case == "duplicate":
        plain(first_blob, src.read(first_blob), dst)

if case == "rehash-ferry-json":
    # An attacker's edit that keeps the bundle self-consistent: change ferry.json and
    # rewrite its line in SHA256SUMS. Only a signature can tell.
    import hashlib
    with zipfile.ZipFile(out, "w") as dst:
        new_manifest = None
        for info, data in entries:
            if info.filename == "ferry.json":
                doc = json.loads(data)
                doc["tool"] = "not ferry"
                data = new_manifest = json.dumps(doc).encode()
            if info.filename == "SHA256SUMS":
                continue
            plain(info.filename, data, dst)
        sums = []
        for line in src.read("SHA256SUMS").decode().splitlines():
            hexd, name = line.split("  ", 1)
            if name == "ferry.json":
                hexd = hashlib.sha256(new_manifest).hexdigest()
            sums.append(f"{hexd}  {name}")
        plain("SHA256SUMS", ("\n".join(sums) + "\n").encode(), dst)
