"""Photo metadata: EXIF (GPS, focal length, camera) and DJI XMP (gimbal, attitude, altitude).

:func:`read_photo` reads one file into a frozen :class:`PhotoMeta`; :func:`read_photos` reads a
list and returns the good ones plus one :class:`SkippedPhoto` per bad file (no EXIF, no GPS,
corrupt JPEG, a camera whose focal length cannot be known), never raising for a single bad image.

Intrinsics come from the focal length in millimetres and the sensor width of the
:data:`CAMERAS` database, or else from ``FocalLengthIn35mmFilm`` (measured on the diagonal, as
CIPA DC-008 defines it), or else from the focal length and ``FocalPlaneXResolution`` (pixels per
inch/cm/mm of the sensor, which Canon compacts and many cameras write; used only when the sensor
width it gives is plausible, 1 to 60 mm). A focal length guessed from nothing drifts in
self-calibration on flat nadir captures, so a photo without any of them is skipped rather than
guessed.

GPS follows CIPA DC-008 and what exiftool reads: degrees/minutes/seconds as one to three
rationals (one rational is decimal degrees), the hemisphere from the Ref tags whatever type the
writer gave them, a rational with a zero denominator as "no value" (never NaN in a position).
Values no camera writes skip the photo with the reason (:func:`check_plausible`): a hemisphere
letter other than N/S/E/W, an altitude of 1e9 m, a focal length of 1 mm or 5e9 mm.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import stat
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from dronekit_plzen.i18n import _, ngettext
from dronekit_plzen.inputs import read_reason

#: diagonal of the 36 × 24 mm film frame, the reference of FocalLengthIn35mmFilm
FILM_DIAGONAL_MM = math.hypot(36.0, 24.0)


@dataclass(frozen=True)
class Sensor:
    """Physical sensor of a camera: width and height of the imaging area in millimetres."""

    width_mm: float
    height_mm: float
    note: str = ""


# Sensor sizes of the cameras seen on city and DRONET flights. Sources: DJI product
# specification pages ("Image sensor" lines; 1/2.3" = 6.17 × 4.55 mm, 1/2" = 6.4 × 4.8 mm,
# 1" = 13.2 × 8.8 mm, 4/3" = 17.3 × 13.0 mm, the usual optical-format sizes), cross-checked
# against OpenSfM's public sensor table (opensfm/data/sensor_data.json) where it lists the model.
# Key: (make, model) upper-case with spaces stripped; a thermal core is told apart by image width.
CAMERAS: dict[tuple[str, str], Sensor] = {
    ("DJI", "FC350"): Sensor(6.17, 4.55, 'Phantom 3 / Inspire 1 X3, 1/2.3" (DJI spec)'),
    ("DJI", "FC300X"): Sensor(6.17, 4.55, 'Phantom 3 Professional, 1/2.3" (DJI spec)'),
    ("DJI", "FC300S"): Sensor(6.17, 4.55, 'Phantom 3 Advanced, 1/2.3" (DJI spec)'),
    ("DJI", "FC330"): Sensor(6.17, 4.55, 'Phantom 4, 1/2.3" (DJI spec)'),
    ("DJI", "FC6310"): Sensor(13.2, 8.8, 'Phantom 4 Pro, 1" (DJI spec)'),
    ("DJI", "FC6310S"): Sensor(13.2, 8.8, 'Phantom 4 Pro V2 / RTK, 1" (DJI spec)'),
    ("DJI", "FC6310R"): Sensor(13.2, 8.8, 'Phantom 4 RTK, 1" (DJI spec)'),
    ("DJI", "FC220"): Sensor(6.17, 4.55, 'Mavic Pro, 1/2.3" (DJI spec)'),
    ("DJI", "FC2103"): Sensor(6.17, 4.55, 'Mavic Air, 1/2.3" (DJI spec)'),
    ("DJI", "FC2204"): Sensor(6.17, 4.55, 'Mavic 2 Zoom, 1/2.3" (DJI spec)'),
    ("HASSELBLAD", "L1D-20C"): Sensor(13.2, 8.8, 'Mavic 2 Pro, 1" (DJI spec)'),
    ("DJI", "FC3170"): Sensor(6.4, 4.8, 'Mavic Air 2, 1/2" (DJI spec)'),
    ("DJI", "FC3411"): Sensor(13.2, 8.8, 'Air 2S, 1" (DJI spec)'),
    ("DJI", "FC7303"): Sensor(6.17, 4.55, 'Mini 2, 1/2.3" (DJI spec)'),
    ("HASSELBLAD", "L2D-20C"): Sensor(17.3, 13.0, 'Mavic 3, 4/3" (DJI spec)'),
    ("DJI", "M3E"): Sensor(17.3, 13.0, 'Mavic 3 Enterprise wide, 4/3" (DJI spec)'),
    ("DJI", "M3T"): Sensor(6.4, 4.8, 'Mavic 3 Thermal wide, 1/2" (DJI spec)'),
    ("DJI", "M30"): Sensor(6.4, 4.8, 'Matrice 30 wide, 1/2" (DJI spec)'),
    ("DJI", "M30T"): Sensor(6.4, 4.8, 'Matrice 30T wide, 1/2" (DJI spec)'),
    ("DJI", "FC6520"): Sensor(17.3, 13.0, 'Zenmuse X5S, 4/3" (DJI spec)'),
    ("DJI", "ZENMUSEP1"): Sensor(35.9, 24.0, "Zenmuse P1, full frame (DJI spec)"),
}

#: thermal cores, chosen by (make, model, image width): 640 × 512 VOx at 12 µm → 7.68 × 6.14 mm
THERMAL: dict[tuple[str, str, int], Sensor] = {
    ("DJI", "M30T", 640): Sensor(7.68, 6.144, "Matrice 30T thermal, 640×512 @ 12 µm (DJI spec)"),
    ("DJI", "M3T", 640): Sensor(7.68, 6.144, "Mavic 3 Thermal, 640×512 @ 12 µm (DJI spec)"),
}


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def lookup_sensor(make: str, model: str, width_px: int) -> Sensor | None:
    """The sensor of ``make``/``model`` (a thermal core when the image is its width), or None."""
    mk, md = _key(make), _key(model)
    return THERMAL.get((mk, md, width_px)) or CAMERAS.get((mk, md))


@dataclass(frozen=True)
class PhotoMeta:
    """What the pipeline needs of one photo. Angles in degrees, lengths in metres/millimetres."""

    path: Path
    make: str
    model: str
    width_px: int
    height_px: int
    lat_deg: float
    lon_deg: float
    alt_m: float | None
    focal_mm: float | None
    focal_35mm: float | None
    focal_px: float
    focal_source: str
    taken_at: str | None = None
    gimbal_pitch_deg: float | None = None
    gimbal_yaw_deg: float | None = None
    gimbal_roll_deg: float | None = None
    flight_pitch_deg: float | None = None
    flight_yaw_deg: float | None = None
    flight_roll_deg: float | None = None
    relative_alt_m: float | None = None
    #: bits per sample: 8, or 16/32 (Pillow modes I;16, I, F: P4 Multispectral band TIFFs)
    sample_bits: int = 8
    #: the photo's name in the job: its file name, made unique when another folder of the same
    #: capture holds a file of that name (DJI numbers each flight's folder from DJI_0001), and
    #: valid UTF-8 (COLMAP's image names are; a file name may be any bytes on Linux)
    name: str = ""
    #: a digest of the file's bytes: the same photo under two names is used once
    digest: str = ""

    @property
    def job_name(self) -> str:
        return self.name or self.path.name

    @property
    def camera_key(self) -> str:
        """One set of intrinsics: make, model, image size and the focal length in pixels (a
        zoom or a digital zoom shoots one camera at several: photos at 2x had been given the
        wide photos' 936 px and placed 55 m off their GPS heights); a folder name of the
        workspace, so nothing but letters, digits, ``.``, ``_``, ``-``."""
        key = f"{_key(self.make)}_{_key(self.model)}_{self.width_px}x{self.height_px}"
        key += f"_f{self.focal_px:.0f}px"
        return re.sub(r"[^0-9A-Za-z._-]+", "-", key)


@dataclass(frozen=True)
class SkippedPhoto:
    path: Path
    reason: str

    def message(self) -> str:
        return _("{file}: skipped: {reason}").format(file=self.path, reason=self.reason)


def too_few_photos(good: int, skipped: list[SkippedPhoto]) -> str:
    """ "only 1 usable photo (at least 3 are needed)", with the first skipped photo's reason."""
    text = ngettext(
        "only {n} usable photo (at least 3 are needed)",
        "only {n} usable photos (at least 3 are needed)",
        good,
    ).format(n=good)
    if skipped:
        text += "; " + skipped[0].message()
        if len(skipped) > 1:
            text += " " + _("(and {n} more skipped)").format(n=len(skipped) - 1)
    return text


class PhotoSkip(Exception):
    """A single bad photo; caught by :func:`read_photos`."""


def _ratio(v: object) -> float:
    if isinstance(v, tuple) and len(v) == 2:
        return float(v[0]) / float(v[1])
    return float(v)  # type: ignore[arg-type]


def _dms(v: object) -> float:
    """Degrees from 1 to 3 rationals (one is decimal degrees; more than 3: the first 3, as
    exiftool reads them)."""
    items = list(v) if isinstance(v, (tuple, list)) else [v]
    if not items:
        raise ValueError("no GPS value")
    parts = [_ratio(x) for x in items[:3]]
    while len(parts) < 3:
        parts.append(0.0)
    return parts[0] + parts[1] / 60.0 + parts[2] / 3600.0


def _ref(v: object) -> str:
    """A GPS Ref tag as upper-case text: ASCII as the standard says, or BYTE/UNDEFINED as some
    writers store it (b"S\\x00", 83, (83, 0)), or AltitudeRef's 0/1."""
    if isinstance(v, tuple):
        v = bytes(x for x in v if isinstance(x, int) and 0 <= x < 256)
    if isinstance(v, int) and 32 <= v < 127:
        v = chr(v)
    if isinstance(v, bytes):
        v = v.decode("latin-1")
    return str(v).strip("\x00 ").upper()


def _below_sea_level(ref: object) -> bool:
    """GPSAltitudeRef 1 (BYTE 1, b"\\x01" or the text "1"): the altitude is below sea level."""
    if isinstance(ref, tuple):
        ref = ref[0] if ref else 0
    if isinstance(ref, bytes):
        return ref[:1] in (b"\x01", b"1")
    return ref == 1 or str(ref).strip("\x00 ") == "1"


#: FocalPlaneResolutionUnit → millimetres (2 inch, 3 cm; 4 mm and 5 µm as exiftool lists them)
_PLANE_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}

