"""The RMA query parser: grammar, options, AllenSDK's exact strings, malformed and hostile input."""

from __future__ import annotations

import re
import urllib.parse

import pytest

from ctmirror.errors import QueryError
from ctmirror.serve.rma_query import (
    DEFAULT_NUM_ROWS,
    Filter,
    OrderKey,
    PathNode,
    QualifiedName,
    TabularColumn,
    Value,
    parse_query,
)

#: The queries AllenSDK 2.16 sends (allen_api_spec.md §1.2), with real-looking ids.
ALLENSDK_QUERIES = [
    "model::ApiCellTypesSpecimenDetail,rma::options[num_rows$eq'all']",
    "model::ApiCellTypesSpecimenDetail,rma::criteria,[specimen__id$eq123],"
    "rma::options[num_rows$eq'all']",
    "model::EphysSweep,rma::criteria,[specimen_id$eq123],rma::options[num_rows$eq'all']",
    "model::EphysFeature,rma::criteria,specimen(ephys_result[failed$eqfalse]),"
    "rma::options[num_rows$eq'all']",
    "model::NeuronReconstruction,rma::criteria,specimen(ephys_result[failed$eqfalse]),"
    "rma::options[except$eqt,a,g,s][num_rows$eq'all']",
    "model::Specimen,rma::criteria,[id$eq123],ephys_result(well_known_files(well_known_file_type"
    "[name$eqNWBDownload])),rma::include,ephys_result(well_known_files(well_known_file_type)),"
    "rma::options[num_rows$eq'all']",
    "model::Specimen,rma::criteria,[id$eq123],neuron_reconstructions(well_known_files),"
    "rma::include,neuron_reconstructions(well_known_files(well_known_file_type"
    "[name$eq'3DNeuronReconstruction'])),rma::options[num_rows$eq'all']",
    "model::NeuronalModelTemplate,rma::options[num_rows$eq'all'][count$eqfalse]",
    "model::Specimen,rma::criteria,[id$in1,2],rma::include,neuronal_models(well_known_files,"
    "neuronal_model_template[id$in395310498,395310469,395310475,395310479,471355161],"
    "neuronal_model_runs(well_known_files)),rma::options[num_rows$eq'all'][count$eqfalse]",
    "model::NeuronalModel,rma::criteria,[id$in5,6],rma::include,well_known_files("
    "well_known_file_type),rma::options[num_rows$eq'all'][count$eqfalse]",
    "model::NeuronalModel,rma::criteria,[neuronal_model_template_id$in491455321,329230710],"
    "[specimen_id$in386049446,469753383],rma::options[num_rows$eq'all'][count$eqfalse]",
]


def sdk_encoded(q: str) -> str:
    """The query as it appears in AllenSDK's request URL (requests.utils.quote)."""
    return urllib.parse.quote(q, safe=";/?:@&=+$,")


@pytest.mark.parametrize("q", ALLENSDK_QUERIES)
def test_every_allensdk_query_parses_after_the_server_decodes_it(q: str) -> None:
    encoded = sdk_encoded(q)
    assert "[" not in encoded and "'" not in encoded
    assert urllib.parse.unquote(encoded) == q
    assert parse_query(urllib.parse.unquote(encoded)).model == q.split(",")[0][len("model::"):]


def test_allensdk_nwb_query_structure() -> None:
    query = parse_query(ALLENSDK_QUERIES[5])
    assert query.model == "Specimen"
    assert query.filters == (Filter("id", "$eq", (Value("123"),)),)
    type_filter = Filter("name", "$eq", (Value("NWBDownload"),))
    assert query.criteria == (
        PathNode("ephys_result", "EphysResult", (), (
            PathNode("well_known_files", "WellKnownFile", (), (
                PathNode("well_known_file_type", "WellKnownFileType", (type_filter,)),
            )),
        )),
    )
    assert query.include == (
        PathNode("ephys_result", "EphysResult", (), (
            PathNode("well_known_files", "WellKnownFile", (), (
                PathNode("well_known_file_type", "WellKnownFileType"),
            )),
        )),
    )
    assert query.options.num_rows is None


