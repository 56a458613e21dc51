"""The request form's validation: every problem at once, in Czech and in English."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from portal_kit import AREA, request_form

from dronekit_plzen.i18n import translations
from dronekit_plzen.web.forms import validate_request

EN = translations("en").gettext
CS = translations("cs").gettext


def test_valid_area_request_becomes_a_new_request() -> None:
    res = validate_request(request_form(), EN)
    assert res.errors == {} and res.request is not None
    r = res.request
    assert r.organisation == "HZS" and r.category == "sar" and r.urgency == "immediate"
    assert json.loads(r.area_geojson or "")["type"] == "Polygon"
    assert 13.348 < r.lon_deg < 13.353 and 49.7215 < r.lat_deg < 49.725  # the area's centre
    assert r.lkp_lat_deg == pytest.approx(49.7231) and r.lkp_time and r.lkp_time.endswith("Z")


@pytest.mark.parametrize(
    "typed",
    [
        "49.7475, 13.3776",  # WGS84 decimal, latitude first
        "49°44'51\"N 13°22'39\"E",  # DMS
        "822399 1069697",  # S-JTSK (Y X, the Czech convention)
    ],
)
def test_a_point_typed_in_wgs84_dms_or_sjtsk(typed: str) -> None:
    res = validate_request(request_form(geometry="", position=typed, category="fire"), EN)
    assert res.errors == {}, res.errors
    assert res.request is not None and res.request.area_geojson is None
    assert abs(res.request.lat_deg - 49.7475) < 0.01 and abs(res.request.lon_deg - 13.3776) < 0.02


def test_empty_form_lists_every_problem_in_czech_and_english() -> None:
    empty = {k: "" for k in request_form()}
    en = validate_request(empty, EN).errors
    cs = validate_request(empty, CS).errors
    assert (
        set(en)
        == set(cs)
        >= {
            "organisation",
            "category",
            "urgency",
            "location",
            "contact_name",
            "contact_phone",
            "geometry",
        }
    )
    assert en["location"] == "this field is required"
    assert cs["location"] == "toto pole je povinné"
    assert cs["geometry"] != en["geometry"]


def test_sar_needs_the_person_and_the_time_other_categories_do_not() -> None:
    sar = validate_request(
        request_form(subject_category="", subject_description="", lkp_time=""), EN
    ).errors
    assert set(sar) == {"subject_category", "subject_description", "lkp_time"}
    fire = validate_request(
        request_form(category="fire", subject_category="", subject_description="", lkp_time=""),
        EN,
    )
    assert fire.errors == {} and fire.request is not None
    assert fire.request.subject_description is None


def test_bad_shapes_positions_times_and_phones_are_named() -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[13.34, 49.72], [13.35, 49.73], [13.35, 49.72], [13.34, 49.73], [13.34, 49.72]]
        ],
    }
    huge = {
        "type": "Polygon",
        "coordinates": [[[13.0, 49.5], [14.0, 49.5], [14.0, 50.0], [13.0, 49.5]]],
    }
    cases = {
        "geometry": [json.dumps(bowtie), json.dumps(huge), "{not json", '{"type": "LineString"}'],
    }
    for value in cases["geometry"]:
        assert "geometry" in validate_request(request_form(geometry=value), EN).errors, value
    errs = validate_request(
        request_form(
            geometry="",
            position="somewhere nice",
            lkp="95, 13",
            lkp_time="2999-01-01T10:00",
            contact_phone="<script>alert(1)</script>",
            organisation="NATO",
        ),
        EN,
    ).errors
    assert set(errs) == {"position", "lkp", "lkp_time", "contact_phone", "organisation"}
    assert "future" in errs["lkp_time"]


def test_a_requester_cannot_file_for_another_organisation() -> None:
    res = validate_request(
        request_form(organisation="PCR"),
        EN,
        allowed_organisations=("HZS",),
        now=datetime.now(timezone.utc),
    )
    assert set(res.errors) == {"organisation"}
    assert AREA["type"] == "Polygon"
