"""``fashionstudio-cli``: the tools without the window, a folder in and a folder out.

    fashionstudio-cli extract IN_DIR OUT_DIR [--model FILE] [--background #RRGGBB]
    fashionstudio-cli match IN_DIR OUT_DIR --direction shoe2bag|bag2shoe [--model FILE] [--candidates N]
    fashionstudio-cli pose SRC_IMG POSE OUT [--model FILE] [--coarse] [--source-pose CSV_OR_JSON]
    fashionstudio-cli generate OUT_DIR --seeds 0-15 [--psi 0.7] [--model FILE]
    fashionstudio-cli models

Every result is a PNG carrying its provenance (model file and hash, settings, source file) in its text chunks.
When the sharpening model (``upscale.safetensors``) is found, every result is also made four times larger and
cleaned by it (``--no-sharpen`` keeps the model's own size; ``--upscaler FILE`` picks another upscaler), and the
provenance names it.
Without ``--model`` the tool's default model is used, found where the app finds it. Exit codes: 0 all written,
1 some inputs skipped or some results blank (one flat colour; each listed on stderr with a sentence), 2 nothing
could run (missing, damaged or hostile model file, a model that produces NaN, empty or unreadable folder, bad
arguments). This module never imports Qt.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fashionstudio.core.default_models import MODEL_SUFFIX, default_model_path, model_search_dirs

EXIT_OK, EXIT_SKIPPED, EXIT_FAILED = 0, 1, 2
TOOLS = ("pose", "extract", "match", "generate")


class CliError(Exception):
    """A problem that stops the command; the message is printed as is."""


def _load_model(tool: str, path: str | None, device: str = "auto") -> Any:
    from fashionstudio.core import registry
    from fashionstudio.core.modelfile import ModelFileError, load_model_file, read_model_info

    if path is None:
        found = default_model_path(tool)
        if found is None:
            folders = ", ".join(str(d) for d in model_search_dirs())
            raise CliError(f"No {tool} model found (looked for {tool}{MODEL_SUFFIX} in: {folders}). "
                           f"Give one with --model FILE.")
        model_path = found
    else:
        model_path = Path(path)
    try:
        family = read_model_info(model_path)["family"]
        mismatch = registry.tool_family_error(tool, family, model_path.name)
        if mismatch:
            raise CliError(mismatch)
        return load_model_file(model_path, device=_device(device))
    except ModelFileError as exc:
        raise CliError(str(exc)) from None


def _device(preference: str) -> Any:
    from fashionstudio.core.devices import pick_device

    device, _, _ = pick_device(preference)
    return device


# -- commands ----------------------------------------------------------------------------------------------------

def _progress(quiet: bool) -> Callable[[int, int, str], None] | None:
    if quiet:
        return None

    def show(done: int, total: int, name: str) -> None:
        print(f"[{done}/{total}] {name}", file=sys.stderr)

    return show


def _familiarity(model: Any, role: str | None = None) -> Callable[[Any, str], dict[str, Any]]:
    """A check for each input: a warning on stderr when it is unlike the model's training pictures (the full
    advice once, then one line per file), and the flag its outputs' provenance carries."""
    from fashionstudio.core.familiarity import checker_for

    checker = checker_for(model)
    if checker.note:
        print(f"note: {checker.note}", file=sys.stderr)
    advised: list[bool] = []

    def check(img: Any, name: str) -> dict[str, Any]:
        verdict = checker.check(img, role)
        if verdict.unfamiliar:
            if not advised:
                print(f"warning: {name}: {verdict.message}", file=sys.stderr)
                advised.append(True)
            else:
                print(f"warning: {name} is also unlike the model's training pictures.", file=sys.stderr)
        return verdict.provenance()

    return check