def test_glif_include_with_siblings_and_a_filtered_branch() -> None:
    query = parse_query(ALLENSDK_QUERIES[8])
    (models,) = query.include
    assert [c.association for c in models.children] == [
        "well_known_files", "neuronal_model_template", "neuronal_model_runs"]
    template = models.children[1]
    assert [v.text for v in template.filters[0].values] == [
        "395310498", "395310469", "395310475", "395310479", "471355161"]
    assert models.constrains and template.constrains
    assert not models.children[0].constrains
    assert query.options.count is False


def test_model_stage_filters_and_several_bracket_groups_are_anded() -> None:
    query = parse_query("model::Specimen[hemisphere$eqleft],rma::criteria,[id$gt1][id$le5],"
                        "[name$il'*cell*']")
    assert [(f.attribute, f.op) for f in query.filters] == [
        ("hemisphere", "$eq"), ("id", "$gt"), ("id", "$le"), ("name", "$il")]


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("[id$eq5]", Filter("id", "$eq", (Value("5"),))),
        ("[id$ne5]", Filter("id", "$ne", (Value("5"),))),
        ("[id$gt5]", Filter("id", "$gt", (Value("5"),))),
        ("[id$lt5]", Filter("id", "$lt", (Value("5"),))),
        ("[id$ge5]", Filter("id", "$ge", (Value("5"),))),
        ("[id$le5]", Filter("id", "$le", (Value("5"),))),
        ("[id$in1,2]", Filter("id", "$in", (Value("1"), Value("2")))),
        ("[name$li'Cell*']", Filter("name", "$li", (Value("Cell*", quoted=True),))),
        ("[name$il*cell*]", Filter("name", "$il", (Value("*cell*"),))),
        ("[hemisphere$null]", Filter("hemisphere", "$null")),
        ("[hemisphere$nonnull]", Filter("hemisphere", "$nonnull")),
        ("[hemisphere]", Filter("hemisphere", "$exists")),
        ("[id$eq'123']", Filter("id", "$eq", (Value("123", quoted=True),))),
        ("[is_cell_specimen$eq'true']",
         Filter("is_cell_specimen", "$eq", (Value("true", quoted=True),))),
        ("[name$in'Mouse Cell Types','Human, Cell Types']",
         Filter("name", "$in", (Value("Mouse Cell Types", True),
                                Value("Human, Cell Types", True)))),
        ("[name$eq'a]b(c),d']", Filter("name", "$eq", (Value("a]b(c),d", True),))),
        ("[specimens.name$eqx]", Filter("name", "$eq", (Value("x"),), table="specimens")),
        ("[donor.name$eqx]", Filter("name", "$eq", (Value("x"),), table="donor")),
    ],
)
def test_filter_operators_and_values(group: str, expected: Filter) -> None:
    assert parse_query(f"model::Specimen,rma::criteria,{group}").filters == (expected,)


def test_default_options() -> None:
    options = parse_query("model::Specimen").options
    assert options.num_rows == DEFAULT_NUM_ROWS == 50
    assert (options.start_row, options.order, options.count) == (0, (), True)
    assert options.only is None and options.except_ == () and options.tabular is None


@pytest.mark.parametrize(
    ("option", "num_rows"), [("[num_rows$eq'all']", None), ("[num_rows$eqall]", None),
                             ("[num_rows$eq2000]", 2000), ("[num_rows$eq'7']", 7)])
def test_num_rows(option: str, num_rows: int | None) -> None:
    assert parse_query(f"model::Specimen,rma::options{option}").options.num_rows == num_rows


@pytest.mark.parametrize(
    ("spec", "keys"),
    [
        ("'id'", (OrderKey("id"),)),
        ("id", (OrderKey("id"),)),
        ("name+desc", (OrderKey("name", True),)),
        ("name desc", (OrderKey("name", True),)),
        ("name$desc", (OrderKey("name", True),)),
        ("'name$asc'", (OrderKey("name"),)),
        ("specimens.name+desc,id", (OrderKey("name", True, "specimens"), OrderKey("id"))),
        ("'sub_images.section_number$asc'", (OrderKey("section_number", False, "sub_images"),)),
        ("'name','id'", (OrderKey("name"), OrderKey("id"))),
    ],
)
def test_order_specs(spec: str, keys: tuple[OrderKey, ...]) -> None:
    assert parse_query(f"model::Specimen,rma::options[order$eq{spec}]").options.order == keys


