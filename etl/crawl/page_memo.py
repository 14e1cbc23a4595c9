"""The page memo: what the last crawl made of each answer, kept between syncs (file I/O).

The RMA API has no conditional requests, so a re-sync fetches every page again; but when an
answer's bytes hash to what the memo recorded for the same request, the page staged from them
would come out the same. The crawl then links the memo's copy into the new package and takes
the records' keys and ids from the memo, without parsing, flattening or writing the page.

::

    <staging_root>/.page-memo/
      <Model>/<page_key>.jsonl      the page as last staged (a hard link of the staged file)
      <Model>/<page_key>.json       its summary (``MemoPage``), written after the files it
                                    describes and removed before they are replaced
      links/<Model>.<association>/<page_key>.jsonl
                                    the page's join-table pairs, as staged

Staged files are only ever replaced (``os.replace``), never written in place, so a hard link
keeps the bytes the summary describes. ``.page-memo`` is no sync id (those start with a
letter or digit). A summary of another ctmirror version is not used: the flattening of
records may have changed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from ctmirror import __version__
from ctmirror.crawl.staging import StagingPackage, atomic_write

MEMO_DIR = ".page-memo"


@dataclass(frozen=True)
class MemoPage:
    """What one fetched page gave the crawl: enough to take it again without its records."""

    #: The sha256 of the answer's body, as received.
    body_sha256: str
    start_row: int | None
    total_rows: int | None
    #: The primary key of each record, in page order (repeats kept).
    keys: Sequence[object]
    #: The ids the page gives later resources, by field (``crawl.plan.key_fields``).
    ids: dict[str, list[int]]


class PageMemo:
    """The memo of the crawls staged under ``staging_root``."""

    def __init__(self, staging_root: Path) -> None:
        self.root = Path(staging_root) / MEMO_DIR
        # Paths inside the memo are laid out as a package's are.
        self._layout = StagingPackage(staging_root, "memo")
        self._layout.root = self.root

    def get(self, model: str, key: str) -> MemoPage | None:
        """The summary of the page last staged for request ``key``, if any (and usable)."""
        try:
            doc = orjson.loads(self._summary(model, key).read_bytes())
            if doc["version"] != __version__:
                return None
            return MemoPage(doc["body_sha256"], doc["start_row"], doc["total_rows"],
                            doc["keys"], doc["ids"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, package: StagingPackage, model: str, key: str, links: Iterable[str],
            page: MemoPage) -> None:
        """Remember the page ``package`` just staged for ``key`` (and its pairs)."""
        summary = self._summary(model, key)
        summary.unlink(missing_ok=True)
        files = [(package.page_path(model, key), self._layout.page_path(model, key))]
        files += [(package.links_path(model, name, key),
                   self._layout.links_path(model, name, key)) for name in links]
        try:
            text = orjson.dumps({
                "version": __version__, "body_sha256": page.body_sha256,
                "start_row": page.start_row, "total_rows": page.total_rows,
                "keys": list(page.keys), "ids": page.ids}).decode()
        except orjson.JSONEncodeError:
            return  # a key past 64 bits (the load quarantines its record): parse it each time
        for source, target in files:
            _link(source, target)
        atomic_write(summary, text)

    def restore(self, package: StagingPackage, model: str, key: str,
                links: Iterable[str]) -> bool:
        """Stage the remembered page for ``key`` (pairs first) in ``package``; False when a
        file of it is gone (then nothing is staged for it)."""
        pairs = [(self._layout.links_path(model, name, key),
                  package.links_path(model, name, key)) for name in links]
        try:
            for source, target in [*pairs, (self._layout.page_path(model, key),
                                            package.page_path(model, key))]:
                _link(source, target)
        except FileNotFoundError:
            return False
        return True

    def keep_only(self, visited: set[tuple[str, str]]) -> None:
        """Forget every page but the (model, key) pairs of ``visited`` (after a full crawl)."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.name == "links":
                continue
            for path in folder.iterdir():
                if (folder.name, path.name.split(".", 1)[0]) not in visited:
                    path.unlink(missing_ok=True)
        links = self.root / "links"
        if links.is_dir():
            for folder in links.iterdir():
                model = folder.name.split(".", 1)[0]
                for path in folder.iterdir():
                    if (model, path.name.split(".", 1)[0]) not in visited:
                        path.unlink(missing_ok=True)

    def _summary(self, model: str, key: str) -> Path:
        return self._layout.page_path(model, key).with_suffix(".json")


def _link(source: Path, target: Path) -> None:
    """Put ``source``'s file at ``target`` atomically: a hard link, or a copy where the file
    system has none."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)
    try:
        try:
            os.link(source, tmp)
        except FileNotFoundError:
            raise
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["MEMO_DIR", "MemoPage", "PageMemo"]
