"""Query semantics on the tiny snapshot: joins, includes, the criteria-filters-includes rule,
paging, ordering, only/except, typed comparisons."""

from __future__ import annotations

from typing import Any

import pytest

from ctmirror.errors import QueryError
from ctmirror.serve.engine import QueryEngine, QueryResult
from ctmirror.serve.rma_query import parse_query

from .tiny_snapshot import GLIF_LIF


def run(engine: QueryEngine, q: str) -> QueryResult:
    return engine.run(parse_query(q))


def ids(result: QueryResult, key: str = "id") -> list[Any]:
    return [row[key] for row in result.rows]


def test_whole_model_in_primary_key_order(engine: QueryEngine) -> None:
    result = run(engine, "model::ApiCellTypesSpecimenDetail,rma::options[num_rows$eq'all']")
    assert ids(result, "specimen__id") == [10, 11, 12, 13]
    assert (result.start_row, result.total_rows) == (0, 4)


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ("[id$eq10]", [10]),
        ("[id$eq'10']", [10]),
        ("[id$ne10]", [11, 12, 13]),
        ("[id$gt11]", [12, 13]),
        ("[id$ge11]", [11, 12, 13]),
        ("[id$lt11]", [10]),
        ("[id$le11]", [10, 11]),
        ("[id$in13,10,99]", [10, 13]),
        ("[name$li'Cell*']", [10, 11, 13]),
        ("[name$il'cell*']", [10, 11, 12, 13]),
        ("[name$il'*B']", [11]),
        ("[name$eq'Cell A;1']", [10]),
        ("[hemisphere$eqleft]", [10, 13]),
        ("[hemisphere$ne'left']", [11]),  # NULL is neither equal nor unequal, as in SQL
        ("[hemisphere$null]", [12]),
        ("[hemisphere$nonnull]", [10, 11, 13]),
        ("[ephys_result_id]", [10, 11, 12]),
        ("[is_cell_specimen$eqfalse]", [13]),
        ("[is_cell_specimen$eq'true']", [10, 11, 12]),
        ("[donor_id$eq2][hemisphere$eqleft]", [13]),
        ("[specimens.id$in10,11]", [10, 11]),
    ],
)
def test_filters(engine: QueryEngine, criteria: str, expected: list[int]) -> None:
    assert ids(run(engine, f"model::Specimen,rma::criteria,{criteria}")) == expected


def test_model_stage_filters_as_allensdk_writes_them(engine: QueryEngine) -> None:
    assert ids(run(engine, "model::Specimen[donor_id$eq1],rma::criteria,[id$gt10]")) == [11]


def test_string_attribute_compares_bare_numbers_as_text(engine: QueryEngine) -> None:
    result = run(engine, "model::ApiCellTypesSpecimenDetail,rma::criteria,[structure__layer$eq5]")
    assert ids(result, "specimen__id") == [10, 11]


def test_float_comparison(engine: QueryEngine) -> None:
    result = run(engine, "model::ApiCellTypesSpecimenDetail,rma::criteria,[ef__vrest$lt-66]")
    assert ids(result, "specimen__id") == [10, 13]


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("model::Specimen,rma::criteria,[colour$eqred]", "Specimen has no attribute 'colour'"),
        ("model::Specimen,rma::criteria,donor[colour$eqred]", "Donor has no attribute 'colour'"),
        ("model::Specimen,rma::criteria,[id$eqabc]", "holds numbers"),
        ("model::Specimen,rma::criteria,[is_cell_specimen$eqyes]", "holds booleans"),
        ("model::Specimen,rma::options[order$eqcolour]", "no attribute 'colour'"),
    ],
)
def test_unknown_attributes_and_mistyped_values(engine: QueryEngine, q: str, message: str
                                                ) -> None:
    with pytest.raises(QueryError, match=message):
        run(engine, q)


def test_criteria_path_is_an_inner_join(engine: QueryEngine) -> None:
    # Specimen 11's ephys result failed, specimen 13 has none.
    result = run(engine, "model::EphysFeature,rma::criteria,specimen(ephys_result"
                         "[failed$eqfalse]),rma::options[num_rows$eq'all']")
    assert ids(result, "specimen_id") == [10, 12]
    assert "specimen" not in result.rows[0]  # criteria do not nest anything


def test_criteria_join_through_a_belongs_to_with_a_filter(engine: QueryEngine) -> None:
    result = run(engine, "model::SubImage,rma::criteria,data_set[specimen_id$eq10]")
    assert ids(result) == [9001, 9002, 9003]
    assert run(engine, "model::SubImage,rma::criteria,data_set[specimen_id$eq11]").rows == []