def _sharpener(args: argparse.Namespace) -> Any:
    """The upscaler for this command, or None: off with --no-sharpen; a default one that is missing or unusable
    gives one note on stderr and results at model resolution; an unusable --upscaler FILE stops the command."""
    if getattr(args, "no_sharpen", True):
        return None
    from fashionstudio.core.upscale import SharpenError, load_sharpener

    try:
        return load_sharpener(args.upscaler, device=_device(args.device))
    except SharpenError as exc:
        if args.upscaler:
            raise CliError(str(exc)) from None
        print(f"note: {exc}", file=sys.stderr)
        return None


def _sharpen_outputs(sharpener: Any, paths: list[Any]) -> None:
    if sharpener is not None and paths:
        from fashionstudio.core.upscale import sharpen_files

        count = sharpen_files(list(paths), sharpener)
        print(f"Sharpened {count} result{'s' if count != 1 else ''} x{sharpener.scale} with {sharpener.name}.",
              file=sys.stderr)


def _finish(report: Any, out_dir: Path, t0: float) -> int:
    if report.skipped:
        count = len(report.skipped)
        print(f"{count} file{'s' if count != 1 else ''} of {report.total} in the folder left out:", file=sys.stderr)
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    for name, warning in getattr(report, "flagged", []):
        print(f"warning {name}: {warning}", file=sys.stderr)
    print(f"{report.summary()} Output: {out_dir} ({time.perf_counter() - t0:.1f} s)")
    return EXIT_SKIPPED if report.skipped or getattr(report, "flagged", []) else EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    from fashionstudio.core.extract import GarmentExtractor
    from fashionstudio.core.pipeline_common import parse_colour

    try:
        background = parse_colour(args.background)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    t0 = time.perf_counter()
    extractor = GarmentExtractor(_load_model("extract", args.model, args.device))
    sharpener = _sharpener(args)
    report = extractor.run_folder(args.in_dir, args.out_dir, background, progress=_progress(args.quiet),
                                  check=_familiarity(extractor.model))
    _sharpen_outputs(sharpener, report.written)
    return _finish(report, Path(args.out_dir), t0)


def cmd_match(args: argparse.Namespace) -> int:
    from fashionstudio.core.match import MAX_CANDIDATES, make_matcher

    if not 1 <= args.candidates <= MAX_CANDIDATES:
        raise CliError(f"--candidates takes 1 to {MAX_CANDIDATES}, not {args.candidates}.")
    t0 = time.perf_counter()
    matcher = make_matcher(_load_model("match", args.model, args.device))
    sharpener = _sharpener(args)
    # Content/style models draw their candidates' shapes from a seed; CycleGAN has none to take.
    seeded = {"seed": args.seed} if matcher.seeded else {}
    report = matcher.run_folder(args.in_dir, args.out_dir, args.direction, candidates=args.candidates, **seeded,
                                progress=_progress(args.quiet),
                                check=_familiarity(matcher.model, "shoe" if args.direction == "shoe2bag" else "bag"))
    _sharpen_outputs(sharpener, report.written)
    return _finish(report, Path(args.out_dir), t0)


def _pose_frame(csv_path: Path, rows: dict[str, Any], declared: tuple[int, int] | None) -> tuple[int, int]:
    """The (h, w) frame a pose CSV's pixel keypoints live in, shared by all its rows: declared in the file, given
    by an image of a row beside it, or inferred from every row (see core.pose_frame)."""
    from fashionstudio.core.pose_frame import csv_frame

    return csv_frame(csv_path, rows, declared)[0]


