"""`footai report RUN_DIR --out report.html`: one self-contained page an analyst can open or send.

Everything comes from the run folder (summary.json with its "match" section, match_stats.csv,
the pictures): the tactical map, the heatmaps and pitch control, possession, the formation
guesses, team shape over time and the per-player table. Pictures are embedded as base64 PNG and
the style is inline, so the page needs no other file and no network.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
from portfolio_ml_core.errors import InputFileError
from portfolio_ml_core.fsutil import atomic_path

from ..render.annotate import bgr_colour, hex_colour, luminance, readable

PICTURES = (
    ("tactical_map.png", "Tactical map (middle frame)"),
    ("pitch_control.png", "Pitch control (middle frame)"),
    ("heatmap_team0.png", "Heatmap, team 0"),
    ("heatmap_team1.png", "Heatmap, team 1"),
)
SHAPE_SERIES = (  # match_stats.csv column suffix, chart title
    ("centroid_x", "centroid x (m, along the length)"),
    ("width", "width (m)"),
    ("depth", "depth (m)"),
    ("compactness", "compactness: mean distance to centroid (m)"),
    ("line_height", "defensive line height (m from own goal)"),
)
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1180px;
padding:24px;color:#1d2327;background:#f6f7f4}
h1{margin:0 0 4px}h2{margin-top:32px;border-bottom:2px solid #3c7832;padding-bottom:4px}
.muted{color:#5f6b66}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0002;min-width:140px}
.card b{display:block;font-size:1.4em}.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
figure{margin:0;background:#fff;border-radius:8px;padding:8px;box-shadow:0 1px 3px #0002}
figure img{width:100%;display:block}figcaption{font-size:.9em;color:#5f6b66;margin-top:4px}
.bar{display:flex;height:34px;border-radius:6px;overflow:hidden;margin:8px 0}
.bar div{display:flex;align-items:center;justify-content:center;font-weight:600}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.92em}
th,td{padding:5px 8px;border-bottom:1px solid #e3e6e1;text-align:right}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px;vertical-align:middle;
margin-right:6px;border:1px solid #0003}.warn{background:#fff4d6;padding:8px 12px;border-radius:6px}
"""


def _text_on(colour: str) -> str:
    """Black or white, whichever reads on the ``#rrggbb`` ``colour``."""
    return hex_colour(readable(bgr_colour(colour)))


def _line_colour(colour: str) -> str:
    """A kit colour as a chart line: a white kit would vanish on a white chart, so light
    colours are drawn in a mid grey."""
    return "#8a8a8a" if luminance(bgr_colour(colour)) > 200 else colour


def _read_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    run_dir = Path(run_dir)
    summary_path, stats_path = run_dir / "summary.json", run_dir / "match_stats.csv"
    if not run_dir.is_dir() or not summary_path.is_file():
        raise InputFileError(f"{run_dir}: not a `footai run` output folder (no summary.json)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{summary_path}: not valid JSON ({exc})") from None
    if "match" not in summary or not stats_path.is_file():
        raise InputFileError(
            f"{run_dir}: no match figures (summary.json without 'match', or no match_stats.csv); "
            "run `footai run` again with this version"
        )
    with stats_path.open(newline="", encoding="utf-8") as fh:
        stats = list(csv.DictReader(fh))
    return summary, stats


def _img(path: Path, alt: str) -> str:
    if not path.is_file():
        return f'<p class="muted">{html.escape(alt)}: not in the run folder</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _series(stats: list[dict[str, str]], column: str) -> np.ndarray:
    return np.array([float(r[column]) if r.get(column) else np.nan for r in stats])


