"""Declarative pipelines of named stages (PDAL's habit), validated completely before running.

A pipeline is JSON or YAML: ``{"pipeline": [stage, ...]}`` or a bare list. A stage is a dict
with ``type`` and options, or a filename string (the first one is ``readers.las``; later ones
are ``writers.las`` for .las/.laz and ``writers.gdal`` for .tif). Every problem of every stage
is collected and reported at once; nothing runs until the whole pipeline is valid.

When every stage is streamable (ranges, returns, crop, reproject, assign, LAS writers), the
pipeline runs chunk by chunk in bounded memory; otherwise the cloud is read into memory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import laspy
import numpy as np

from dronekit_plzen.errors import BadInputError, StorageError, one_line
from dronekit_plzen.i18n import _
from dronekit_plzen.outputs import OutputGroup, check_output_path
from lidar.cloud import GROUND, NOISE, PointCloud, concat
from lidar.io import (
    _header_for,
    atomic_output,
    fit_point_format,
    iter_chunks,
    las_write_errors,
    read_cloud,
    write_cloud,
    write_evlrs,
)
from lidar.paths import check_outputs, read_small_file
from lidar.stages import STAGES, where_mask

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Stage:
    """One validated stage: its type, options dataclass instance and position."""

    type: str
    options: Any
    index: int


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Stage, ...]
    #: written by the user (``lidar pipeline``): a stage's error names the stage; a command's
    #: own pipeline (``lidar thin``) names no stage the user never wrote
    written: bool = False

    @property
    def streamable(self) -> bool:
        # a stage that looks for ground in the whole cloud cannot decide chunk by chunk
        return all(
            STAGES[s.type].streamable
            and not getattr(s.options, "keep_existing", False)
            and not getattr(s.options, "whole_cloud", False)  # an "auto" scale or offset
            for s in self.stages
        )


@dataclass
class RunReport:
    """Counts and timings of a run (what ``--json`` prints)."""

    points_in: int = 0
    points_out: int = 0
    stages: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    streamed: bool = False
    seconds: float = 0.0


def _check_type(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_check_type(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (inner,) = typing.get_args(hint)
        return isinstance(value, list) and all(_check_type(v, inner) for v in value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _coerce(value: Any, hint: Any) -> Any:
    """PDAL's options are often written as text (``"scale_x": "0.01"``, ``"minor_version":
    "4"``, ``"binmode": "true"``): text that reads as the number or truth value the option
    takes becomes one; other text is left for the type check to refuse."""
    if not isinstance(value, str):
        return value
    args = set(typing.get_args(hint)) or {hint}
    text = value.strip()
    if bool in args and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if int in args:
        try:
            return int(text)
        except ValueError:
            pass
    if float in args:
        try:
            number = float(text)
        except ValueError:
            return value
        return number if math.isfinite(number) or str not in args else value
    return value


def _normalise(raw: Any, i: int, n: int) -> dict[str, Any]:
    if isinstance(raw, str):
        if i == 0:
            return {"type": "readers.las", "filename": raw}
        ext = Path(raw).suffix.lower()
        if ext in (".las", ".laz"):
            return {"type": "writers.las", "filename": raw}
        if ext in (".tif", ".tiff"):
            return {"type": "writers.gdal", "filename": raw}
        raise BadInputError(
            _("stage {i}: cannot tell the stage type of {f!r}").format(i=i + 1, f=raw)
        )
    if not isinstance(raw, dict):
        raise BadInputError(_("stage {i}: expected an object or a filename").format(i=i + 1))
    return dict(raw)


def _finite(v: Any) -> bool:
    """No NaN or infinity in an option (``--resolution nan`` would pass every ``<= 0`` test)."""
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, list):
        return all(_finite(x) for x in v)
    return True


def writer_suffixes(stage: Any) -> tuple[str, ...]:
    """The file extensions a writer stage (a dict or a validated :class:`Stage`) accepts."""
    if isinstance(stage, Stage):
        typ, product = stage.type, getattr(stage.options, "product", None)
    else:
        typ, product = stage.get("type"), stage.get("product")
    if typ == "writers.las":
        return (".las", ".laz")
    if product == "contours":
        return (".geojson", ".json")
    return (".tif", ".tiff")


def parse(doc: Any, *, base_dir: Path | None = None, source: Path | None = None) -> Pipeline:
    """Validate a pipeline document; raise one :class:`BadInputError` listing every problem.
    ``source``: the file the document was read from (no writer may overwrite it)."""
    items = doc.get("pipeline") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise BadInputError(_("a pipeline is a non-empty list of stages (or {'pipeline': [...]})"))
    errors: list[str] = []
    stages: list[Stage] = []
    inputs: list[Path] = [] if source is None else [source]
    outputs: list[tuple[str, Path]] = []
    base = base_dir or Path.cwd()
    tags: list[str | None] = []
    for i, raw in enumerate(items):
        where = f"stage {i + 1}"
        try:
            d = _normalise(raw, i, len(items))
        except BadInputError as exc:
            errors.append(exc.message)
            tags.append(None)
            continue
        # PDAL's stage plumbing: a tag names a stage, inputs name the stages it reads; a
        # stage reads the one before it when it names none (this runner is a chain)
        tag, ins = d.pop("tag", None), d.pop("inputs", None)
        d.pop("user_data", None)  # PDAL's free metadata of a stage: nothing to run
        tags.append(tag if isinstance(tag, str) else None)
        if ins is not None:
            names_in = [ins] if isinstance(ins, str) else ins
            previous = tags[-2] if len(tags) > 1 else None
            if not (isinstance(names_in, list) and names_in == [previous] and previous):
                errors.append(
                    _(
                        "{w}: inputs {i!r}: only a chain of stages runs here, each reading the "
                        "stage before it (merging or branching pipelines are not supported)"
                    ).format(w=where, i=ins)
                )
                continue
        if "type" not in d and isinstance(d.get("filename"), str):  # PDAL infers it
            d["type"] = _normalise(d["filename"], i, len(items))["type"]
        typ = d.pop("type", None)
        spec = STAGES.get(typ) if isinstance(typ, str) else None
        if spec is None:
            errors.append(
                _("{w}: unknown stage type {t!r} (known: {k})").format(
                    w=where, t=typ, k=", ".join(sorted(STAGES))
                )
            )
            continue
        where = f"{where} ({typ})"
        hints = typing.get_type_hints(spec.options)
        names = {f.name for f in dataclasses.fields(spec.options)}
        if typ == "readers.las":
            srs = [k for k in ("spatialreference", "override_srs", "crs") if k in d]
            if len(srs) > 1:
                errors.append(_("{w}: give one of {k}").format(w=where, k=", ".join(srs)))
                continue
            if srs:  # PDAL's override_srs and spatialreference are one option
                d["spatialreference"] = d.pop(srs[0])
        if typ == "filters.elm" and "class" in d:  # PDAL's name, a Python keyword here
            d["noise_class"] = d.pop("class")
        if typ == "writers.las" and isinstance(d.get("vlrs"), list):
            # a VLR's file, like every file of the pipeline, beside the pipeline's own file
            d["vlrs"] = [
                {**v, "filename": str(base / v["filename"])}
                if isinstance(v, dict) and isinstance(v.get("filename"), str)
                else v
                for v in d["vlrs"]
            ]
        bad = False
        for k in list(d):
            if k in names:
                d[k] = _coerce(d[k], hints[k])
        for k, v in d.items():
            if k not in names:
                errors.append(_("{w}: unknown option {k!r}").format(w=where, k=k))
                bad = True
            elif not _finite(v):
                errors.append(
                    _("{w}: option {k!r} must be a finite number ({v!r})").format(w=where, k=k, v=v)
                )
                bad = True
            elif (
                isinstance(v, int) and not isinstance(v, bool) and hints[k] is float
            ) or _check_type(v, hints[k]):  # true is no number ("cell": true was 1 m)
                continue
            else:
                errors.append(
                    _("{w}: option {k!r} has the wrong type ({v!r})").format(w=where, k=k, v=v)
                )
                bad = True
        if bad:
            continue
        opts = spec.options(**d)
        if hasattr(opts, "check"):
            errors.extend(f"{where}: {m}" for m in opts.check())
        # the files a writer's VLRs are read from are inputs too
        inputs.extend(
            Path(str(v["filename"]))
            for v in getattr(opts, "vlrs", None) or ()
            if isinstance(v, dict) and isinstance(v.get("filename"), str)
        )
        if spec.kind == "reader":
            if i != 0:
                errors.append(_("{w}: a reader must be the first stage").format(w=where))
            fn = Path(opts.filename)
            try:
                found = bool(opts.filename) and (fn if fn.is_absolute() else base / fn).exists()
            except OSError as exc:  # a name longer than the file system's 255 bytes
                errors.append(
                    _("{w}: cannot read {f}: {e}").format(w=where, f=fn, e=exc.strerror or exc)
                )
                found = None
            if not opts.filename:
                errors.append(_("{w}: filename is required").format(w=where))
            elif found is False:
                errors.append(_("{w}: input file not found: {f}").format(w=where, f=fn))
            elif found:
                inputs.append(fn if fn.is_absolute() else base / fn)
            if opts.spatialreference is not None:
                from dronekit_plzen.geo import as_crs

                try:
                    as_crs(opts.spatialreference)
                except BadInputError as exc:
                    errors.append(f"{where}: {exc.message}")
        elif i == 0:
            errors.append(_("{w}: the first stage must be a reader").format(w=where))
        if spec.kind == "writer":
            fn = Path(opts.filename)
            if not opts.filename:
                errors.append(_("{w}: filename is required").format(w=where))
            else:
                try:
                    check_output_path(
                        fn if fn.is_absolute() else base / fn,
                        suffixes=writer_suffixes(Stage(typ, opts, i)),
                    )
                except BadInputError as exc:
                    errors.append(f"{where}: {exc.message}")
                else:
                    outputs.append((where, fn if fn.is_absolute() else base / fn))
        stages.append(Stage(typ, opts, i))
    try:  # an output that is the input (or another output) would destroy data
        check_outputs(outputs, inputs)
    except BadInputError as exc:
        errors.append(str(exc))
    if errors:  # one line: every reason, joined
        raise BadInputError(_("invalid pipeline:") + " " + "; ".join(errors))
    if not any(STAGES[s.type].kind == "writer" for s in stages):
        raise BadInputError(_("invalid pipeline: no writer stage, nothing would be produced"))
    return Pipeline(tuple(stages))


def load(path: str | os.PathLike[str]) -> Pipeline:
    """Read and validate a JSON or YAML pipeline file (relative filenames: from its folder)."""
    p = Path(path)
    text = read_small_text(p, MAX_PIPELINE_BYTES, _("pipeline"))
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            doc = _load_yaml(text)
        else:
            doc = json.loads(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError (multi-line): one line
        raise BadInputError(
            _("pipeline is not valid JSON/YAML: {e}").format(e=one_line(exc)),
            where=str(p),
        ) from exc
    pipe = parse(doc, base_dir=p.parent, source=p)
    return dataclasses.replace(_rebase(pipe, p.parent), written=True)


#: the largest pipeline file read (PDAL's own are a few kB; /dev/zero filled the memory)
MAX_PIPELINE_BYTES = 4 << 20


def read_small_text(path: Path, most: int, what: str) -> str:
    """A regular file's text of at most ``most`` bytes (UTF-8), or a clear refusal: a device
    such as /dev/zero, a FIFO or a huge file is not read into memory."""
    data = read_small_file(path, most, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(
            _("cannot read {what}: not UTF-8 text (byte {b})").format(what=what, b=exc.start + 1),
            where=str(path),
        ) from exc


def _load_yaml(text: str) -> Any:
    """YAML without anchors' aliases: a pipeline has no use for them, and a few lines of
    nested aliases stand for billions of values (the "billion laughs"), or for a value that
    contains itself."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None, None, _("YAML aliases (*name) are not read"), self.peek_event().start_mark
                )
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=NoAliases)


