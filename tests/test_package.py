"""The package surface: every ``objstore.x.y`` the README and docs use works after a plain
``import objstore``, and that import pulls in no heavy optional package."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("xarray", "zarr", "fsspec", "s3fs", "gcsfs", "adlfs", "dask", "numpy", "pandas",
         "botocore", "aiobotocore", "aiohttp", "obstore", "azure", "google", "keystoneauth1")
_FILE_SUFFIXES = {"toml", "yaml", "yml", "json", "md", "py", "log", "txt"}


def documented_names() -> set[str]:
    """``objstore.a.b`` chains in README.md and docs/*.md (not file names like objstore.toml)."""
    found: set[str] = set()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for m in re.finditer(r"(?<![\w./-])objstore((?:\.[A-Za-z_]\w*)+)", doc.read_text()):
            parts = m.group(1).lstrip(".").split(".")
            if parts[-1] not in _FILE_SUFFIXES:
                found.add(".".join(parts))
    return found


def fresh_python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_every_documented_name_works_after_a_plain_import():
    names = documented_names()
    assert {"scratch.url", "swift.make_public", "open_cube"} <= names
    code = ("import json, objstore\nmissing = []\n"
            f"for chain in {sorted(names)!r}:\n"
            "    obj = objstore\n"
            "    try:\n"
            "        for part in chain.split('.'):\n"
            "            obj = getattr(obj, part)\n"
            "    except AttributeError:\n"
            "        missing.append(chain)\n"
            "print(json.dumps(missing))")
    assert json.loads(fresh_python(code)) == []


def test_import_objstore_imports_no_heavy_package():
    code = (f"import sys, json, objstore\nprint(json.dumps(sorted({{m.split('.')[0] for m in "
            f"sys.modules}} & set({list(HEAVY)!r}))))")
    assert json.loads(fresh_python(code)) == []


def test_a_submodule_loads_on_first_use_and_typos_still_fail():
    code = ("import sys, objstore\n"
            "assert objstore.scratch.url.__module__ == 'objstore.scratch'\n"
            "assert 'xarray' not in sys.modules\n"
            "try:\n    objstore.scrach\nexcept AttributeError as e:\n    print(e)\n"
            "print('swift' in dir(objstore))")
    assert fresh_python(code).split("\n")[:2] == [
        "module 'objstore' has no attribute 'scrach'", "True"]
