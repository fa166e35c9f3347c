"""``python -m training card MODEL_FILE --eval REPORT.json [--run RUN_DIR] [--samples GRID.png] [--out CARD.md]``.

Writes a model card (Markdown) from the model file's own metadata and an ``evaluate`` report, so that every
number on a card comes from a file that can be re-checked (tests/test_demo_models.py re-runs evaluate).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SYNTHETIC_NOTE = (
    "**Trained on synthetic images only.** The training data is the project's procedural *synthetic atelier* "
    "(flat-coloured mannequins, garments, shoes and bags drawn by `python -m training synth`). The model shows the "
    "tool working on pictures of that kind; real photos need a model trained on real data (Train tab, or "
    "`python -m training run`)."
)


def _fmt(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _table(rows: dict[str, dict[str, Any]], keys: list[str]) -> list[str]:
    keys = [k for k in keys if any(k in r for r in rows.values())]
    lines = ["| set | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, r in rows.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |")
    return lines


def _run_summary(run_dir: Path, exported_step: int | None = None) -> dict[str, Any]:
    """Steps and wall time of a run, from its events (a resumed run counts only the time it was training). With
    ``exported_step`` the wall time stops at the first event of that step: a file exported mid-run cost only that."""
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    cut = next((e["time"] for e in events if exported_step and e.get("step", 0) >= exported_step), None)
    statuses = [e for e in events if e.get("kind") == "status"]
    wall, start = 0.0, None
    for e in statuses:
        if e["status"] in ("started", "resumed"):
            start = e["time"]
        elif e["status"] in ("finished", "stopped") and start is not None:
            end = e["time"] if cut is None else min(e["time"], cut)
            wall, start = wall + max(0.0, end - start), None
    return {"steps": max((e.get("step", 0) for e in events), default=0), "wall_minutes": wall / 60,
            "segments": [(e["status"], e["step"]) for e in statuses]}


def write_card(model_file: Path, report: dict[str, Any], run_dir: Path | None, samples: str | None,
               reproduce: str | None) -> str:
    from fashionstudio.core.modelfile import file_sha256, read_model_info

    meta = read_model_info(model_file)
    cfg = meta.get("training", {}).get("config", {})
    lines = [f"# {meta.get('name', model_file.stem)}", "", SYNTHETIC_NOTE, "",
             "| | |", "|---|---|",
             f"| file | `{model_file.name}` ({model_file.stat().st_size / 1e6:.1f} MB, sha256 `{file_sha256(model_file)[:16]}…`) |",
             f"| family / preset | {meta['family']} / {cfg.get('preset', '?')} |",
             f"| resolution | {meta['resolution']} px |",
             f"| licence | {meta.get('licence', '')} |",
             f"| training data | synthetic atelier `{cfg.get('data', {}).get('kind', '?')}`, "
             f"{cfg.get('data', {}).get('size', '?')} examples, seed {cfg.get('seed', 0)} |",
             f"| batch size / steps exported | {cfg.get('batch_size', '?')} / {meta.get('training', {}).get('steps', '?')} |"]
    if run_dir is not None:
        exported = meta.get("training", {}).get("steps")
        s = _run_summary(run_dir, exported if isinstance(exported, int) else None)
        upto = f" to step {exported}" if isinstance(exported, int) and exported < s["steps"] else ""
        lines.append(f"| wall time on the 2-core CPU | {s['wall_minutes']:.0f} min{upto} (shared with other work) |")
        lines.append(f"| run history | {', '.join(f'{a} at step {b}' for a, b in s['segments'])} |")
    lines += ["", "## Held-out evaluation", "",
              f"`python -m training evaluate` on {report['n']} samples of `{report['data']['kind']}` data "
              f"(split `{report['data']['split']}`), features `{report['features']['name']}`. "
              f"{report.get('baselines', '')}", ""]
    lines += _table(report.get("sets", {}), ["fid", "kid", "precision", "recall", "f1"])
    if report.get("paired"):
        lines += [""] + _table(report["paired"], ["l1", "ssim", "mask_l1", "mask_ssim"])
    if report.get("agreement"):
        lines += ["", "Attribute agreement (share of outputs whose attribute, read by the atelier classifier, equals "
                  "the ground truth of the input or target):", ""]
        keys = sorted({k for r in report["agreement"].values() for k in r})
        lines += _table(report["agreement"], keys)
    if report.get("scores"):
        lines += ["", "Pixel and feature scores (see the note above):", "", "| score | value |", "|---|---|"]
        lines += [f"| {name} | {_fmt(v)} |" for name, v in report["scores"].items()]
    if samples:
        lines += ["", "## Samples", "", f"![samples]({samples})"]
    if reproduce:
        lines += ["", "## Reproduce", "", "```bash", reproduce.strip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m training card", description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=Path)
    p.add_argument("--eval", type=Path, required=True, help="the JSON report of python -m training evaluate")
    p.add_argument("--run", type=Path, help="the run folder the model came from (steps, wall time)")
    p.add_argument("--samples", help="relative path of a sample grid image to show")
    p.add_argument("--reproduce", help="the commands that reproduce the model")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv[1:])
    text = write_card(args.model, json.loads(args.eval.read_text()), args.run, args.samples, args.reproduce)
    out = args.out or args.model.with_suffix(".md")
    out.write_text(text)
    print(out)
    return 0