def _rebase(pipe: Pipeline, base: Path) -> Pipeline:
    out = []
    for s in pipe.stages:
        fn = getattr(s.options, "filename", None)
        if fn and not Path(fn).is_absolute():
            s = Stage(s.type, dataclasses.replace(s.options, filename=str(base / fn)), s.index)
        out.append(s)
    return Pipeline(tuple(out))


def _writer_points(cloud: PointCloud, o: Any) -> PointCloud:
    """The points a writer writes: PDAL's ``where`` picks them; the later stages still get
    every point (writers here change none, whatever ``where_merge`` says)."""
    return cloud if o.where is None else cloud.select(where_mask(cloud, o.where))


def _write(cloud: PointCloud, stage: Stage, cache: dict[Any, Any] | None = None) -> dict[str, Any]:
    o = stage.options
    if o.where is not None:
        cloud = _writer_points(cloud, o)
        cache = None  # the surfaces shared between writers were of all the points
    if stage.type == "writers.las":
        write_cloud(cloud, o.filename, scale=None, layout=o.layout())
        cls = cloud.classification
        return {
            "stage": stage.type,
            "file": o.filename,
            "points": len(cloud),
            "ground": int(np.count_nonzero(cls == GROUND)),
            "noise": int(np.count_nonzero(cls == NOISE)),
        }
    from lidar.products import warn_if_no_crs, write_pdal_grid, write_product

    if o.pdal_grid:  # PDAL's gridding options: the bands PDAL's writers.gdal writes
        if o.override_srs is None and o.spatialreference is None and o.default_srs is None:
            warn_if_no_crs(cloud, o.filename)
        res = write_pdal_grid(cloud, o)
        res["stage"] = stage.type
        return res
    warn_if_no_crs(cloud, o.filename)
    res = write_product(
        cloud,
        o.product_name,
        o.filename,
        resolution_m=o.resolution,
        method=o.method,
        interval=o.interval,
        memory_mb=o.memory_mb,
        cache=cache,
    )
    res["stage"] = stage.type
    return res


