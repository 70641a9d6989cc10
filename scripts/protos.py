#!/usr/bin/env python3
"""Regenerate the Python stubs for every .proto under protos/, or check them.

    python scripts/protos.py          # write services/hotline/proto/**/*_pb2*.py(i)
    python scripts/protos.py --check  # exit 1 and name the files that drifted

The proto package path equals the Python import path (hotline.proto.<api>.v1),
so the generated code imports itself without any rewriting.
"""
from __future__ import annotations

import argparse
import filecmp
import pathlib
import shutil
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "services"
GENERATED_ROOT = OUT / "hotline" / "proto"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_dir: pathlib.Path) -> None:
    from grpc_tools import protoc  # dev dependency
    import grpc_tools

    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = ["protoc", f"-I{PROTOS}", f"-I{include}", f"--python_out={out_dir}",
            f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}", *files]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Every generated directory is a regular package.
    for d in (out_dir / "hotline" / "proto").rglob("*"):
        if d.is_dir():
            (d / "__init__.py").touch()
    (out_dir / "hotline" / "proto" / "__init__.py").touch()


def generated_files(root: pathlib.Path) -> set[pathlib.Path]:
    base = root / "hotline" / "proto"
    return {p.relative_to(root) for p in base.rglob("*") if p.name.endswith(SUFFIXES)}


def check() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = pathlib.Path(tmp)
        generate(tmp_path)
        fresh = generated_files(tmp_path)
        committed = generated_files(OUT)
        drift = sorted(str(p) for p in fresh ^ committed)
        drift += sorted(str(p) for p in fresh & committed
                        if not filecmp.cmp(tmp_path / p, OUT / p, shallow=False))
        return drift


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed stubs drifted")
    args = parser.parse_args()
    if args.check:
        drift = check()
        if drift:
            print("generated stubs differ from protos/ (run scripts/protos.py):", *drift, sep="\n  ")
            return 1
        print("generated stubs match protos/")
        return 0
    for p in generated_files(OUT):
        (OUT / p).unlink()
    generate(OUT)
    print(f"generated {len(generated_files(OUT))} files under {GENERATED_ROOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
