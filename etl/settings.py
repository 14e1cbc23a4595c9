"""Settings: the only place that reads the environment (prefix ``CTMIRROR_``, nesting ``__``)
and the only place that defines a default.

``Settings`` is read once at an edge (the CLI, the demo) with the flags given there as
overrides; ``Settings.sync_config()`` turns it into the one ``SyncConfig`` a sync runs on: a
frozen, normalised value that the Prefect flow takes as its one parameter.

Secrets never travel in clear: ``SyncConfig`` keeps the warehouse password and the API's
``user:password`` apart from their URLs as ``SecretStr``, which pydantic (and so Prefect, which
stores every flow-run parameter) renders as ``**********``. What is shown, logged or stored is
the URL without them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ctmirror.defaults import DEFAULT_API_BASE as DEFAULT_API_BASE
from ctmirror.storage import ObjectStore, is_store_url

if TYPE_CHECKING:
    from ctmirror.mirror.plan import FileCategory



class ApiSettings(BaseModel):
    base_url: str = Field(DEFAULT_API_BASE, description="RMA API root (no trailing /api/v2)")
    timeout_s: float = Field(60.0, description="Per-request connect/read timeout in seconds")
    max_attempts: int = Field(8, description="Attempts per request before giving up")
    concurrency: int = Field(4, description="Requests in flight at once")
    page_size: int = Field(2000, description="Rows per page for flat paged queries")
    in_batch: int = Field(200, description="Ids per $in batch for linked records")


#: A removal of more than this share of a model's live rows at once is held until the next
#: sync confirms it...
REMOVAL_HOLD_SHARE = 0.1
#: ...when it is at least this many rows (dropping 1 of 3 donors is no outage).
REMOVAL_HOLD_MIN_ROWS = 10


class WarehouseSettings(BaseModel):
    url: str | None = Field(
        None, description="SQLAlchemy URL; default duckdb:///<root>/warehouse.duckdb"
    )
    removal_hold_share: float = Field(
        REMOVAL_HOLD_SHARE, ge=0.0, le=1.0,
        description="Hold a removal of more than this share of a model's live rows at once "
                    "until the next sync confirms it (1 = never hold)")
    removal_hold_min_rows: int = Field(
        REMOVAL_HOLD_MIN_ROWS, ge=1, description="...when it is at least this many rows")


class FilesSettings(BaseModel):
    categories: str = Field(
        "all", description="Files to mirror: all, none, or a comma list of categories "
                           "(recordings, reconstructions, models, thumbnails, images, "
                           "sub-images, uncompressed, other); all = every category but "
                           "sub-images and uncompressed")
    concurrency: int = Field(4, description="Downloads in flight at once")
    image_downsample: int = Field(
        0, description="Section images: halve width and height this many times (0 = full size)")
    convert: bool = Field(True, description="Convert recordings, reconstructions and model "
                                            "parameters after downloading")


class FeaturesSettings(BaseModel):
    ephys: bool = Field(True, description="Recompute ephys features from converted recordings")
    morphology: bool = Field(
        True, description="Recompute morphology features from converted SWC reconstructions")
    ephys_definitions: str = Field(
        "allen2016", description="Definition set: allen2016 (the published table's) or ipfx")
    workers: int = Field(2, ge=1, description="Processes (or threads) computing the derived "
                                               "stages' items at once, without --dask")
    pool: Literal["processes", "threads"] = Field(
        "processes", description="Compute the derived stages' items in worker processes or "
                                 "threads of this machine (without --dask)")
    dask: str | None = Field(
        None, description="Compute the derived stages' items on a Dask cluster: a scheduler "
                          "address (tcp://host:8786) or local:N for a local cluster of N "
                          "worker processes; results are written by this process")
    glif: bool = Field(True, description="Simulate GLIF models on their cell's recording and "
                                         "recompute their explained variance ratio")
    glif_voltages: bool = Field(
        False, description="Also write every GLIF model's simulated voltage traces "
                           "(Parquet dataset glif_voltages; large: 4 bytes per sample)")
    biophys: bool = Field(True, description="Simulate biophysical models with NEURON on their "
                                            "cell's recording and recompute their feature "
                                            "average (needs the neuron extra)")
    biophys_stimuli: str = Field(
        "Long Square,Short Square,Ramp", description="Sweeps biophysical models are run on, by "
        "the start of their stimulus name (comma list; add Noise for the long noise sweeps); "
        "the fit's training sweeps are always run")
    biophys_solver: Literal["fixed", "cvode"] = Field(
        "fixed", description="fixed: one step per sample, AllenSDK's runner's spikes; cvode: "
                             "variable step, faster on squares, spike times drift by ms")
    biophys_timeout_s: float = Field(
        1800.0, gt=0, description="Give up a model whose simulation of one sweep takes longer "
                                  "than this many seconds (a recorded failure)")

    @field_validator("dask")
    @classmethod
    def _dask_target(cls, dask: str | None) -> str | None:
        from ctmirror.item_runner import parse_dask

        if dask is None or not dask.strip():
            return None
        parse_dask(dask)
        return dask.strip()


class RunSettings(BaseModel):
    """How a sync as a whole is bounded and reported (the Prefect flow and ``--no-prefect``)."""

    stage_timeout_s: float | None = Field(
        None, gt=0, description="Fail a stage that runs longer than this many seconds (Prefect "
                                "task timeout; empty: no limit)")
    retries: int = Field(
        3, ge=0, description="Retries of a stage that failed on a transient error (the API or "
                             "the warehouse unreachable, 429/5xx past the per-request attempts)")
    retry_delay_s: float = Field(
        10.0, ge=0, description="Wait before the first retry of a stage; doubled for each "
                                "further retry")
    #: A secret: webhook URLs carry their token in the path.
    notify_url: SecretStr | None = Field(
        None, description="POST a JSON message about every failed sync to this URL (a "
                          "webhook: Slack, Teams, ntfy, a lab's own endpoint)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CTMIRROR_", env_nested_delimiter="__")

    root: Path | str = Field(
        Path("data"), description="Mirror root: a folder (warehouse, files, staging), or an "
                                  "object store URL (s3://bucket/prefix) for the files and "
                                  "Parquet datasets")
    work_dir: Path | None = Field(
        None, description="With an object store root: the local folder for the warehouse "
                          "(DuckDB), staging and the working copy; default a folder under "
                          "~/.cache/ctmirror named after the URL")
    limit: int | None = Field(None, description="Mirror only the first N cells")
    api: ApiSettings = ApiSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    files: FilesSettings = FilesSettings()
    features: FeaturesSettings = FeaturesSettings()
    run: RunSettings = RunSettings()

    @property
    def store_url(self) -> str | None:
        """The object store URL of the root, or None for a local root."""
        return str(self.root).rstrip("/") if is_store_url(self.root) else None

    @property
    def local_root(self) -> Path:
        """The local folder a sync works in: the root itself, or an object store's work dir."""
        store = self.store_url
        if store is None:
            return Path(self.root)
        return self.work_dir or default_work_dir(store)

    def object_store(self) -> ObjectStore | None:
        """The object store of the root, None for a local root."""
        return None if self.store_url is None else ObjectStore(self.store_url)

    def warehouse_url(self) -> str:
        return self.warehouse.url or default_warehouse_url(self.local_root)

    def sync_config(self) -> SyncConfig:
        """The sync's configuration: these settings, normalised and frozen."""
        warehouse, password = split_password(self.warehouse_url())
        return SyncConfig(root=self.local_root, store=self.store_url, warehouse=warehouse,
                          warehouse_password=None if password is None else SecretStr(password),
                          limit=self.limit, api=self.api, files=self.files,
                          features=self.features, run=self.run,
                          removal_hold_share=self.warehouse.removal_hold_share,
                          removal_hold_min_rows=self.warehouse.removal_hold_min_rows)