def test_only_except_tabular_start_row_count_debug() -> None:
    options = parse_query(
        "model::Specimen,rma::options[only$eq'id,donors.name'][except$eqt,a,g,s]"
        "[tabular$eqid+as+specimen_id,donor.name][start_row$eq40][count$eqfalse]"
        "[debug$eq'preview']"
    ).options
    assert options.only == (QualifiedName("id"), QualifiedName("name", "donors"))
    assert options.except_ == tuple(QualifiedName(n) for n in "tags")
    assert options.tabular == (TabularColumn("id", "specimen_id"),
                               TabularColumn("name", "name", "donor"))
    assert (options.start_row, options.count, options.debug) == (40, False, "preview")


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("", "empty query"),
        ("garbage", "starts with model::"),
        ("model::Nope", "unknown model 'Nope'"),
        ("model::Specimen,rma::criteria,[id$eq1", "unbalanced '['"),
        ("model::Specimen,rma::criteria,id$eq1]", "unbalanced ']'"),
        ("model::Specimen,rma::criteria,ephys_result(well_known_files", "unbalanced '('"),
        ("model::Specimen,rma::criteria,ephys_result)", "unbalanced ')'"),
        ("model::Specimen,rma::criteria,[id$xx1]", "unknown operator"),
        ("model::Specimen,rma::criteria,[id$]", "unknown operator"),
        ("model::Specimen,rma::criteria,[id$eq]", "missing value"),
        ("model::Specimen,rma::criteria,[id$null5]", "takes no value"),
        ("model::Specimen,rma::criteria,donorz", "no association 'donorz'"),
        ("model::Specimen,rma::criteria,ephys_result(nothing)", "EphysResult has no association"),
        ("model::Specimen,rma::criteria,[name$eq'abc]", "unterminated quote"),
        ("model::Specimen,rma::criteria,[name$eqa b]", "only inside quotes"),
        ("model::Specimen,rma::criteria,[genes.name$eqx]", "neither Specimen"),
        ("model::Specimen,rma::options[num_rows$eq-1]", "num_rows"),
        ("model::Specimen,rma::options[num_rows$eqmany]", "num_rows"),
        ("model::Specimen,rma::options[count$eqmaybe]", "true or false"),
        ("model::Specimen,rma::options[colour$eqred]", "unknown option"),
        ("model::Specimen,rma::options[order$eq1id]", "order takes"),
        ("model::Specimen,rma::include,[id$eq1]", "association paths"),
        ("model::Specimen,[id$eq1]", "outside any"),
        ("model::Specimen,pipe::list[x$eq'y']", "unsupported stage"),
        ("model::Specimen,rma::criteria,,donor", "empty item"),
    ],
)
def test_malformed_queries_raise_query_error(q: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        parse_query(q)


@pytest.mark.parametrize(
    "q",
    [
        "model::Specimen;DROP TABLE specimens",
        "model::Specimen,rma::criteria,[id$eq1;DELETE FROM x]",
        "model::Specimen,rma::criteria,[name$eq'x' OR '1'='1']",
        "model::Specimen,rma::criteria,[id$eq1]'",
        "model::Specimen,rma::criteria,../../etc/passwd",
        "model::Specimen,rma::criteria,[name$eq'\x00']",
        "model::Specimen,rma::criteria,[id$in" + ",".join(["1"] * 60_000) + "]",
        "model::__class__",
        "model::Specimen,rma::criteria,__class__",
    ],
)
def test_hostile_input_is_an_error_never_code(q: str) -> None:
    with pytest.raises(QueryError):
        parse_query(q)


def test_quoted_sql_is_plain_data() -> None:
    (flt,) = parse_query("model::Specimen,rma::criteria,[name$eq'x; DROP TABLE y--']").filters
    assert flt.values == (Value("x; DROP TABLE y--", quoted=True),)
