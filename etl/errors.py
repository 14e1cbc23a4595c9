"""Every error ctmirror raises on purpose.

    CtMirrorError
    ├── ConfigError            bad arguments or settings; fix the command line or environment
    ├── ApiError               talking to the RMA API (the real one or a replica) failed
    │   ├── ApiTransportError    no usable response: refused, dropped, timed out    [transient]
    │   │   └── ApiUnreachableError  no connection at all (refused, unknown host)
    │   ├── ApiDownError         a sync's crawl got no answer at all past every retry  [transient]
    │   ├── ApiStatusError       an HTTP error status (429, 5xx transient; 4xx terminal)
    │   ├── ApiOutageError       HTTP 200 with an HTML "site unavailable" page      [transient]
    │   └── RmaError             HTTP 200 but not an RMA answer: success:false, wrong
    │                            content type, msg not a list                        [terminal]
    ├── FileIntegrityError     a downloaded or stored file has the wrong size or checksum
    ├── DownloadInProgressError  another process holds the lock of a partial download
    ├── InputError             a file or query the code was given is malformed
    │   ├── QueryError           an RMA query string that does not parse or names unknown things
    │   ├── SwcError, NwbError, GlifConfigError, ModelParametersError
    │   ├── UserSqlError         SQL given to ``ctmirror sql`` that is refused or fails
    │   └── SnapshotError        a replica snapshot directory that is missing or inconsistent
    └── SchemaError            the warehouse is not at the migration head (`ctmirror db upgrade`)

Retry decisions test the ``TransientError`` / ``TerminalError`` mixins, never a list of classes.
``str(exc)`` is the one-line message the CLI prints.
"""

from __future__ import annotations


class TransientError(Exception):
    """Mixin: trying again later may succeed."""


class TerminalError(Exception):
    """Mixin: trying again will fail the same way."""


class CtMirrorError(Exception):
    """Base class of every error raised on purpose by ctmirror."""


class ConfigError(CtMirrorError, TerminalError):
    """Bad arguments or settings."""


class ApiError(CtMirrorError):
    """A request to the RMA API failed."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class ApiTransportError(ApiError, TransientError):
    """No usable response: the connection failed, was dropped, or timed out."""


class ApiUnreachableError(ApiTransportError):
    """No connection at all (refused, unknown host): at the start of a run, more often a wrong
    URL or no network than a blip."""


class ApiDownError(ApiError, TransientError):
    """Every query of a sync's crawl failed past its attempts: nothing can be mirrored. The
    stage is retried whole (the crawl resumes); after the stage's retries the sync fails."""


class ApiStatusError(ApiError):
    """The server answered with an HTTP error status."""

    def __init__(
        self, message: str, *, url: str | None = None, status_code: int,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, url=url)
        self.status_code = status_code
        self.retry_after = retry_after


class TransientApiStatusError(ApiStatusError, TransientError):
    """429 or a 5xx status: worth retrying, honouring Retry-After."""


class TerminalApiStatusError(ApiStatusError, TerminalError):
    """A 4xx status other than 429."""


class ApiOutageError(ApiError, TransientError):
    """HTTP 200 with an HTML page instead of JSON: the API's "site unavailable" outage page."""


class RmaError(ApiError, TerminalError):
    """HTTP 200 that is not a valid RMA answer (success:false, msg not a list)."""


class FileIntegrityError(CtMirrorError, TerminalError):
    """A file's size or checksum differs from what was expected."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class DownloadInProgressError(CtMirrorError, TerminalError):
    """Another process holds the lock of this target's partial download."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class InputError(CtMirrorError, TerminalError):
    """A file or query given to ctmirror is malformed."""


class QueryError(InputError):
    """An RMA query string that does not parse, or names an unknown model or attribute."""


class SwcError(InputError):
    """An SWC reconstruction that cannot be read as a single tree."""


class NwbError(InputError):
    """An NWB file that is not a readable Allen NWB recording."""


class GlifConfigError(InputError):
    """A GLIF neuron_config.json that lacks required keys or has bad values."""


class ModelParametersError(InputError):
    """A model parameter file (GLIF config, biophysical fit) without the expected structure."""


class SnapshotError(InputError):
    """A replica snapshot directory that is missing or inconsistent."""


class UserSqlError(InputError):
    """User SQL that is not one read-only query, or that the warehouse refused."""


class SchemaError(CtMirrorError, TerminalError):
    """The warehouse database is not at the migration head."""


__all__ = [
    "ApiError",
    "ApiOutageError",
    "ApiStatusError",
    "ApiTransportError",
    "ConfigError",
    "CtMirrorError",
    "DownloadInProgressError",
    "FileIntegrityError",
    "GlifConfigError",
    "InputError",
    "NwbError",
    "QueryError",
    "RmaError",
    "SchemaError",
    "SnapshotError",
    "SwcError",
    "TerminalApiStatusError",
    "TerminalError",
    "TransientApiStatusError",
    "TransientError",
    "UserSqlError",
]