class SyncConfig(BaseModel):
    """Everything a sync needs, built once (``Settings.sync_config``) and passed down as is.

    The API base has no trailing slash and the root is absolute, whoever built the value. An
    API base given with ``user:password@`` is split on the way in: ``api`` holds the URL
    without them, ``api_credentials`` the secret.
    """

    model_config = ConfigDict(frozen=True)

    #: The local folder the sync works in (with an object store: its working copy).
    root: Path
    #: The object store the files and datasets are put on (``s3://bucket/prefix``), if any.
    store: str | None = None
    #: The warehouse URL without its password: what is shown and stored.
    warehouse: str
    warehouse_password: SecretStr | None = None
    limit: int | None
    removal_hold_share: float = REMOVAL_HOLD_SHARE
    removal_hold_min_rows: int = REMOVAL_HOLD_MIN_ROWS
    api: ApiSettings
    #: ``user:password`` from the API base URL, sent as HTTP basic authentication.
    api_credentials: SecretStr | None = None
    files: FilesSettings
    features: FeaturesSettings
    run: RunSettings = RunSettings()

    @model_validator(mode="before")
    @classmethod
    def _api_credentials_apart(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        api = data.get("api")
        if isinstance(api, ApiSettings | dict):
            api = api.model_dump() if isinstance(api, ApiSettings) else dict(api)
            if "base_url" in api:
                api["base_url"], credentials = split_credentials(api["base_url"])
                data["api"] = api
                if credentials is not None:
                    data.setdefault("api_credentials", credentials)
        return data

    @field_validator("root")
    @classmethod
    def _absolute(cls, root: Path) -> Path:
        return root.resolve()

    @field_validator("api")
    @classmethod
    def _no_trailing_slash(cls, api: ApiSettings) -> ApiSettings:
        return api.model_copy(update={"base_url": api.base_url.rstrip("/")})

    @model_validator(mode="after")
    def _known_categories(self) -> SyncConfig:
        self.file_categories  # noqa: B018 - an unknown category is a ConfigError here
        return self

    @property
    def api_base(self) -> str:
        """The API root without credentials."""
        return self.api.base_url

    @property
    def api_auth(self) -> tuple[str, str] | None:
        """The API's (user, password) for HTTP basic authentication, if its URL had them."""
        if self.api_credentials is None:
            return None
        user, _, password = self.api_credentials.get_secret_value().partition(":")
        return user, password

    @property
    def warehouse_url(self) -> str:
        """The URL to connect with, password included: never to be shown or stored."""
        if self.warehouse_password is None:
            return self.warehouse
        url = sa.make_url(self.warehouse).set(password=self.warehouse_password.get_secret_value())
        return url.render_as_string(hide_password=False)

    @property
    def object_store(self) -> ObjectStore | None:
        """The object store of the mirror, None when the root is a local folder."""
        return None if self.store is None else ObjectStore(self.store)

    @property
    def staging_root(self) -> Path:
        return self.root / "staging"

    @property
    def file_categories(self) -> frozenset[FileCategory]:
        """The ``FileCategory`` values to mirror."""
        from ctmirror.mirror.plan import parse_categories

        return parse_categories(self.files.categories)


def split_password(url: str) -> tuple[str, str | None]:
    """A database URL without its password, and the password (None without one). A URL that
    does not parse is kept whole: opening it reports the error."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return url, None
    if parsed.password is None:
        return url, None
    bare = sa.URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port,
                         parsed.database, parsed.query)
    return bare.render_as_string(hide_password=False), str(parsed.password)


def split_credentials(url: str) -> tuple[str, str | None]:
    """An HTTP URL without ``user:password@``, and ``user:password`` (None without them)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    credentials = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return urlunsplit(parts._replace(netloc=host)), credentials


def default_work_dir(url: str) -> Path:
    """The local working folder of an object store root: under the user's cache folder, one
    folder per store URL."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    scheme, _, rest = url.partition("://")
    parts = [part for part in rest.split("/") if part not in ("", ".", "..")]
    return base / "ctmirror" / scheme / Path(*parts)


def default_warehouse_url(root: Path) -> str:
    return f"duckdb:///{(Path(root) / 'warehouse.duckdb').resolve()}"