#: sensor widths outside this range mean a broken FocalPlaneXResolution (seen: 857 mm)
_PLAUSIBLE_SENSOR_MM = (1.0, 60.0)


def _sample_bits(mode: str) -> int:
    """Bits per sample of a Pillow mode: 16 for I;16*, 32 for I and F, else 8."""
    if mode.startswith("I;16"):
        return 16
    return 32 if mode in ("I", "F") or mode.startswith("I;32") else 8


_XMP_FIELDS = {
    "GimbalPitchDegree": "gimbal_pitch_deg",
    "GimbalYawDegree": "gimbal_yaw_deg",
    "GimbalRollDegree": "gimbal_roll_deg",
    "FlightPitchDegree": "flight_pitch_deg",
    "FlightYawDegree": "flight_yaw_deg",
    "FlightRollDegree": "flight_roll_deg",
    "RelativeAltitude": "relative_alt_m",
}


def parse_dji_xmp(data: bytes) -> dict[str, float]:
    """DJI's ``drone-dji:`` XMP fields (attribute or element form) found in ``data``.

    >>> parse_dji_xmp(b'<x drone-dji:GimbalPitchDegree="-90" drone-dji:RelativeAltitude="80.1"/>')
    {'gimbal_pitch_deg': -90.0, 'relative_alt_m': 80.1}
    """
    start = data.find(b"<x:xmpmeta")
    end = data.find(b"</x:xmpmeta>", start + 1) if start >= 0 else -1
    text = data[start:end] if start >= 0 and end > 0 else data
    out: dict[str, float] = {}
    for tag, name in _XMP_FIELDS.items():
        pat = rb"drone-dji:" + tag.encode() + rb'\s*(?:=\s*"([^"]*)"|>([^<]*)<)'
        m = re.search(pat, text)
        if not m:
            continue
        raw = (m.group(1) or m.group(2) or b"").strip()
        try:
            val = float(raw.decode("ascii", "replace"))
        except ValueError:
            continue
        if math.isfinite(val):
            out[name] = val
    return out