def test_criteria_join_without_filters_requires_existence(engine: QueryEngine) -> None:
    assert ids(run(engine, "model::Specimen,rma::criteria,neuron_reconstructions")) == [10, 12]
    assert ids(run(engine, "model::Specimen,rma::criteria,neuron_reconstructions"
                           "(well_known_files[well_known_file_type_id$eq486753749])")) == [10]


def test_polymorphic_files_match_on_attachable_type(engine: QueryEngine) -> None:
    # WellKnownFile 5009 belongs to NeuronalModelRun 1001, not to EphysResult 1001.
    result = run(engine, "model::EphysResult,rma::criteria,[id$eq1001],"
                         "rma::include,well_known_files")
    assert ids(result) == [1001]
    assert [f["id"] for f in result.rows[0]["well_known_files"]] == [5001, 5002]


def test_allensdk_nwb_query_nests_only_the_file_the_criteria_asked_for(
    engine: QueryEngine,
) -> None:
    q = ("model::Specimen,rma::criteria,[id$eq10],ephys_result(well_known_files("
         "well_known_file_type[name$eqNWBDownload])),rma::include,ephys_result(well_known_files("
         "well_known_file_type)),rma::options[num_rows$eq'all']")
    (specimen,) = run(engine, q).rows
    files = specimen["ephys_result"]["well_known_files"]
    assert [f["id"] for f in files] == [5001]  # not NWBUncompressed 5002
    assert files[0]["well_known_file_type"] == {"id": 481007198, "name": "NWBDownload"}
    assert specimen["ephys_result"]["failed"] is False


def test_allensdk_nwb_query_drops_a_cell_without_that_file(engine: QueryEngine) -> None:
    q = ("model::Specimen,rma::criteria,[id$in10,12],ephys_result(well_known_files("
         "well_known_file_type[name$eqNWBDownload])),rma::include,ephys_result(well_known_files("
         "well_known_file_type))")
    assert ids(run(engine, q)) == [10]  # 12 has only an NWBUncompressed file


def test_include_filter_restricts_the_nested_list(engine: QueryEngine) -> None:
    q = ("model::Specimen,rma::criteria,[id$eq10],neuron_reconstructions(well_known_files),"
         "rma::include,neuron_reconstructions(well_known_files(well_known_file_type"
         "[name$eq'3DNeuronReconstruction']))")
    (specimen,) = run(engine, q).rows
    (reconstruction,) = specimen["neuron_reconstructions"]
    assert [f["id"] for f in reconstruction["well_known_files"]] == [5005]  # not the marker


def test_glif_include_keeps_only_glif_models_and_unfiltered_siblings(engine: QueryEngine) -> None:
    q = ("model::Specimen,rma::criteria,[id$in10,12],rma::include,neuronal_models("
         "well_known_files,neuronal_model_template[id$in395310498,395310469,395310475,395310479,"
         "471355161],neuronal_model_runs(well_known_files)),rma::options[num_rows$eq'all']"
         "[count$eqfalse]")
    result = run(engine, q)
    # Specimen 12 has only a biophysical model: the include's condition drops it.
    assert ids(result) == [10]
    (model,) = result.rows[0]["neuronal_models"]
    assert model["id"] == 6001
    assert model["neuronal_model_template"]["id"] == GLIF_LIF
    assert [f["id"] for f in model["well_known_files"]] == [5008]
    assert [r["id"] for r in model["neuronal_model_runs"]] == [7001]
    assert model["neuronal_model_runs"][0]["well_known_files"] == []


def test_include_nests_belongs_to_as_object_or_null_and_has_many_as_list(
    engine: QueryEngine,
) -> None:
    result = run(engine, "model::Specimen,rma::criteria,[id$in12,13],rma::include,"
                         "ephys_result,donor,ephys_sweeps")
    twelve, thirteen = result.rows
    assert twelve["ephys_result"]["id"] == 1003 and thirteen["ephys_result"] is None
    assert twelve["donor"] == {"id": 2, "name": "D2"}
    assert [s["sweep_number"] for s in twelve["ephys_sweeps"]] == [1, 2, 3]
    assert thirteen["ephys_sweeps"] == []
    assert list(twelve)[-3:] == ["ephys_result", "donor", "ephys_sweeps"]


def test_has_one_include(engine: QueryEngine) -> None:
    (result,) = run(engine, "model::EphysResult,rma::criteria,[id$eq1002],"
                            "rma::include,specimen").rows
    assert result["specimen"]["id"] == 11


