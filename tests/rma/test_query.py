"""Query strings byte for byte as AllenSDK sends them (allen_api_spec.md §1.2) and encoded."""

from __future__ import annotations

import pytest

from ctmirror.errors import QueryError
from ctmirror.rma.query import eq, filter_clause, in_, model_stage, options_clause, query_url

ALL = {"num_rows": "all"}
ALL_NO_COUNT = {"num_rows": "all", "count": False}
GLIF_TEMPLATES = [395310498, 395310469, 395310475, 395310479, 471355161]
BIOPHYS_PATHS = (
    "neuronal_model_template(well_known_files(well_known_file_type)),"
    "specimen(ephys_result(well_known_files(well_known_file_type)),"
    "neuron_reconstructions(well_known_files(well_known_file_type)),ephys_sweeps),"
    "well_known_files(well_known_file_type)"
)

SDK_QUERIES = [
    (
        model_stage("ApiCellTypesSpecimenDetail", **ALL),
        "model::ApiCellTypesSpecimenDetail,rma::options[num_rows$eq'all']",
    ),
    (
        model_stage("ApiCellTypesSpecimenDetail", criteria=eq("specimen__id", 123), **ALL),
        "model::ApiCellTypesSpecimenDetail,rma::criteria,[specimen__id$eq123],"
        "rma::options[num_rows$eq'all']",
    ),
    (
        model_stage("EphysSweep", criteria=eq("specimen_id", 123), **ALL),
        "model::EphysSweep,rma::criteria,[specimen_id$eq123],rma::options[num_rows$eq'all']",
    ),
    (
        model_stage("EphysFeature", criteria=f"specimen(ephys_result{eq('failed', False)})",
                    **ALL),
        "model::EphysFeature,rma::criteria,specimen(ephys_result[failed$eqfalse]),"
        "rma::options[num_rows$eq'all']",
    ),
    (
        # AllenSDK passes except='tags' as a string and so sends t,a,g,s; spelled out here.
        model_stage("NeuronReconstruction", criteria="specimen(ephys_result[failed$eqfalse])",
                    except_=list("tags"), **ALL),
        "model::NeuronReconstruction,rma::criteria,specimen(ephys_result[failed$eqfalse]),"
        "rma::options[except$eqt,a,g,s][num_rows$eq'all']",
    ),
    (
        model_stage(
            "Specimen",
            criteria=[eq("id", 123),
                      "ephys_result(well_known_files(well_known_file_type[name$eqNWBDownload]))"],
            include="ephys_result(well_known_files(well_known_file_type))",
            **ALL,
        ),
        "model::Specimen,rma::criteria,[id$eq123],ephys_result(well_known_files("
        "well_known_file_type[name$eqNWBDownload])),rma::include,ephys_result(well_known_files("
        "well_known_file_type)),rma::options[num_rows$eq'all']",
    ),
    (
        model_stage(
            "Specimen",
            criteria=[eq("id", 123), "neuron_reconstructions(well_known_files)"],
            include="neuron_reconstructions(well_known_files(well_known_file_type"
                    f"{eq('name', '3DNeuronReconstruction')}))",
            **ALL,
        ),
        "model::Specimen,rma::criteria,[id$eq123],neuron_reconstructions(well_known_files),"
        "rma::include,neuron_reconstructions(well_known_files(well_known_file_type"
        "[name$eq'3DNeuronReconstruction'])),rma::options[num_rows$eq'all']",
    ),
    (
        model_stage("NeuronalModelTemplate", **ALL_NO_COUNT),
        "model::NeuronalModelTemplate,rma::options[num_rows$eq'all'][count$eqfalse]",
    ),
    (
        model_stage(
            "Specimen",
            criteria=in_("id", [1, 2]),
            include="neuronal_models(well_known_files,neuronal_model_template"
                    f"{in_('id', GLIF_TEMPLATES)},neuronal_model_runs(well_known_files))",
            **ALL_NO_COUNT,
        ),
        "model::Specimen,rma::criteria,[id$in1,2],rma::include,neuronal_models(well_known_files,"
        "neuronal_model_template[id$in395310498,395310469,395310475,395310479,471355161],"
        "neuronal_model_runs(well_known_files)),rma::options[num_rows$eq'all'][count$eqfalse]",
    ),
    (
        model_stage("NeuronalModel", criteria=in_("id", [5, 6]),
                    include="well_known_files(well_known_file_type)", **ALL_NO_COUNT),
        "model::NeuronalModel,rma::criteria,[id$in5,6],rma::include,"
        "well_known_files(well_known_file_type),rma::options[num_rows$eq'all'][count$eqfalse]",
    ),
    (
        model_stage(
            "NeuronalModel",
            criteria=[in_("neuronal_model_template_id", [491455321, 329230710]),
                      in_("specimen_id", [386049446, 469753383])],
            **ALL_NO_COUNT,
        ),
        "model::NeuronalModel,rma::criteria,[neuronal_model_template_id$in491455321,329230710],"
        "[specimen_id$in386049446,469753383],rma::options[num_rows$eq'all'][count$eqfalse]",
    ),
    (
        model_stage("NeuronalModel", criteria=[eq("id", 472451419), BIOPHYS_PATHS],
                    include=BIOPHYS_PATHS),
        f"model::NeuronalModel,rma::criteria,[id$eq472451419],{BIOPHYS_PATHS},"
        f"rma::include,{BIOPHYS_PATHS}",
    ),
]