def focal_px_for(
    make: str,
    model: str,
    width_px: int,
    height_px: int,
    focal_mm: float | None,
    focal_35mm: float | None,
    plane_px_per_mm: float | None = None,
) -> tuple[float, str] | None:
    """Focal length in pixels and where it came from, or None when it cannot be known.

    The database's sensor width is its long side, so it scales the image's long side: a photo
    whose pixels were turned upright (portrait, Orientation 1) keeps its focal length.
    ``plane_px_per_mm`` is ``FocalPlaneXResolution`` in pixels per millimetre of this image.
    """
    sensor = lookup_sensor(make, model, max(width_px, height_px))
    if sensor is not None and focal_mm and focal_mm > 0:
        return focal_mm / sensor.width_mm * max(width_px, height_px), "exif_mm+sensor_db"
    if focal_35mm and focal_35mm > 0:
        return focal_35mm / FILM_DIAGONAL_MM * math.hypot(width_px, height_px), "exif_35mm"
    if focal_mm and focal_mm > 0 and plane_px_per_mm and plane_px_per_mm > 0:
        lo, hi = _PLAUSIBLE_SENSOR_MM
        if lo <= max(width_px, height_px) / plane_px_per_mm <= hi:
            return focal_mm * plane_px_per_mm, "exif_mm+focal_plane"
    return None


