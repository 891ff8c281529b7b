"""Data files as they are shipped: null markers, metadata lines, other delimiters, and errors in the user's terms."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("polars")
pytest.importorskip("sklearn")

from compiler.execute.errors import DataError  # noqa: E402
from compiler.execute.ingest import read_source  # noqa: E402
from tests.unit.execute import penguins, wine  # noqa: E402

SCHEMA = [{"name": "species", "type": "category", "values": ["Adelie", "Chinstrap", "Gentoo"]},
          {"name": "bill_length_mm", "type": "float"}, {"name": "body_mass_g", "type": "float"},
          {"name": "sex", "type": "category", "values": ["female", "male"]}]
_LIBRARY_WORDS = ("polars", "new_columns", "missing_columns", "ComputeError", "Exception", "Traceback")


def _params(path: str, fmt: str = "csv", **opts) -> dict:
    params = {"source": "birds", "format": fmt, "path": path, "schema": SCHEMA}
    if opts:
        params[fmt] = opts
    return params


def _error(root: Path, params: dict) -> str:
    with pytest.raises(DataError) as info:
        read_source(params, root)
    text = str(info.value)
    assert not any(w in text for w in _LIBRARY_WORDS), text
    return text


def test_na_markers_as_palmerpenguins_ships_them(tmp_path):
    penguins.write_csv(tmp_path / "p.csv", penguins.rows(40, na="NA"))
    text = _error(tmp_path, _params("p.csv"))
    assert "`NA`" in text and "null_values" in text
    df = read_source(_params("p.csv", null_values=["NA"]), tmp_path)
    assert df.height == 40 and df.get_column("sex").null_count() == 3


def test_jsonl_null_markers(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"species": "Adelie", "bill_length_mm": 39.1, "body_mass_g": 3750, '
                                      '"sex": "NA"}\n')
    assert read_source(_params("p.jsonl", "jsonl", null_values=["NA"]), tmp_path).get_column("sex")[0] is None


def test_scikit_learns_wine_data_csv_as_shipped(tmp_path):
    import sklearn.datasets

    shipped = Path(sklearn.datasets.__file__).parent / "data" / "wine_data.csv"
    shutil.copy(shipped, tmp_path / "wine_data.csv")
    schema = [{"name": c, "type": "integer" if c == "target" else "float"} for c in wine.columns()[:-1]]
    params = {"source": "wine", "format": "csv", "path": "wine_data.csv", "schema": schema,
              "csv": {"header": False}}
    text = _error(tmp_path, params)  # the metadata line `178,13,class_0,...` has 5 fields
    assert "line 2 has 14 field(s), line 1 has 5" in text and "skip_rows" in text
    df = read_source({**params, "csv": {"header": False, "skip_rows": 1}}, tmp_path)
    assert df.shape == (178, 14) and df.get_column("target").to_list().count(0) == 59


def test_a_semicolon_file_says_so(tmp_path):
    penguins.write_csv(tmp_path / "p.csv", penguins.rows(5))
    (tmp_path / "p.csv").write_text((tmp_path / "p.csv").read_text().replace(",", ";"))
    text = _error(tmp_path, _params("p.csv"))
    assert 'the header looks separated by `;`, not `,`: set `csv: {delimiter: ";"}`' in text


def test_decimal_comma_quote_and_comments(tmp_path):
    (tmp_path / "p.csv").write_text("# exported 2024-01-01\nspecies;bill_length_mm;body_mass_g;sex\n"
                                    "'Adelie';39,1;3.750,5;female\n# a note\nGentoo;46,5;5200;male\n")
    df = read_source(_params("p.csv", delimiter=";", decimal=",", quote_char="'", comment_prefix="#"), tmp_path)
    assert df.get_column("bill_length_mm").to_list() == [39.1, 46.5]
    assert df.get_column("body_mass_g").to_list() == [3750.5, 5200.0]
    assert df.get_column("species").to_list() == ["Adelie", "Gentoo"]


def test_an_empty_file_says_so(tmp_path):
    (tmp_path / "p.csv").write_text("")
    assert "the file `p.csv` is empty" in _error(tmp_path, _params("p.csv"))


def test_a_compressed_file_is_read_within_limits_and_named_in_errors(tmp_path):
    """Compressed files inflate within `limits` (tests/unit/execute/test_bounded.py); an error names the codec."""
    penguins.write_csv(tmp_path / "p.csv", penguins.rows(5))
    with zipfile.ZipFile(tmp_path / "p.zip.csv", "w") as z:
        z.write(tmp_path / "p.csv", "p.csv")
    assert read_source(_params("p.zip.csv"), tmp_path).height == 5
    data = penguins.rows(5)
    data[1]["body_mass_g"] = "heavy"
    penguins.write_csv(tmp_path / "bad.csv", data)
    (tmp_path / "p.gz.csv").write_bytes(gzip.compress((tmp_path / "bad.csv").read_bytes()))
    text = _error(tmp_path, _params("p.gz.csv"))
    assert "`heavy`" in text and "the file is gzip-compressed" in text


def test_every_failing_column_in_one_run(tmp_path):
    data = penguins.rows(10)
    data[2]["bill_length_mm"], data[4]["body_mass_g"], data[6]["body_mass_g"] = "long", "heavy", "?"
    text = _error(tmp_path, _params(str(penguins.write_csv(tmp_path / "p.csv", data).name)))
    assert "column `bill_length_mm` (float): 1 value(s) are not numbers, e.g. `long`, first at row 3" in text
    assert "column `body_mass_g` (float): 2 value(s) are not numbers, e.g. `heavy`, `?`, first at rows 5, 7" in text


def test_declared_category_values_hold_at_ingest(tmp_path):
    data = penguins.rows(10)
    data[1]["species"] = data[7]["species"] = "Adeli"
    data[3]["sex"] = "femal"
    text = _error(tmp_path, _params(penguins.write_csv(tmp_path / "p.csv", data).name))
    assert "column `species` (category): 2 value(s) not among the declared `values`, e.g. `Adeli`, first at rows " \
           "2, 8" in text
    assert "column `sex` (category): 1 value(s)" in text and "`femal`" in text


def test_a_penguins_project_with_na_markers_trains(tmp_path):
    from compiler.driver import compile_tree
    from compiler.execute.runner import Runner

    root = penguins.project(tmp_path / "repo", csv='{null_values: ["NA"]}', na="NA")
    _, graph = compile_tree(root)
    assert graph is not None
    assert Runner(graph, root).run("sex").exit_code == 0
