"""What ``objstore serve`` publishes: datasets (id, URL, profile, open kwargs) and server settings,
from a TOML or YAML file or from URLs given on the command line.

    [serve]                       # all optional
    title = "DKRZ cubes"
    token_file = "/etc/objstore/token"
    cors_origins = ["*"]
    max_chunk_mb = 64
    public = ["/docs", "/openapi.json"]

    [datasets]
    air = "s3://bucket/air.zarr"             # id = url
    [datasets.fire]
    url = "swift://cubes/fire.zarr"
    profile = "dkrz"
    title = "Fire weather"
    public = true                            # readable without the token
    open = { decode_times = false }          # keyword arguments for open_cube
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError

__all__ = ["DatasetSpec", "ServeConfig", "load_config", "config_from_urls", "dataset_id_for"]

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class DatasetSpec(BaseModel):
    """One served dataset. ``profile`` is a profile name (or a Profile object in Python)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)

    id: str
    url: str
    profile: Any = None
    title: str | None = None
    description: str | None = None
    public: bool = False
    open: dict[str, Any] = Field(default_factory=dict, description="open_cube keyword arguments")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if v in {".", ".."} or not ID_PATTERN.match(v):
            raise ValueError(f"dataset id {v!r} must be letters, digits, '_', '.' or '-' "
                             "(at most 128, starting with a letter or digit)")
        return v

    @property
    def profile_name(self) -> str | None:
        """The profile's name, for display (never the profile's secrets)."""
        p = self.profile
        return p if p is None or isinstance(p, str) else getattr(p, "name", None) or "<code>"


class ServeConfig(BaseModel):
    """Datasets plus server settings (see the module docstring for the file format)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    datasets: list[DatasetSpec] = Field(default_factory=list)
    title: str = "objstore serve"
    token: str | None = Field(None, repr=False, description="Bearer token (or token_file)")
    token_file: Path | None = None
    cors_origins: list[str] = Field(default_factory=list)
    public: list[str] = Field(default_factory=list, description="Path prefixes open without token")
    max_chunk_mb: float = Field(64.0, gt=0, description="413 for a chunk larger than this")
    max_request_kb: int = Field(16, gt=0, description="413 for a request body or URL larger")
    max_inflight: int = Field(8, ge=1, description="Chunk computations at once (memory bound)")
    cache_mb: float = Field(64.0, ge=1, description="Cache of encoded metadata and chunks (the "
                            "format-3 metadata is rebuilt on every request without room for it)")
    public_url: str | None = Field(None, description="Base URL clients use (behind a proxy)")
    source: str | None = Field(None, description="The file this came from (for reloads)")

    def __repr__(self) -> str:
        return f"ServeConfig(datasets={[d.id for d in self.datasets]}, source={self.source!r})"

    __str__ = __repr__

    def bearer_token(self) -> str | None:
        """The token clients must send (from ``token`` or the first line of ``token_file``)."""
        if self.token:
            return self.token
        if self.token_file is None:
            return None
        try:
            text = Path(self.token_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the token file {self.token_file}: {exc.strerror}; "
                              "create it with one line holding the token") from None
        if not text:
            raise ConfigError(f"the token file {self.token_file} is empty; write the token in it")
        return text.splitlines()[0].strip()


def dataset_id_for(url: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """An id from the URL's last name: ``s3://b/run/air.zarr`` -> ``air`` (``air-2`` if taken)."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".zarr", ".nc", ".nc4", ".h5", ".netcdf"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "dataset"
    if not base[0].isalnum():
        base = "d" + base
    base = base[:120]
    out, n = base, 2
    while out in taken:
        out, n = f"{base}-{n}", n + 1
    return out


def config_from_urls(urls: list[str], profile: Any = None, **settings: Any) -> ServeConfig:
    """A config serving each URL under an id taken from its name."""
    specs: list[DatasetSpec] = []
    for url in urls:
        specs.append(DatasetSpec(id=dataset_id_for(url, {s.id for s in specs}), url=url,
                                 profile=profile))
    return _build({"datasets": specs, **settings}, "the command line")


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the serve config {path}: {exc.strerror}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}{where}: not valid YAML; fix the file") from None
    else:
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table with [datasets] (and optionally [serve])")
    return data


def load_config(path: str | Path, *, profile: Any = None, extra_urls: list[str] = ()) -> ServeConfig:  # type: ignore[assignment]
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) serve config."""
    path = Path(path)
    data = _read(path)
    unknown = set(data) - {"serve", "datasets"}
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {sorted(unknown)}; "
                          "expected [serve] and [datasets]")
    raw = data.get("datasets") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [datasets] must map ids to URLs or tables")
    specs: list[DatasetSpec] = []
    for ident, entry in raw.items():
        fields = {"url": entry} if isinstance(entry, str) else entry
        if not isinstance(fields, dict) or "url" not in fields:
            raise ConfigError(f"{path}: dataset {ident!r} needs a url (id = \"s3://...\" or a "
                              "table with url = ...)")
        fields = {"profile": profile, **fields, "id": str(ident)}
        specs.append(_spec(fields, f"{path}: dataset {ident!r}"))
    for url in extra_urls:
        specs.append(DatasetSpec(id=dataset_id_for(url, {s.id for s in specs}), url=url,
                                 profile=profile))
    settings = dict(data.get("serve") or {})
    if settings.get("token_file"):
        token_file = Path(settings["token_file"]).expanduser()
        settings["token_file"] = token_file if token_file.is_absolute() else path.parent / token_file
    if "token" in settings:
        raise ConfigError(f"{path}: put the token in a file and name it with token_file, "
                          "not in the config")
    return _build({**settings, "datasets": specs, "source": str(path)}, str(path))


def _spec(fields: dict[str, Any], where: str) -> DatasetSpec:
    try:
        return DatasetSpec(**fields)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_first(exc)}") from None


def _build(fields: dict[str, Any], where: str) -> ServeConfig:
    try:
        cfg = ServeConfig(**fields)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_first(exc)}") from None
    ids = [d.id for d in cfg.datasets]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{where}: dataset id(s) {dup} appear twice; give each a unique id")
    return cfg


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    return f"{loc}: {err.get('msg')}" if loc else str(err.get("msg"))