def _plane_px_per_mm(ifd: dict[int, object], long_px: int) -> float | None:
    """``FocalPlaneXResolution`` in pixels per mm of this image, whose long side is ``long_px``
    (rescaled when the photo was resized after the camera wrote ``PixelX/YDimension``)."""
    try:
        res = _ratio(ifd[0xA20E]) if 0xA20E in ifd else None
        unit = _PLANE_UNIT_MM.get(int(ifd.get(0xA210, 2)))  # type: ignore[call-overload]
        camera_px = max(int(ifd.get(t, 0) or 0) for t in (0xA002, 0xA003))  # type: ignore[call-overload]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if res is None or unit is None or not math.isfinite(res) or res <= 0:
        return None
    return res / unit * (long_px / camera_px if camera_px > 0 else 1.0)


def _xmp_packet(im: object, raw: bytes) -> bytes:
    """The XMP packet where Pillow found it (JPEG APP1, TIFF tag 700, PNG iTXt), else the file's
    first 256 KiB (DJI writes it near the start)."""
    info = getattr(im, "info", {})
    tags = getattr(im, "tag_v2", None)
    for v in (info.get("xmp"), info.get("XML:com.adobe.xmp"), tags.get(700) if tags else None):
        if isinstance(v, str):
            v = v.encode("utf-8", "replace")
        if isinstance(v, (bytes, bytearray)) and b"drone-dji:" in v:
            return bytes(v)
    return raw[: 256 * 1024]