def _read_target_pose(spec: str) -> tuple[str, Any, tuple[int, int]]:
    """``POSE``: a pose name of the shipped library, a pose CSV (its first row), or ``FILE.csv:NAME``.
    Returns (name, pixel keypoints, their frame)."""
    from fashionstudio.core.poses import PoseFormatError, read_pose_csv_with_frame

    path, name = Path(spec), None
    if not path.is_file() and ":" in spec and Path(spec.rsplit(":", 1)[0]).is_file():
        path, name = Path(spec.rsplit(":", 1)[0]), spec.rsplit(":", 1)[1]
    if not path.is_file():
        from fashionstudio.core.resources import ResourceNotFoundError, resource_path

        try:
            path = resource_path("poses", "poses.csv")
        except ResourceNotFoundError as exc:
            raise CliError(f"'{spec}' is not a pose CSV file, and the pose library is missing ({exc}).") from None
        name = spec
    try:
        rows, declared = read_pose_csv_with_frame(path)
    except PoseFormatError as exc:
        raise CliError(f"'{path.name}' is not a pose CSV FashionStudio can read ({exc}).") from None
    if not rows:
        raise CliError(f"'{path.name}' holds no poses.")
    if name is None:
        name = next(iter(rows))
    if name not in rows:
        stems = {Path(k).stem: k for k in rows}
        if name not in stems:
            known = ", ".join(sorted(stems)[:20])
            raise CliError(f"There is no pose '{name}' in {path.name} (it has: {known}).")
        name = stems[name]
    return Path(name).stem, rows[name], _pose_frame(path, rows, declared)


def _source_pose(spec: str | None, photo_path: Path, photo: Any, needed: bool) -> tuple[Any, str | None]:
    """The photo's own pose for a warping model: ``--source-pose FILE``, else the pose marked on this file in the
    app, else the keypoint annotation beside it. Returns (normalised pose or None, where it came from)."""
    from fashionstudio.core.source_poses import SourcePoseError, SourcePoseStore, find_source_pose, read_source_pose_file

    if not needed:
        if spec is not None:
            print("note: --source-pose is ignored: this pose model does not use the photo's own pose.",
                  file=sys.stderr)
        return None, None
    if spec is not None:
        try:
            return read_source_pose_file(spec, photo_path, (photo.height, photo.width)), Path(spec).name
        except SourcePoseError as exc:
            raise CliError(str(exc)) from None
    found = find_source_pose(photo_path, photo, SourcePoseStore())
    if found is None:
        raise CliError(f"This pose model needs the pose of the person in {photo_path.name}, and none is known: it "
                       f"was not marked in the app and no keypoint CSV (*annotation*.csv) beside it names it. "
                       f"Give one with --source-pose FILE (a keypoint CSV or a JSON pose).")
    return found.pose, found.label


def cmd_pose(args: argparse.Namespace) -> int:
    from fashionstudio.core.images import ImageLoadError, load_image
    from fashionstudio.core.pipeline_common import flat_output_warning, result_provenance
    from fashionstudio.core.pose_transfer import PoseInputError, PoseTransfer, normalise_keypoints, refit_pose
    from fashionstudio.core.provenance import save_png_with_provenance

    try:
        photo = load_image(args.src_img)
    except ImageLoadError as exc:
        raise CliError(str(exc)) from None
    pose_name, kp, frame = _read_target_pose(args.pose)
    target = refit_pose(normalise_keypoints(kp, frame), frame[1] / frame[0], photo.width / photo.height)
    model = _load_model("pose", args.model, args.device)
    try:
        transfer = PoseTransfer(model)
        source_pose, source_from = _source_pose(args.source_pose, Path(args.src_img), photo, transfer.needs_source_pose)
        if source_from is not None:
            print(f"photo's pose: {source_from}", file=sys.stderr)
        result = transfer.run(photo, target, source_pose=source_pose)
    except PoseInputError as exc:
        raise CliError(str(exc)) from None
    for note in result.notes:  # e.g. a limb the photo's pose lacks, drawn rather than copied
        print(f"note: {note}", file=sys.stderr)
    settings: dict[str, Any] = {"pose": pose_name}
    if source_from is not None:
        settings["source_pose"] = {"from": source_from, "pose_yx_normalised": source_pose.round(4).tolist()}
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        out = out.with_suffix(".png")
    source = Path(args.src_img).name
    flag = _familiarity(model)(photo, source)
    written = [save_png_with_provenance(result.refined, out, {**result_provenance(
        model, "pose", {**settings, "stage": "refined"}, source), "familiarity": flag})]
    if args.coarse:
        written.append(save_png_with_provenance(result.coarse, out.with_name(f"{out.stem}_coarse.png"),
                                                {**result_provenance(model, "pose", {**settings, "stage": "coarse"},
                                                                     source), "familiarity": flag}))
    _sharpen_outputs(_sharpener(args), written)
    print("Wrote " + ", ".join(str(p) for p in written))
    warning = flat_output_warning(result.refined, model.name, source=photo)
    if warning:
        print(f"warning {out.name}: {warning}", file=sys.stderr)
        return EXIT_SKIPPED
    return EXIT_OK


