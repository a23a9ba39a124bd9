"""The report as one self-contained HTML page (tables, the CorLoc-vs-τ plot, worst-frame pictures)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping

import cv2

from wsvol.evaluation.metrics import EvaluationResult
from wsvol.report.tables import COLUMNS, HEADINGS, describe_environment, fmt
from wsvol.visualization.overlay import draw_overlay, encode_png

#: The CSS of wsvol's pages (the report, ``wsvol compare``).
STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th{text-align:left}"
         "figure{display:inline-block;margin:4px;font-size:11px}.note{color:#555}")


def render_html(
    report: dict, results: Mapping[str, EvaluationResult], image_loader, title: str, thumb: int
) -> str:
    """The page of ``report`` (from :func:`~wsvol.report.tables.build_report`)."""
    meta = report["meta"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>{html.escape(meta['definitions'])}</p>",
    ]
    for note in meta["notes"]:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    if meta.get("environment"):
        parts.append(f"<p class='note' id='environment'>Environment: "
                     f"{html.escape(describe_environment(meta['environment']))}.</p>")
    rows = reproducibility_rows(meta)
    parts.append("<h2>Reproducibility</h2><table id='reproducibility'>"
                 + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
                 + "</table>")
    for key in ("summary", "baselines", "per_class", "by_size", "bootstrap", "per_video"):
        heading = "h3" if key == "baselines" else "h2"  # beside the summary, not a table of methods
        parts.append(
            f"<{heading}>{html.escape(HEADINGS[key])}</{heading}>{html_table(report.get(key, []), COLUMNS[key], key)}"
        )
    parts.append(
        f"<h2>CorLoc vs τ</h2><img alt='CorLoc vs threshold' src='data:image/png;base64,{_curve_png(report)}'>"
    )
    parts.append("<h2>Worst frames (lowest IoU at the best τ)</h2>")
    for method in meta["methods"]:
        rows = [r for r in report["worst_frames"] if r["method"] == method]
        if not rows:
            continue
        parts.append(f"<h3>{html.escape(method)}</h3><div>")
        loc = results[method].localization
        for r in rows:
            image = image_loader(r["frame"]) if image_loader else None
            heat = loc.maps[r["index"]] // 8 * 8  # 32 levels: a picture, and a small PNG
            pic = draw_overlay(heat, image, pred_box=r["pred_box"], gt_boxes=r["gt_boxes"])
            scale = thumb / max(pic.shape[:2])
            pic = cv2.resize(
                pic,
                (round(pic.shape[1] * scale), round(pic.shape[0] * scale)),
                interpolation=cv2.INTER_AREA,
            )
            data = base64.b64encode(encode_png(pic)).decode()
            caption = html.escape(f"{worst_frame_caption(r)}\n{r['frame']}").replace("\n", "<br>")
            parts.append(
                f"<figure><img alt='{html.escape(r['frame'])}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{caption}</figcaption></figure>"
            )
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def reproducibility_rows(meta: dict) -> list[tuple[str, str]]:
    """(what, value) pairs of the page's Reproducibility block: what the numbers depend on besides
    the environment line (config, seeds, checkpoints, wsvol's commit, date); missing ones as —."""
    rep, env = meta.get("reproducibility") or {}, meta.get("environment") or {}
    rows = [("created", fmt(rep.get("created"))),
            ("config", fmt(rep.get("config"))),
            ("config.yaml sha256 (the merged config, as run)", fmt(rep.get("config_sha256"))),
            ("training seed (randomness.seed)", fmt(rep.get("training_seed"))),
            ("deterministic (randomness.deterministic)", fmt(rep.get("deterministic")))]
    rows += [(f"checkpoint tested: {method}", fmt(path)) for method, path in (rep.get("checkpoints") or {}).items()]
    rows += [("run resumed" if part["resumed"] else "run started", f"{fmt(part['at'])}, {segment_environment(part)}")
             for part in rep.get("segments") or []]
    rows += [(f"{'resumed' if part['resumed'] else 'started'}: the run of the checkpoint in {run}",
              f"{fmt(part['at'])}, {segment_environment(part)}")
             for run, parts in (rep.get("checkpoint_runs") or {}).items() for part in parts]
    rows += [("wsvol commit", fmt(env.get("wsvol_commit"))),
             ("CUDA, cuDNN", ", ".join(fmt(env.get(k)) for k in ("cuda", "cudnn"))),
             ("bootstrap seed (intervals only)", fmt(meta.get("bootstrap_seed")))]
    return rows


def segment_environment(part: dict) -> str:
    """How the environment of a run's start or resume compares with the report's."""
    diffs = part.get("differences")
    if diffs is None:
        return "environment not recorded"
    if not diffs:
        return "in the environment above"
    return "in another environment than above: " + "; ".join(diffs)


def worst_frame_caption(row: dict) -> str:
    """``predicted car 0.97, true aeroplane, IoU 0.12``: a worst frame's prediction, the score being
    the predicted class's, its true class and IoU."""
    return (f"predicted {fmt(row['predicted_class'])} {fmt(row['score'])}, true {row['true_class']}, "
            f"IoU {fmt(row['iou'])}")


def html_table(rows: list[dict], columns, key: str) -> str:
    """A ``<table id=key>`` of ``rows`` showing ``columns`` ((key, heading, digits) each)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(fmt(r.get(k), d))}</td>" for k, _, d in columns) + "</tr>"
        for r in rows
    )
    return f"<table id='{key}'><tr>{head}</tr>{body}</table>"


def curve_label(row: dict) -> str:
    """``trcamv (62.5% at τ=0.350)``: a summary row's legend in the CorLoc-vs-τ plot (τ — when
    CorLoc is 0 at every τ)."""
    return f"{row['method']} ({row['corloc']:.1f}% at τ={fmt(row['best_tau'], 3)})"


def _curve_png(report: dict) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for row in report["summary"]:
        pts = [
            (r["tau"], r["corloc"]) for r in report["corloc_curve"] if r["method"] == row["method"]
        ]
        line = ax.plot(*zip(*pts), label=curve_label(row))[0]
        if row["best_tau"] is not None:
            ax.plot([row["best_tau"]], [row["corloc"]], "o", color=line.get_color())
    ax.set_xlabel("threshold τ")
    ax.set_ylabel("CorLoc (%)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode()
