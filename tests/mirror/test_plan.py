"""Choosing which files to mirror, and where a server-given name may put them."""

from __future__ import annotations

import pytest

from ctmirror.errors import ConfigError
from ctmirror.mirror.plan import (
    DEFAULT_CATEGORIES,
    FileCategory,
    category_of,
    parse_categories,
    well_known_file_relpath,
)


def test_all_means_every_category_but_the_two_large_ones() -> None:
    assert parse_categories("all") == DEFAULT_CATEGORIES
    assert FileCategory.SUB_IMAGES not in DEFAULT_CATEGORIES
    assert FileCategory.UNCOMPRESSED not in DEFAULT_CATEGORIES
    assert FileCategory.RECORDINGS in DEFAULT_CATEGORIES


def test_lists_combine_and_none_is_empty() -> None:
    assert parse_categories("none") == frozenset()
    assert parse_categories("recordings, models") == {FileCategory.RECORDINGS,
                                                      FileCategory.MODELS}
    assert parse_categories("all,sub-images") == DEFAULT_CATEGORIES | {FileCategory.SUB_IMAGES}


def test_unknown_category_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown file category 'nwbs'.*recordings"):
        parse_categories("nwbs")


@pytest.mark.parametrize(("type_name", "category"), [
    ("NWBDownload", FileCategory.RECORDINGS),
    ("3DNeuronMarker", FileCategory.RECONSTRUCTIONS),
    ("NeuronalModelParameters", FileCategory.MODELS),
    ("MorphologyThumbnail", FileCategory.THUMBNAILS),
    ("SomethingNew", FileCategory.OTHER),
    (None, FileCategory.OTHER),
])
def test_file_types_map_to_categories(type_name: str | None, category: FileCategory) -> None:
    assert category_of(type_name) == category


@pytest.mark.parametrize(("server_path", "expected"), [
    ("/external/mousecelltypes/prod208/specimen_1/cell.nwb",
     "files/well_known_files/7/cell.nwb"),
    ("../../etc/passwd", "files/well_known_files/7/passwd"),
    ("..", "files/well_known_files/7/_"),
    ("C:\\data\\evil\\..\\x.swc", "files/well_known_files/7/x.swc"),
    (None, "files/well_known_files/7/7"),
])
def test_server_paths_stay_inside_the_files_own_directory(server_path: str | None,
                                                          expected: str) -> None:
    assert well_known_file_relpath(7, server_path) == expected