def _shape_chart(stats: list[dict[str, str]], colours: list[str]) -> str:
    """Team shape over time: one small chart per figure, both teams, as an embedded PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = _series(stats, "time_s")
    fig, axes = plt.subplots(
        len(SHAPE_SERIES), 1, figsize=(10, 2.1 * len(SHAPE_SERIES)), sharex=True
    )
    for ax, (name, title) in zip(axes, SHAPE_SERIES, strict=True):
        for team in (0, 1):
            ax.plot(t, _series(stats, f"team{team}_{name}"), color=_line_colour(colours[team]), lw=1.6,
                    label=f"team {team}")  # fmt: skip
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="Team shape over time" src="data:image/png;base64,{data}">'


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def _players_table(physical: dict[str, Any], colours: list[str]) -> str:
    zones = list(physical["zones_kmh"])
    head = ["player", "team", "role", "tracks", "seen (s)", "distance (m)", "top speed (km/h)",
            "sprints"]  # fmt: skip
    head += [f"{z.replace('_', ' ')} (s)" for z in zones]
    rows = []
    for p in sorted(physical["players"], key=lambda q: (q["team"], -q["distance_m"])):
        swatch = f'<span class="swatch" style="background:{colours[p["team"]]}"></span>'
        # Runs of older versions keyed players by track id and had no track_ids.
        pid = p.get("player_id", p.get("track_id"))
        tracks = " + ".join(str(k) for k in p.get("track_ids", [pid]))
        cells = [f"#{pid}", f"{swatch}team {p['team']}", p["role"], tracks, _fmt(p["seconds"]),
                 _fmt(p["distance_m"]), _fmt(p["top_speed_kmh"]), str(p["sprints"])]  # fmt: skip
        cells += [_fmt(p["zone_seconds"][z]) for z in zones]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    short = physical["too_short"]
    note = (
        f'<p class="muted">{len(short)} more players were in view for less than '
        f"{physical['min_seconds']:g} s (fragments of players crossing the picture): no figures "
        "for them. A player's tracks are the pieces the re-identification joined into him; "
        "seen is his time in view with a pitch position.</p>"
    )
    if not rows:
        return f'<p class="muted">No player was in view long enough.</p>{note}'
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>{note}"


def render_report(run_dir: Path) -> str:
    """The report page of ``run_dir`` as one HTML string."""
    run_dir = Path(run_dir)
    summary, stats = _read_run(run_dir)
    figures = summary["match"]
    colours = list(summary.get("team_colours", {}).values()) or ["#d9d9d9", "#1f3b73"]
    poss, control, teams = figures["possession"], figures["pitch_control"], figures["teams"]
    seconds = summary["frames"] / summary["video_fps"] if summary.get("video_fps") else 0.0
    cards = [
        ("Clip", f"{seconds:.1f} s", f"{summary['frames']} frames"),
        ("Calibration", summary["calibration"]["method"], f"{summary['detector']} detector"),
        (
            "Players tracked",
            f"{summary['players_per_team']['team0']} + {summary['players_per_team']['team1']}",
            "team 0 + team 1",
        ),
        ("Ball seen", f"{summary['ball_frames']} frames", ""),
    ]
    for t in (0, 1):
        team = teams[f"team{t}"]
        conf = team["formation_confidence"]
        cards.append((f"Team {t} formation", team["formation"] or "—",
                      f"confidence {100 * conf:.0f} %" if conf else "too few players seen"))  # fmt: skip
    card_html = "".join(
        f'<div class="card"><span class="muted">{html.escape(k)}</span><b>{html.escape(str(v))}</b>'
        f'<span class="muted">{html.escape(n)}</span></div>'
        for k, v, n in cards
    )

    def bar(shares: dict[str, Any], what: str) -> str:
        s0, s1 = shares.get("team0"), shares.get("team1")
        if s0 is None or s1 is None:
            return f'<p class="muted">{what}: not measurable on this clip.</p>'
        return (
            f'<div class="bar"><div style="width:{100 * s0:.1f}%;background:{colours[0]};'
            f'color:{_text_on(colours[0])}">team 0 · {100 * s0:.0f} %</div>'
            f'<div style="width:{100 * s1:.1f}%;background:{colours[1]};'
            f'color:{_text_on(colours[1])}">team 1 · {100 * s1:.0f} %</div></div>'
        )

    warnings = "".join(f'<p class="warn">{html.escape(w)}</p>' for w in summary.get("warnings", []))
    pictures = "".join(
        f"<figure>{_img(run_dir / name, caption)}<figcaption>{caption}</figcaption></figure>"
        for name, caption in PICTURES
    )
    shape_rows = "".join(
        f"<tr><td>{label}</td><td></td>"
        + "".join(f"<td>{_fmt(teams[f'team{t}'][key], '', 1)}</td>" for t in (0, 1))
        + "</tr>"
        for key, label in (
            ("mean_centroid_x", "centroid x (m)"),
            ("mean_centroid_y", "centroid y (m)"),
            ("mean_width_m", "width (m)"),
            ("mean_depth_m", "depth (m)"),
            ("mean_compactness_m", "compactness (m)"),
            ("mean_line_height_m", "defensive line height (m)"),
            ("attacks", "attacks toward"),
        )
    )
    body = f"""
<h1>Foot AI match report</h1>
<p class="muted">{html.escape(Path(summary.get("video", "")).name)} · frames
{summary.get("first_frame")}–{summary.get("last_frame")} at {summary.get("video_fps")} fps ·
{html.escape(summary["calibration"].get("detail", ""))}</p>
{warnings}<div class="cards">{card_html}</div>
<h2>Possession</h2>{bar(poss, "Possession")}
<p class="muted">The ball belongs to the nearest player within {poss["radius_m"]} m; frames with no
ball, no homography or nobody near it do not count ({poss["frames_counted"]} of {summary["frames"]}
frames counted).</p>
<h2>Pitch control</h2>{bar(control, "Pitch control")}
<p class="muted">Share of the pitch each team reaches first ({control["model"]} model), averaged
over {control["frames_counted"]} frames with at least {control["min_players_per_team"]} mapped
players per team.</p>
<div class="grid">{pictures}</div>
<h2>Team shape</h2>
<table><tr><th>mean over the clip</th><th></th><th>team 0</th><th>team 1</th></tr>{shape_rows}</table>
<figure style="margin-top:12px">{_shape_chart(stats, colours)}
<figcaption>Team shape over time (outfield players in view).</figcaption></figure>
<h2>Players</h2>{_players_table(figures["physical"], colours)}
<p class="muted">Made by portfolio-ml footai from the broadcast picture: players out of view are
missing from every figure of their frames, and a player's distance covers his time in view.</p>
"""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Foot AI match report</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def write_report(run_dir: Path, out: Path) -> Path:
    """report.html for ``run_dir``, written atomically."""
    page = render_report(run_dir)
    out = Path(out)
    if out.is_dir():
        raise InputFileError(f"--out {out} is a folder; give the report's file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
