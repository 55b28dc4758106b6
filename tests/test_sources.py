"""Sources a reader can follow: every `[key]` cited in `lines/` is an entry of
docs/sources.md, every entry is a complete citation, an unknown key is bad input
(file, line, field, key, suggestion; exit 2), and no shipped text points at a file
outside the repository or presents a fitted number as agreement with the industry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ssbfab.cli import app
from ssbfab.data.bibliography import (
    REQUIRED_FIELDS,
    check_citations,
    citation_problems,
    cited_keys,
    load_bibliography,
    source_texts,
)
from ssbfab.data.loader import load_route
from ssbfab.data.yamlio import load_yaml
from ssbfab.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
LINES = ROOT / "lines"
SOURCES = ROOT / "docs" / "sources.md"
DATA_FILES = sorted(LINES.rglob("*.yaml"))
SULFIDE = LINES / "routes" / "sulfide-lpscl.yaml"


def _texts(f: Path) -> dict:
    data, _ = load_yaml(f)
    return source_texts(data)


# ----------------------------------------------------------------------------- the shipped data


@pytest.mark.parametrize("f", DATA_FILES, ids=lambda f: str(f.relative_to(LINES)))
def test_every_citation_of_a_shipped_file_is_in_the_bibliography(f):
    data, marks = load_yaml(f)
    texts = source_texts(data)
    assert texts, f"{f} has no source texts"
    assert check_citations(data, str(f), marks, load_bibliography(SOURCES)) == []
    keys = load_bibliography(SOURCES).keys
    for path, text in texts.items():
        # a shipped source cites a key, or says that no source backs the number
        assert cited_keys(text) or "illustrative" in text, (f, path, text)
        assert set(cited_keys(text)) <= keys, (f, path, text)


def test_every_bibliography_entry_is_cited_by_the_shipped_data():
    cited = {k for f in DATA_FILES for t in _texts(f).values() for k in cited_keys(t)}
    assert set(load_bibliography(SOURCES).keys) == cited


def test_the_p2s5_price_is_illustrative_and_not_fitted():
    # no battery-grade P2S5 price was found: the data say so, and the Li2S cost share
    # is a check the tool reports (tests/test_price_deck.py), not a target
    text = _texts(LINES / "materials.yaml")[("materials", "P2S5", "price", "source")]
    assert text.startswith("illustrative")
    assert "Not fitted" in text and "calibrated" not in text


@pytest.mark.parametrize("needle", ["REFERENCE.md", "the seed article"])
def test_no_shipped_source_points_outside_the_repository(needle):
    for f in DATA_FILES:
        for path, text in _texts(f).items():
            assert needle.lower() not in text.lower(), (f, path, text)
    # nor do the comments of the data and study files
    for f in [*DATA_FILES, *sorted((ROOT / "studies").glob("*.yaml"))]:
        assert needle.lower() not in f.read_text(encoding="utf-8").lower(), f


# Wordings that would present the calibrated Li2S share (or any fitted number) as an
# independent confirmation. The P2S5 price is solved for so that the 82 % comes out.
AGREEMENT = re.compile(
    r"as the industry reports|agrees? with (the )?industry|in agreement with (the )?industry"
    r"|matches (the )?industry|consistent with (the )?industry|the seed's 82 % holds"
    r"|confirms? the (seed|industry)", re.I)


def test_nothing_presents_the_calibrated_share_as_agreement_with_industry():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "notebooks").glob("*.ipynb")),
             *sorted((ROOT / "src").rglob("*.py")), *DATA_FILES]
    hits = [(f, m.group(0)) for f in files
            for m in AGREEMENT.finditer(f.read_text(encoding="utf-8"))]
    assert hits == []


# ----------------------------------------------------------------------------- the bibliography


def test_every_entry_has_authors_title_venue_and_year():
    bib = load_bibliography(SOURCES)
    assert bib.found and bib.problems == ()
    assert len(bib.entries) >= 20
    for key, entry in bib.entries.items():
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", key)
        for name in REQUIRED_FIELDS:
            assert entry.fields.get(name, "").strip(), (key, name)
        # a DOI, when given, is one or says that none was found
        doi = entry.fields.get("doi")
        if doi is not None:
            assert doi == "DOI not found" or re.fullmatch(r"10\.\d{4,}/\S+", doi), (key, doi)


def test_the_seed_article_is_cited_by_what_it_is():
    fields = load_bibliography(SOURCES).entries["qu-seed"].fields
    assert fields["authors"] == "Qu Haoyuan"
    assert "semi-solid and all-solid" in fields["title"]


def test_a_malformed_bibliography_is_reported_by_line(tmp_path):
    md = tmp_path / "sources.md"
    md.write_text(
        "# Sources\n\n## Bibliography\n\n"
        "### good-one\n\n- authors: A. B.\n- title: T\n- venue: V\n- year: 2020\n\n"
        "### no-year\n\n- authors: C.\n- title: T2\n- venue: V2\n\n"     # line 12
        "### good-one\n\n- authors: D.\n- title: T3\n- venue: V3\n- year: 2021\n\n"  # line 18
        "### Bad Key\n\n- authors: E.\n- title: T4\n- venue: V4\n- year: 2022\n"     # line 25
        "  (a wrapped line of the year field)\n",
        encoding="utf-8")
    bib = load_bibliography(md)
    found = {(p.line, p.field): p.message for p in bib.problems}
    assert set(found) == {(12, "no-year"), (18, "good-one"), (25, "Bad Key")}
    assert "lacks year" in found[(12, "no-year")]
    assert "duplicate key (first at line 5)" in found[(18, "good-one")]
    assert "not a source key" in found[(25, "Bad Key")]
    assert bib.entries["good-one"].fields["authors"] == "A. B."   # the first one is kept
    assert bib.entries["Bad Key"].fields["year"] == "2022 (a wrapped line of the year field)"


def test_citations_are_words_in_brackets():
    assert cited_keys("[batpac5] Table 3; power: [ahmed-2016] (0.99 / 0.92 - 1)") == \
        ["batpac5", "ahmed-2016"]
    assert cited_keys("illustrative [not a key] [BatPaC_5]") == ["BatPaC_5"]
    assert cited_keys("illustrative") == []


def test_a_missing_bibliography_is_said_not_passed(tmp_path):
    bib = load_bibliography(tmp_path / "nowhere" / "sources.md")
    assert not bib.found
    out = citation_problems({("a", "source"): "[batpac5] x", ("b", "source"): "illustrative"}, bib)
    assert [p for p, _ in out] == [("a", "source")]
    assert "cannot check source key [batpac5]" in out[0][1]
    assert "SSBFAB_SOURCES" in out[0][1] and "does not exist" in out[0][1]


# ----------------------------------------------------------------------------- an unknown key


def _broken_copy(tmp_path: Path) -> tuple[Path, int, int]:
    """sulfide-lpscl with one near-miss key and one key like nothing in the bibliography;
    returns the copy and the lines of the two, found in the text."""
    text = SULFIDE.read_text(encoding="utf-8")
    near, far = '"[batpac5] coating yield 95 %"', "H2S release from [gm-moisture-2022]"
    assert near in text and far in text
    text = text.replace(near, '"[batpac-5] coating yield 95 %"', 1)
    text = text.replace(far, "H2S release from [zzqx-1999]", 1)
    lines = text.splitlines()
    near_line = next(i for i, s in enumerate(lines, 1) if "[batpac-5]" in s)
    far_line = next(i for i, s in enumerate(lines, 1) if "[zzqx-1999]" in s)
    copy = tmp_path / "sulfide-broken.yaml"
    copy.write_text(text, encoding="utf-8")
    return copy, near_line, far_line


def test_an_unknown_key_in_a_route_is_reported_with_a_suggestion(tmp_path):
    copy, near_line, far_line = _broken_copy(tmp_path)
    with pytest.raises(SpecError) as exc:
        load_route(copy, lines_dir=LINES)
    problems = [p for p in exc.value.problems if "source key" in p.message]
    by_line = {p.line: p for p in problems}
    assert set(by_line) == {near_line, far_line}
    near, far = by_line[near_line], by_line[far_line]
    assert near.file == str(copy) and near.field.endswith(".source")
    assert "unknown source key [batpac-5] (did you mean 'batpac5'?)" in near.message
    assert "[step 'cathode_coating']" in near.message
    assert "unknown source key [zzqx-1999]" in far.message
    assert "did you mean" not in far.message
    # the field is the path to that `source:` in the file
    raw = yaml.safe_load(copy.read_text(encoding="utf-8"))
    node = raw
    for part in near.field.split(".")[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    assert node["source"] == "[batpac-5] coating yield 95 %"


def test_an_unknown_key_in_a_shared_file_is_reported(tmp_path):
    lines = tmp_path / "lines"
    (lines / "routes").mkdir(parents=True)
    for name in ("economics", "materials", "dry_rooms"):
        (lines / f"{name}.yaml").write_text((LINES / f"{name}.yaml").read_text())
    econ = lines / "economics.yaml"
    econ.write_text(econ.read_text().replace("[eia-epm-2022]", "[eia-epm-2020]"))
    with pytest.raises(SpecError) as exc:
        load_route(SULFIDE, lines_dir=lines)
    [p] = [p for p in exc.value.problems if "source key" in p.message]
    line = next(i for i, s in enumerate(econ.read_text().splitlines(), 1) if "eia-epm-2020" in s)
    assert (p.file, p.line, p.field) == (str(econ), line, "electricity_price.source")
    assert "(did you mean 'eia-epm-2022'?)" in p.message


def test_validate_exits_2_naming_file_line_field_key_and_suggestion(tmp_path):
    copy, near_line, far_line = _broken_copy(tmp_path)
    result = CliRunner().invoke(app, ["validate", str(SULFIDE), str(copy)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stdout + result.stderr
    assert f"ok  {SULFIDE}  (route)" in result.stdout and f"BAD {copy}" in result.stdout
    assert re.search(rf"{re.escape(str(copy))}:{near_line}: line\.\d+\.levels\.0\.source: "
                     r"unknown source key \[batpac-5\] \(did you mean 'batpac5'\?\)",
                     result.stderr), result.stderr
    assert f"{copy}:{far_line}: " in result.stderr and "[zzqx-1999]" in result.stderr
