"""Copy-paste snippets that open a served dataset: zarr, kerchunk, intake and STAC."""

from __future__ import annotations

import json

__all__ = ["snippets"]


def _py(text: str) -> str:
    """A Python string literal for ``text`` (JSON's double-quoted form is valid Python)."""
    return json.dumps(text)


def snippets(base_url: str, dataset_id: str) -> dict[str, str]:
    """``{"zarr": ..., "kerchunk": ..., "intake": ..., "stac": ...}`` for one served dataset."""
    from urllib.parse import quote

    base = base_url.rstrip("/")
    ds_url = f"{base}/datasets/{quote(dataset_id, safe='')}"
    return {
        "zarr": "import xarray as xr\n"
                f"ds = xr.open_dataset({_py(ds_url + '/zarr')}, engine=\"zarr\", chunks=\"auto\")",
        "kerchunk": "import xarray as xr\n"
                    f"ds = xr.open_dataset({_py(ds_url + '/kerchunk')}, engine=\"kerchunk\", "
                    "chunks=\"auto\")",
        "intake": "import intake\n"
                  f"ds = intake.open_catalog({_py(base + '/intake.yaml')})"
                  f"[{_py(dataset_id)}].to_dask()",
        "stac": "import pystac\n"
                "collection = pystac.Collection.from_file("
                f"{_py(base + '/stac-collection-all.json')})",
    }