def parse_seeds(text: str) -> list[int]:
    """``"0-15"``, ``"3,7,9"`` or a mix (``"0-3,10"``) -> non-negative seeds in order, without repeats."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",")):
            lo, _, hi = part.partition("-")
            first, last = int(lo), int(hi) if hi else int(lo)
            if first < 0 or last < first or last - first >= 100_000:
                raise ValueError
            seeds.extend(range(first, last + 1))
    except ValueError:
        raise CliError(f"'{text}' is not a list of seeds: write for example 0-15 or 3,7,42.") from None
    return list(dict.fromkeys(seeds))


def cmd_generate(args: argparse.Namespace) -> int:
    import torch

    from fashionstudio.core.images import tensor_to_pil
    from fashionstudio.core.latent import GenerateState, LatentSpace
    from fashionstudio.core.pipeline_common import check_generated, result_provenance
    from fashionstudio.core.provenance import save_png_with_provenance

    seeds = parse_seeds(args.seeds)
    if not math.isfinite(args.psi):
        raise CliError("--psi must be a number, for example 0.7.")
    out_dir = Path(args.out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"The output folder '{out_dir}' cannot be created ({exc.strerror or exc}).") from None
    t0 = time.perf_counter()
    model = _load_model("generate", args.model, args.device)
    G = model.networks["G"]
    device = next(G.parameters()).device
    space = LatentSpace(G, device=device)
    base = GenerateState(psi=float(args.psi), model_sha256=model.sha256)
    sharpener = _sharpener(args)
    written: list[Path] = []
    blank = 0
    with torch.inference_mode():
        for i, seed in enumerate(seeds):
            state = base.with_seed(seed)
            image = G.synthesis(space.state_ws(state))
            warning = check_generated(image, model.name)  # NaN: raises, exit 2; one flat colour: a warning
            info = result_provenance(model, "generate", generate_settings(state), None)
            if warning:
                info["warning"] = warning
                print(f"warning seed{seed:05d}.png: {warning}", file=sys.stderr)
                blank += 1
            path = save_png_with_provenance(tensor_to_pil(image), out_dir / f"seed{seed:05d}.png", info)
            written.append(path)
            if not args.quiet:
                print(f"[{i + 1}/{len(seeds)}] {path.name}", file=sys.stderr)
    _sharpen_outputs(sharpener, written)
    print(f"Wrote {len(seeds)} image{'s' if len(seeds) != 1 else ''}" + (f"; {blank} blank" if blank else "")
          + f". Output: {out_dir} ({time.perf_counter() - t0:.1f} s)")
    return EXIT_SKIPPED if blank else EXIT_OK


def generate_settings(state: Any) -> dict[str, Any]:
    """The settings a Generate PNG stores: the same form as the Generate tab's export, so it reopens there."""
    from fashionstudio.core.latent import state_summary

    return {**state_summary(state), "state": state.to_dict()}