def steps(pipe: Pipeline, *, stream: bool | None = None) -> int:
    """How many progress steps :func:`iter_run` yields (stages, or chunks when streaming)."""
    if not (pipe.streamable if stream is None else stream):
        return len(pipe.stages)
    from lidar.io import las_info

    opts = pipe.stages[0].options
    n = las_info(opts.filename, crs=opts.spatialreference)["point_count"]
    return max(1, -(-int(n) // opts.chunk_size)) + 1


def iter_run(pipe: Pipeline, *, stream: bool | None = None) -> Iterator[RunReport]:
    """Run a validated pipeline, yielding the growing report after every stage (or chunk when
    streaming); the last report yielded is complete. Streams when every stage allows it."""
    t0 = time.perf_counter()
    do_stream = pipe.streamable if stream is None else stream
    if do_stream and not pipe.streamable:
        raise BadInputError(_("this pipeline has stages that need the whole cloud"))
    report = RunReport()
    for report in _run_stream(pipe) if do_stream else _run_memory(pipe):
        report.seconds = time.perf_counter() - t0
        yield report


def run(pipe: Pipeline, *, stream: bool | None = None) -> RunReport:
    """Run a validated pipeline to the end and return its report."""
    reports = list(iter_run(pipe, stream=stream))
    return reports[-1] if reports else RunReport()


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB (Linux's VmHWM, which unlike
    ``ru_maxrss`` does not include a parent's peak inherited at fork time)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timing(stage: str, points: int, seconds: float) -> dict[str, Any]:
    return {
        "stage": stage,
        "points": points,
        "seconds": seconds,
        "points_per_s": points / seconds if seconds > 0 else None,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def _read_chunks(reader: Any) -> Iterator[PointCloud]:
    """The reader's file chunk by chunk, stopping at PDAL's ``count`` when it gives one."""
    got = 0
    for chunk in iter_chunks(reader.filename, chunk_size=reader.chunk_size, **_crs_options(reader)):
        if reader.count is not None:
            chunk = chunk.select(slice(0, reader.count - got))
            if not len(chunk):
                return
        got += len(chunk)
        yield chunk


def _crs_options(reader: Any) -> dict[str, Any]:
    """readers.las's CRS options as :func:`lidar.io.iter_chunks` takes them."""
    return {
        "crs": reader.spatialreference,
        "default_crs": reader.default_srs,
        "use_header_crs": not reader.nosrs,
    }


def _run_memory(pipe: Pipeline) -> Iterator[RunReport]:
    reader = pipe.stages[0].options
    rep = RunReport()
    t = time.perf_counter()
    if reader.count is None:
        cloud = read_cloud(reader.filename, chunk_size=reader.chunk_size, **_crs_options(reader))
    else:  # PDAL's count: the first points only, the rest of the file never decoded
        parts = list(_read_chunks(reader))
        if not parts:
            raise BadInputError(_("the point cloud is empty"), where=reader.filename)
        cloud = concat(parts) if len(parts) > 1 else parts[0]
    if len(cloud) == 0:  # as when streaming: nothing to classify or grid, no empty output
        raise BadInputError(_("the point cloud is empty"), where=reader.filename)
    rep.points_in = len(cloud)
    rep.stages.append(_timing("readers.las", len(cloud), time.perf_counter() - t))
    rep.points_out = len(cloud)
    yield rep
    cache: dict[Any, Any] = {}  # surfaces shared by the writers of one cloud (DTM -> CHM)
    # the outputs are put in place together when every stage has succeeded: a DTM that fails
    # leaves neither the ground cloud written before it nor a half-updated set of products
    outputs = OutputGroup()
    try:
        yield from _memory_stages(pipe, cloud, rep, cache, outputs)
    except BaseException:
        outputs.discard()
        raise
    outputs.commit()


def _memory_stages(
    pipe: Pipeline,
    cloud: PointCloud,
    rep: RunReport,
    cache: dict[Any, Any],
    outputs: OutputGroup,
) -> Iterator[RunReport]:
    reader = pipe.stages[0].options
    for st in pipe.stages[1:]:
        t = time.perf_counter()
        spec = STAGES[st.type]
        if spec.kind == "writer":
            with outputs.collect():
                rep.outputs.append(_write(cloud, st, cache))
        else:
            cache.clear()  # a filter makes a new cloud: its surfaces are new too
            assert spec.apply is not None
            before = cloud
            try:
                cloud = spec.apply(cloud, st.options)
            except BadInputError as exc:
                raise _stage_error(exc, st, reader.filename, pipe.written) from None
            if cloud is before and getattr(st.options, "keep_existing", False):
                # the cloud's own ground was kept (``keep_existing``): say so
                rep.stages.append(
                    {**_timing(st.type, len(cloud), time.perf_counter() - t), "skipped": True}
                )
                rep.points_out = len(cloud)
                yield rep
                continue
        rep.stages.append(_timing(st.type, len(cloud), time.perf_counter() - t))
        rep.points_out = len(cloud)
        yield rep


def _stage_error(exc: BadInputError, st: Stage, source: str, written: bool) -> BadInputError:
    """A stage's own error (a grid too large, a value that does not fit) names the input file,
    and the stage in a pipeline the user wrote; one that names its own place is left as it is."""
    if exc.where is None:
        exc.where = source
        if written:
            exc.message = f"stage {st.index + 1} ({st.type}): {exc.message}"
    return exc


def _run_stream(pipe: Pipeline) -> Iterator[RunReport]:
    reader = pipe.stages[0].options
    rep = RunReport(streamed=True)
    writers: dict[int, tuple[laspy.LasWriter, Path]] = {}
    evlrs: dict[int, laspy.LasHeader] = {}  # each writer's header as asked (its EVLRs)
    counts: dict[int, int] = {}
    ok = False
    from contextlib import ExitStack

    with ExitStack() as stack:
        try:
            for chunk in _read_chunks(reader):
                rep.points_in += len(chunk)
                cloud = chunk
                for st in pipe.stages[1:]:
                    spec = STAGES[st.type]
                    if spec.kind == "writer":
                        part_in = _writer_points(cloud, st.options)
                        if not len(part_in) and st.index not in writers:
                            continue  # the header is laid out on the first points it gets
                        if st.index not in writers:
                            tmp_ctx = atomic_output(st.options.filename)
                            tmp = stack.enter_context(tmp_ctx)
                            layout = st.options.layout()
                            header = _header_for(part_in, None, layout)
                            w = laspy.open(
                                str(tmp),
                                mode="w",
                                header=header,
                                do_compress=Path(st.options.filename).suffix.lower() == ".laz",
                            )
                            evlrs[st.index] = header
                            writers[st.index] = (w, tmp)
                            counts[st.index] = 0
                        w = writers[st.index][0]
                        part = fit_point_format(
                            part_in,
                            int(w.header.point_format.id),
                            bool(st.options.discard_high_return_numbers),
                        )
                        with las_write_errors(st.options.filename, written=writers[st.index][1]):
                            _append(w, part)
                        counts[st.index] += len(part)
                    else:
                        assert spec.apply is not None
                        try:
                            cloud = spec.apply(cloud, st.options)
                        except BadInputError as exc:
                            raise _stage_error(exc, st, reader.filename, pipe.written) from None
                rep.points_out += len(cloud)
                yield rep
            ok = True
        finally:
            for idx, (w, tmp) in writers.items():
                if ok:
                    with las_write_errors(pipe.stages[idx].options.filename, written=tmp):
                        write_evlrs(w, evlrs[idx])
                        w.close()
                else:  # already failing: the first error is the one to report
                    with contextlib.suppress(Exception):
                        w.close()
            if not ok:
                for _w, tmp in writers.values():
                    tmp.unlink(missing_ok=True)
    if rep.points_in == 0:  # an empty file: bad input, not a failed write
        raise BadInputError(_("the point cloud is empty"), where=reader.filename)
    for st in pipe.stages[1:]:
        if STAGES[st.type].kind == "writer":
            if st.index not in writers:
                raise StorageError(_("no points reached the writer"), where=st.options.filename)
            rep.outputs.append(
                {"stage": st.type, "file": st.options.filename, "points": counts[st.index]}
            )
    yield rep


def _append(writer: laspy.LasWriter, cloud: PointCloud) -> None:
    rec = laspy.ScaleAwarePointRecord.zeros(len(cloud), header=writer.header)
    rec.x, rec.y, rec.z = cloud.x, cloud.y, cloud.z
    names = set(writer.header.point_format.dimension_names)
    for k, v in cloud.dims.items():
        if k in names:
            rec[k] = v
    writer.write_points(rec)