@pytest.mark.parametrize(("built", "sdk"), SDK_QUERIES, ids=range(len(SDK_QUERIES)))
def test_query_matches_allensdk(built: str, sdk: str) -> None:
    assert built == sdk


def test_encoding_matches_allensdk_test_suite() -> None:
    # Asserted in AllenSDK's own tests (allensdk/test/api/queries/test_rma_template.py).
    q = model_stage("Atlas", num_rows="all", count=False)
    assert query_url("http://api.brain-map.org", q) == (
        "http://api.brain-map.org/api/v2/data/query.json?q="
        "model::Atlas,rma::options%5Bnum_rows$eq%27all%27%5D%5Bcount$eqfalse%5D"
    )


def test_encoding_of_parentheses_quotes_and_plus() -> None:
    q = model_stage(
        "Specimen",
        criteria=eq("name", "Mouse Cell Types"),
        include="donor(age)",
        order=["specimens.id+desc"],
    )
    assert query_url("http://127.0.0.1:8080/", q, "xml") == (
        "http://127.0.0.1:8080/api/v2/data/query.xml?q=model::Specimen,rma::criteria,"
        "%5Bname$eq%27Mouse%20Cell%20Types%27%5D,rma::include,donor%28age%29,"
        "rma::options%5Border$eqspecimens.id+desc%5D"
    )


def test_encoding_of_a_paged_flat_query() -> None:
    q = model_stage("EphysSweep", criteria=in_("specimen_id", [7, 9]), num_rows=2000,
                    start_row=4000, order=["'id'"], count=False)
    assert query_url("http://api.brain-map.org", q) == (
        "http://api.brain-map.org/api/v2/data/query.json?q=model::EphysSweep,rma::criteria,"
        "%5Bspecimen_id$in7,9%5D,rma::options%5Bnum_rows$eq2000%5D%5Bstart_row$eq4000%5D"
        "%5Border$eq%27id%27%5D%5Bcount$eqfalse%5D"
    )


def test_filter_values_are_quoted_by_type() -> None:
    assert filter_clause("attachable_type", "$eq", "EphysResult") == (
        "[attachable_type$eq'EphysResult']"
    )
    assert filter_clause("failed", "$eq", True) == "[failed$eqtrue]"
    assert filter_clause("resolution", "$lt", 0.5) == "[resolution$lt0.5]"
    assert filter_clause("structures.id", "$ne", 8) == "[structures.id$ne8]"
    assert in_("name", ["Mouse Cell Types", "Human Cell Types"]) == (
        "[name$in'Mouse Cell Types','Human Cell Types']"
    )
    assert in_("id", range(3)) == "[id$in0,1,2]"


def test_model_stage_filters_follow_the_model_name() -> None:
    assert model_stage("Gene", filters={"acronym": "Pdyn"}, num_rows=10) == (
        "model::Gene[acronym$eqPdyn],rma::options[num_rows$eq10]"
    )


def test_options_in_allensdk_order() -> None:
    clause = options_clause(count=True, debug="preview", order=["a", "b"], start_row=5,
                            num_rows=10, tabular=["x"], except_=["y"], only=["z"])
    assert clause == (
        "rma::options[only$eqz][except$eqy][tabular$eqx][num_rows$eq10][start_row$eq5]"
        "[order$eqa,b][debug$eq'preview'][count$eqtrue]"
    )
    assert options_clause() == ""


@pytest.mark.parametrize(
    "call",
    [
        lambda: filter_clause("id", "$in", []),
        lambda: filter_clause("id", "$in", "123"),
        lambda: filter_clause("id", "$eq", [1, 2]),
        lambda: filter_clause("id", "$like", 1),
        lambda: filter_clause("id]", "$eq", 1),
        lambda: eq("name", "O'Brien"),
        lambda: eq("x", float("nan")),
        lambda: options_clause(except_="tags"),
        lambda: options_clause(num_rows=0),
        lambda: options_clause(start_row=-1),
        lambda: model_stage("specimen"),
        lambda: query_url("http://h", "model::X", "yaml"),  # type: ignore[arg-type]
    ],
)
def test_bad_queries_raise_query_error(call: object) -> None:
    with pytest.raises(QueryError):
        call()  # type: ignore[operator]