def test_self_referencing_structure(engine: QueryEngine) -> None:
    result = run(engine, "model::Structure,rma::include,parent_structure")
    assert [r["parent_structure"] and r["parent_structure"]["id"] for r in result.rows] == [
        None, 385]


def test_default_page_is_50_and_total_counts_every_match(engine: QueryEngine) -> None:
    result = run(engine, "model::EphysSweep,rma::options[num_rows$eq2][start_row$eq3]")
    assert ids(result) == [2101, 2102]
    assert (result.start_row, result.total_rows) == (3, 9)
    assert len(run(engine, "model::EphysSweep").rows) == 9  # fewer than the default 50


def test_count_false_still_reports_the_true_total(engine: QueryEngine) -> None:
    result = run(engine, "model::EphysSweep,rma::options[num_rows$eq4][count$eqfalse]")
    assert (len(result.rows), result.total_rows) == (4, 9)


def test_paging_past_the_end_is_empty(engine: QueryEngine) -> None:
    result = run(engine, "model::EphysSweep,rma::options[start_row$eq100]")
    assert (result.rows, result.total_rows) == ([], 9)


def test_allensdk_pager_walk_sees_every_row_once(engine: QueryEngine) -> None:
    seen: list[int] = []
    start = 0
    while True:
        page = run(engine, f"model::EphysSweep,rma::options[num_rows$eq4][start_row$eq{start}]"
                           "[order$eq'id'][count$eqfalse]").rows
        seen += [r["id"] for r in page]
        if len(page) != 4:
            break
        start += 4
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 9


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("name", [10, 11, 13, 12]),
        ("name+desc", [12, 13, 11, 10]),
        ("'name desc'", [12, 13, 11, 10]),
        ("hemisphere,id$desc", [13, 10, 11, 12]),  # NULLs last ascending
        ("hemisphere+desc,id", [12, 11, 10, 13]),  # and first descending
        ("specimens.donor_id+desc,name", [13, 12, 10, 11]),
    ],
)
def test_order(engine: QueryEngine, order: str, expected: list[int]) -> None:
    assert ids(run(engine, f"model::Specimen,rma::options[order$eq{order}]")) == expected


def test_order_of_a_nested_list_by_its_association(engine: QueryEngine) -> None:
    (series,) = run(engine, "model::ImageSeries,rma::include,sub_images,"
                            "rma::options[order$eq'sub_images.section_number$asc']").rows
    assert [s["section_number"] for s in series["sub_images"]] == [1, 2, 3]


def test_only_and_except(engine: QueryEngine) -> None:
    only = run(engine, "model::Specimen,rma::criteria,[id$eq10],rma::options[only$eq'id,name']")
    assert only.rows == [{"id": 10, "name": "Cell A;1"}]
    excepted = run(engine, "model::NeuronReconstruction,rma::options[except$eqtags,nothing]")
    assert excepted.rows[0] == {"id": 4001, "specimen_id": 10, "number_stems": 5}


def test_allensdk_except_bug_removes_nothing(engine: QueryEngine) -> None:
    rows = run(engine, "model::NeuronReconstruction,rma::options[except$eqt,a,g,s]").rows
    assert all("tags" in row for row in rows)


def test_only_qualified_by_association_applies_to_nested_records(engine: QueryEngine) -> None:
    (row,) = run(engine, "model::Specimen,rma::criteria,[id$eq10],rma::include,donor,"
                         "rma::options[only$eq'id,donor.name']").rows
    assert row == {"id": 10, "donor": {"name": "D1"}}


def test_tabular_columns_and_aliases(engine: QueryEngine) -> None:
    rows = run(engine, "model::Specimen,rma::criteria,[id$in10,12],"
                       "rma::options[tabular$eq'id+as+specimen_id,donor.name']").rows
    assert rows == [{"specimen_id": 10, "name": "D1"}, {"specimen_id": 12, "name": "D2"}]


def test_tabular_refuses_has_many(engine: QueryEngine) -> None:
    with pytest.raises(QueryError, match="belongs_to"):
        run(engine, "model::Specimen,rma::options[tabular$eq'ephys_sweeps.id']")


def test_record_lookup_by_primary_key(engine: QueryEngine) -> None:
    assert engine.record("ApiCellTypesSpecimenDetail", 12)["specimen__name"] == "cell c"
    assert engine.record("Specimen", 99) is None


def test_results_never_alias_between_queries(engine: QueryEngine) -> None:
    first = run(engine, "model::Specimen,rma::criteria,[id$eq10],rma::include,donor").rows[0]
    plain = run(engine, "model::Specimen,rma::criteria,[id$eq10]").rows[0]
    assert "donor" in first and "donor" not in plain