#: GPS altitudes outside this range (metres) are a broken writer, not a flight: 1e9 m, -1e6 m
PLAUSIBLE_ALT_M = (-1000.0, 20000.0)
#: focal lengths outside this range (35 mm film equivalent, mm) are a broken EXIF, not a lens:
#: below a full-frame fisheye's, above the longest drone zoom's (Zenmuse H20: about 556 mm)
PLAUSIBLE_FOCAL_35MM = (4.0, 2500.0)


def check_plausible(
    alt_m: float | None, focal_px: float, width_px: int, height_px: int, lat_ref: str, lon_ref: str
) -> None:
    """Raise :class:`PhotoSkip` for values no camera writes: a GPS hemisphere letter other than
    N/S and E/W, an altitude outside :data:`PLAUSIBLE_ALT_M`, a focal length (as 35 mm film
    equivalent) outside :data:`PLAUSIBLE_FOCAL_35MM`. Empty Ref tags are north and east."""
    if lat_ref and lat_ref[0] not in "NS":
        raise PhotoSkip(
            _("GPS latitude reference in EXIF is {ref!r}, not N or S").format(ref=lat_ref)
        )
    if lon_ref and lon_ref[0] not in "EW":
        raise PhotoSkip(
            _("GPS longitude reference in EXIF is {ref!r}, not E or W").format(ref=lon_ref)
        )
    lo, hi = PLAUSIBLE_ALT_M
    if alt_m is not None and not lo <= alt_m <= hi:
        raise PhotoSkip(
            _(
                "GPS altitude in EXIF is implausible ({alt:.0f} m; {lo:.0f} to {hi:.0f} m expected)"
            ).format(alt=alt_m, lo=lo, hi=hi)
        )
    f35 = focal_px / math.hypot(width_px, height_px) * FILM_DIAGONAL_MM
    lo, hi = PLAUSIBLE_FOCAL_35MM
    if not lo <= f35 <= hi:
        raise PhotoSkip(
            _(
                "focal length in EXIF is implausible ({f:.3g} mm as 35 mm film equivalent; "
                "{lo:.0f} to {hi:.0f} mm expected)"
            ).format(f=f35, lo=lo, hi=hi)
        )


def read_photo(path: Path) -> PhotoMeta:
    """Read one photo's metadata. Raises :class:`PhotoSkip` with the reason when it is unusable.

    Pillow's warnings about a corrupt EXIF block ("Truncated File Read", "Tag data larger than
    file") are caught, not printed: when the block yields no EXIF or no GPS, the reason names
    the first of them."""
    from PIL import Image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return _read_photo(path)
        except PhotoSkip as exc:
            notes = [
                " ".join(str(w.message).split())
                for w in caught
                if not issubclass(w.category, Image.DecompressionBombWarning)
            ]
            if notes and isinstance(exc, _NoExif):
                raise PhotoSkip(
                    _("{reason} (the EXIF block is corrupt: {note})").format(
                        reason=exc, note=notes[0]
                    )
                ) from exc
            raise


class _NoExif(PhotoSkip):
    """No EXIF, or no GPS in it: which a corrupt EXIF block may explain."""