def cmd_models(args: argparse.Namespace) -> int:
    from fashionstudio.core.modelfile import ModelFileError, read_model_info

    print("Model folders searched, first match wins: " + ", ".join(str(d) for d in model_search_dirs()))
    for tool in TOOLS:
        path = default_model_path(tool)
        if path is None:
            print(f"{tool:9s} none (open one in the app or pass --model)")
            continue
        try:
            meta = read_model_info(path)
            print(f"{tool:9s} {path}  [{meta['family']}, {meta['resolution']} px, {meta.get('name', path.stem)}]")
        except ModelFileError as exc:
            print(f"{tool:9s} {path}  UNUSABLE: {exc}")
        except Exception as exc:  # noqa: BLE001 - one unreadable file never stops the listing
            print(f"{tool:9s} {path}  UNUSABLE: '{path.name}' cannot be read ({exc.__class__.__name__}: {exc}).")
    return EXIT_OK


def _model_help(tool: str) -> str:
    """``--model``'s help: the families the tool runs, from their declarations."""
    from fashionstudio.core import registry

    return f"a {' or '.join(registry.tool_families(tool))} model file (default: the {tool} model)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fashionstudio-cli",
                                     description="FashionStudio's tools from the command line: a folder in, a folder out.")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                        help="where the networks run (default: the best available)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("extract", help="person photos -> garment catalogue images")
    p.add_argument("in_dir", metavar="IN_DIR", help="folder of photos of dressed people")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder for the garment images (created)")
    p.add_argument("--model", metavar="FILE", help=_model_help("extract"))
    p.add_argument("--background", default="#FFFFFF", metavar="#RRGGBB", help="output background colour")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-file progress")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("match", help="shoes -> matching handbags, or handbags -> shoes")
    p.add_argument("in_dir", metavar="IN_DIR", help="folder of shoe (or handbag) photos")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder for the matches (created)")
    p.add_argument("--direction", required=True, choices=("shoe2bag", "bag2shoe"), help="what the inputs are")
    p.add_argument("--model", metavar="FILE", help=_model_help("match"))
    p.add_argument("--candidates", type=int, default=1, metavar="N",
                   help="write the N best candidates per input (NAME.png, NAME_2.png, ...), ranked by round trip")
    p.add_argument("--seed", type=int, default=0, help="content/style models: the seed of the candidates' "
                                                       "shapes (the same seed gives the same items)")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-file progress")
    p.set_defaults(func=cmd_match)

    p = sub.add_parser("pose", help="one photo + a target pose -> the same person in that pose")
    p.add_argument("src_img", metavar="SRC_IMG", help="photo of a dressed person")
    p.add_argument("pose", metavar="POSE_CSV_OR_NAME",
                   help="a library pose name (e.g. walking), a pose CSV (first row) or FILE.csv:NAME")
    p.add_argument("out", metavar="OUT", help="output PNG (the refined result)")
    p.add_argument("--model", metavar="FILE", help=_model_help("pose"))
    p.add_argument("--coarse", action="store_true", help="also write the coarse stage as OUT_coarse.png")
    p.add_argument("--source-pose", metavar="CSV_OR_JSON",
                   help="the pose of the person in SRC_IMG, for warping models (default: the pose marked on it in "
                        "the app, else the keypoint CSV beside it)")
    p.set_defaults(func=cmd_pose)

    p = sub.add_parser("generate", help="new images from seeds (StyleGAN2)")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder for seedNNNNN.png (created)")
    p.add_argument("--seeds", required=True, help="seeds, e.g. 0-15 or 3,7,42")
    p.add_argument("--psi", type=float, default=0.7, help="truncation psi (1 = no truncation; default 0.7)")
    p.add_argument("--model", metavar="FILE", help=_model_help("generate"))
    p.add_argument("-q", "--quiet", action="store_true", help="no per-image progress")
    p.set_defaults(func=cmd_generate)

    for name, tool_parser in sub.choices.items():  # every tool: the sharpening step after writing
        tool_parser.add_argument("--no-sharpen", action="store_true",
                                 help="keep results at the model's size (default: made 4x larger and cleaned "
                                      "when upscale.safetensors is found)")
        tool_parser.add_argument("--upscaler", metavar="FILE", help="the sharpening model (default: upscale model)")
    p = sub.add_parser("models", help="list the default models found")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:  # sentences from the pipelines (empty folder, output folder, ...)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