def _read_photo(path: Path) -> PhotoMeta:
    from PIL import Image, UnidentifiedImageError

    try:
        # a named pipe would block the read for ever, /dev/zero would fill the memory
        if not stat.S_ISREG(path.stat().st_mode):
            raise PhotoSkip(_("not a regular file (a folder, named pipe or device)"))
        raw = path.read_bytes()
    except OSError as exc:  # a symlink loop: "Too many levels of symbolic links"
        raise PhotoSkip(_("cannot be read ({err})").format(err=read_reason(exc))) from exc
    try:
        with warnings.catch_warnings():
            # 89-179 megapixels (a 100 or 150 MP aerial camera): read, without a warning line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as im:
                exif = im.getexif()
                width_px, height_px = im.size
                mode = im.mode
                xmp = _xmp_packet(im, raw)
                if im.format == "JPEG":  # decode every byte at 1/8 scale: 64× less memory
                    im.draft(None, (max(1, width_px // 8), max(1, height_px // 8)))
                im.load()  # decodes the whole image: a truncated or corrupt JPEG fails here
    except Image.DecompressionBombError as exc:
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6
        raise PhotoSkip(
            _("image too large (over {mp:.0f} megapixels): downscale it first").format(mp=limit)
        ) from exc
    except UnidentifiedImageError as exc:  # its text names an in-memory object, not the file
        raise PhotoSkip(_("not an image file (JPEG, TIFF or PNG)")) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoSkip(_("not a readable image ({err})").format(err=exc)) from exc
    if not exif:
        raise _NoExif(_("no EXIF metadata"))
    ifd = exif.get_ifd(0x8769)
    gps = exif.get_ifd(0x8825)
    if not gps or 2 not in gps or 4 not in gps:
        raise _NoExif(_("no GPS position in EXIF"))
    try:
        lat_ref, lon_ref = _ref(gps.get(1, "N")), _ref(gps.get(3, "E"))
        lat = _dms(gps[2]) * (-1.0 if lat_ref.startswith("S") else 1.0)
        lon = _dms(gps[4]) * (-1.0 if lon_ref.startswith("W") else 1.0)
        alt: float | None = None
        if 6 in gps:
            alt = _ratio(gps[6]) * (-1.0 if _below_sea_level(gps.get(5, 0)) else 1.0)
            alt = alt if math.isfinite(alt) else None  # 0/0: no altitude, not NaN
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise PhotoSkip(_("GPS position in EXIF is malformed")) from exc
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise PhotoSkip(_("GPS position in EXIF is empty (a zero denominator: no fix)"))
    if lat == 0.0 and lon == 0.0:
        raise PhotoSkip(_("GPS position in EXIF is 0, 0 (no fix)"))
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise PhotoSkip(
            _("GPS position in EXIF is invalid ({lat}, {lon})").format(
                lat=f"{lat:.6f}", lon=f"{lon:.6f}"
            )
        )
    make, model = _text(exif.get(0x010F)), _text(exif.get(0x0110))

    def num(tag: int) -> float | None:
        try:
            v = _ratio(ifd[tag]) if tag in ifd else None
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        return v if v is not None and math.isfinite(v) and v > 0 else None

    focal_mm, focal_35 = num(0x920A), num(0xA405)
    plane = _plane_px_per_mm(ifd, max(width_px, height_px))
    found = focal_px_for(make, model, width_px, height_px, focal_mm, focal_35, plane)
    if found is None:
        raise PhotoSkip(
            _("unknown camera {make} {model} and no FocalLengthIn35mmFilm").format(
                make=make or "?", model=model or "?"
            )
        )
    check_plausible(alt, found[0], width_px, height_px, lat_ref, lon_ref)
    dji = parse_dji_xmp(xmp) if b"drone-dji:" in xmp else {}
    taken = ifd.get(0x9003) or exif.get(0x0132)
    return PhotoMeta(
        path=path,
        make=make,
        model=model,
        width_px=int(width_px),
        height_px=int(height_px),
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        focal_mm=focal_mm,
        focal_35mm=focal_35,
        focal_px=found[0],
        focal_source=found[1],
        taken_at=str(taken) if taken else None,
        sample_bits=_sample_bits(mode),
        digest=hashlib.blake2b(raw, digest_size=16).hexdigest(),
        **dji,  # type: ignore[arg-type]
    )


def _text(v: object) -> str:
    """An EXIF text tag (Make, Model) as text: ASCII as the standard says, or bytes as some
    writers type it (``b"DJI\\0"``, not ``"b'DJI\\x00'"``)."""
    if v is None:
        return ""
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode("utf-8", "replace")
    return str(v).strip("\x00 ")


def utf8_name(name: str) -> str:
    """``name`` as valid UTF-8 text: a file name's bytes that are not UTF-8 (Python keeps them
    as lone surrogates) become U+FFFD, as COLMAP's image names and JSON need."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class JobNames:
    """Unique names for the photos of one job, in the order they are given.

    A file given twice is skipped, and so is a copy of a photo already taken (the same bytes:
    ``DJI_0064 - Copy.JPG``, a folder copied into itself): it would add a second view with no
    baseline and count its GPS position twice. Two files of the same name from different
    folders (two flights' ``100MEDIA/DJI_0001.JPG`` and ``101MEDIA/DJI_0001.JPG``) are both
    used, the second as ``DJI_0001-101MEDIA.JPG`` (and ``-2``, ``-3`` ... if that is taken
    too). Names that are not UTF-8 get U+FFFD for their bad bytes (:func:`utf8_name`)."""

    def __init__(self) -> None:
        self._names: set[str] = set()
        self._files: set[Path] = set()
        self._digests: dict[str, Path] = {}

    def check(self, path: Path) -> None:
        """Raise :class:`PhotoSkip` for a file already in the job."""
        if _resolved(path) in self._files:
            raise PhotoSkip(_("the same file is given twice"))

    def take(self, meta: PhotoMeta) -> PhotoMeta:
        """``meta`` with its unique name, which is now taken."""
        path = meta.path
        first = self._digests.get(meta.digest) if meta.digest else None
        if first is not None:
            raise PhotoSkip(_("a copy of {file} (the same bytes)").format(file=first))
        name = utf8_name(path.name)
        if name in self._names:
            base = utf8_name(f"{path.stem}-{path.parent.name or 'photo'}")
            suffix = utf8_name(path.suffix)
            name, k = f"{base}{suffix}", 2
            while name in self._names:
                name, k = f"{base}-{k}{suffix}", k + 1
        self._names.add(name)
        self._files.add(_resolved(path))
        if meta.digest:
            self._digests[meta.digest] = path
        return meta if name == path.name else replace(meta, name=name)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return path.absolute()


#: shortest photo side (pixels) either engine takes: below it SIFT (COLMAP's here, OpenSfM's on
#: a NodeODM node) finds next to nothing
MIN_PHOTO_SIDE_PX = 100


def check_photo_size(meta: PhotoMeta) -> PhotoMeta:
    """``meta`` if its shorter side has :data:`MIN_PHOTO_SIDE_PX` pixels; else
    :class:`PhotoSkip` with the size."""
    if min(meta.width_px, meta.height_px) < MIN_PHOTO_SIDE_PX:
        raise PhotoSkip(
            _("image too small ({w} × {h} pixels; at least {n} on each side)").format(
                w=meta.width_px, h=meta.height_px, n=MIN_PHOTO_SIDE_PX
            )
        )
    return meta


def read_photos(
    paths: Iterable[Path], check: Callable[[PhotoMeta], PhotoMeta] | None = None
) -> tuple[list[PhotoMeta], list[SkippedPhoto]]:
    """Read every photo; the bad ones come back as :class:`SkippedPhoto` (name and reason).
    ``check`` (e.g. :func:`check_photo_size`) may skip a readable photo an engine cannot use."""
    good: list[PhotoMeta] = []
    bad: list[SkippedPhoto] = []
    names = JobNames()
    for p in paths:
        path = Path(p)
        try:
            names.check(path)
            meta = read_photo(path)
            good.append(names.take(check(meta) if check is not None else meta))
        except PhotoSkip as exc:
            bad.append(SkippedPhoto(path, str(exc)))
    return good, bad


def cameras_of(photos: Sequence[PhotoMeta]) -> dict[str, list[PhotoMeta]]:
    """Photos grouped by physical camera (:attr:`PhotoMeta.camera_key`)."""
    out: dict[str, list[PhotoMeta]] = {}
    for p in photos:
        out.setdefault(p.camera_key, []).append(p)
    return out
