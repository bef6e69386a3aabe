"""The Foot AI page of ``portfolio-ml ui``: run a clip (uploaded, on disk, or the synthetic sample)
through the same ``run_video`` as ``portfolio-ml footai run`` and show what it wrote.

Streamlit imports stay inside the functions so the plugin imports without the UI installed.
Heavy work is cached on disk under the project cache (``PORTFOLIO_ML_CACHE_DIR``): a run's folder is
named by the video's SHA-256 and the options, and counts as done once ``summary.json`` exists
(``write_outputs`` writes it last, atomically), so a repeat — in this session, another one, or after
a restart — shows the stored result instead of recomputing.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from portfolio_ml_core.fsutil import file_sha256
from portfolio_ml_core.ui import PageCache

SIZES = ("1280x720", "960x540", "640x360")
STATE_KEY = "footai_result"
# Every file `footai run` writes, with the MIME type a download needs.
OUTPUT_FILES = {
    "report.html": "text/html",
    "tracks.csv": "text/csv",
    "match_stats.csv": "text/csv",
    "summary.json": "application/json",
    "tactical_map.png": "image/png",
    "pitch_control.png": "image/png",
    "heatmap_team0.png": "image/png",
    "heatmap_team1.png": "image/png",
    "annotated.mp4": "video/mp4",
    "tactical_map.mp4": "video/mp4",
}


@dataclass(frozen=True)
class PageRun:
    """What the page shows after a run (kept in ``st.session_state`` across widget reruns)."""

    out_dir: str
    summary: dict[str, Any]
    gt_csv: str | None  # ground truth, when the clip is the synthetic sample
    cached: bool


CACHE = PageCache("footai")


def expected_frames(video: Path, start_s: float, stride: int, max_frames: int | None) -> int | None:
    """How many frames the run will process, for the progress bar (None when unknown)."""
    from portfolio_ml_core.video import VideoSource

    with VideoSource(video) as src:
        count, fps = src.frame_count, src.fps
    if not count:
        return None
    n = math.ceil(max(0, count - round(start_s * fps)) / stride)
    return min(n, max_frames) if max_frames else n


def make_sample(camera: str, seconds: float, seed: int, size: str, progress: Any = None) -> Path:
    """The synthetic sample's folder (sample.mp4, gt.csv, calibration.json), rendered once per settings."""
    from portfolio_ml_footai.synth import SampleConfig, render_sample

    w, h = (int(v) for v in size.split("x"))
    folder = CACHE.root / "samples" / f"{camera}-{seconds:g}s-seed{seed}-{size}"
    if not (folder / "calibration.json").exists():  # the last file render_sample writes
        render_sample(folder, SampleConfig(camera, seconds, seed, w, h), progress)
    return folder


def run_cached(
    video: Path,
    calibration: Path | None,
    start_s: float,
    stride: int,
    max_frames: int | None,
    write_video: bool,
    progress: Any = None,
) -> tuple[Path, dict[str, Any], bool]:
    """(output folder, summary, came from the cache) of ``footai run`` on ``video``."""
    from portfolio_ml_core.errors import InputFileError

    from portfolio_ml_footai.pipeline import RunOptions
    from portfolio_ml_footai.runner import run_video

    if not video.is_file():
        raise InputFileError(f"video not found: {video}")
    opts = RunOptions(
        calibration=calibration, start_s=start_s, max_frames=max_frames, stride=stride
    )
    options = {**asdict(opts), "write_video": write_video}
    if calibration is not None:
        options["calibration"] = file_sha256(calibration)
    out = CACHE.run_dir(video, options)
    summary_file = out / "summary.json"
    if summary_file.exists() and (out / "report.html").exists():
        return out, json.loads(summary_file.read_text(encoding="utf-8")), True
    total = expected_frames(video, start_s, stride, max_frames)

    def on_progress(done: int) -> None:
        if progress is not None:
            progress(done, total)

    from portfolio_ml_footai.io.report import write_report

    summary = run_video(video, out, opts, write_video=write_video, progress=on_progress)
    write_report(out, out / "report.html")
    return out, summary, False


def render() -> None:
    import streamlit as st
    from portfolio_ml_core.errors import PortfolioError

    st.title("Foot AI")
    st.caption(
        "Players, teams, tracks and pitch positions from a broadcast clip — a small net trained on "
        "real broadcast frames, CPU only, the same pipeline as `portfolio-ml footai run`. "
        "See docs/footai.md."
    )
    source = st.radio("Clip", ["Synthetic sample", "Upload a clip"], horizontal=True)
    sample_args: tuple[str, float, int, str] | None = None
    upload = None
    server_path = ""
    use_gt_calibration = False
    if source == "Synthetic sample":
        c1, c2, c3, c4 = st.columns(4)
        camera = c1.selectbox("Camera", ["static", "pan", "tactical"])
        seconds = c2.number_input("Seconds", min_value=1.0, max_value=60.0, value=4.0, step=1.0)
        seed = c3.number_input("Seed", min_value=0, max_value=10_000, value=0, step=1)
        size = c4.selectbox("Size", SIZES, index=SIZES.index("960x540"))
        use_gt_calibration = st.checkbox(
            "Use the sample's exact calibration (instead of the net's pitch keypoints)"
        )
        sample_args = (str(camera), float(seconds), int(seed), str(size))
    else:
        upload = st.file_uploader("Broadcast clip", type=["mp4", "mov", "avi", "mkv", "webm"])
        server_path = st.text_input("…or the path of a video on this machine")
    with st.expander("Run options"):
        o1, o2, o3 = st.columns(3)
        start_s = o1.number_input("Start (s)", min_value=0.0, value=0.0, step=1.0)
        stride = o2.number_input("Every k-th frame", min_value=1, max_value=10, value=1, step=1)
        max_frames = o3.number_input("Max frames (0 = all)", min_value=0, value=0, step=25)
        write_video = st.checkbox("Write the annotated and tactical videos", value=True)

    if st.button("Run", type="primary"):
        try:
            calibration = None
            gt_csv = None
            if sample_args is not None:
                bar = st.progress(0.0, text="Rendering the synthetic sample…")
                folder = make_sample(
                    *sample_args,
                    progress=lambda done, total: bar.progress(
                        min(1.0, done / max(1, total)), text=f"Rendering the sample: {done}/{total}"
                    ),
                )
                bar.empty()
                video = folder / "sample.mp4"
                gt_csv = str(folder / "gt.csv")
                if use_gt_calibration:
                    calibration = folder / "calibration.json"
            elif upload is not None:
                video = CACHE.save_upload(upload.name, upload.getvalue())
            elif server_path.strip():
                video = Path(server_path.strip()).expanduser()
            else:
                st.warning("Upload a clip or give a path first.")
                return
            bar = st.progress(0.0, text="Analysing…")

            def show(done: int, total: int | None) -> None:
                frac = min(1.0, done / total) if total else 0.0
                bar.progress(frac, text=f"Analysing: frame {done}" + (f"/{total}" if total else ""))

            out, summary, cached = run_cached(
                video,
                calibration,
                float(start_s),
                int(stride),
                int(max_frames) or None,
                bool(write_video),
                show,
            )
            bar.empty()
        except PortfolioError as exc:
            st.session_state.pop(STATE_KEY, None)
            st.error(exc.message)
            return
        except Exception as exc:
            st.session_state.pop(STATE_KEY, None)
            st.error(f"unexpected error: {type(exc).__name__}: {exc}")
            return
        st.session_state[STATE_KEY] = PageRun(str(out), summary, gt_csv, cached)

    result = st.session_state.get(STATE_KEY)
    if isinstance(result, PageRun):
        show_result(result)


def show_result(run: PageRun) -> None:
    import streamlit as st

    out, s = Path(run.out_dir), run.summary
    if run.cached:
        st.caption("Shown from the cache (same clip and options as an earlier run).")
    for warning in s.get("warnings", []):
        st.warning(warning)
    cols = st.columns(6)
    cols[0].metric("Frames", s["frames"])
    cols[1].metric("Frames/s", s["processing_fps"])
    cols[2].metric("Tracks", s["tracks"])
    cols[3].metric("Team 0 players", s["players_per_team"]["team0"])
    cols[4].metric("Team 1 players", s["players_per_team"]["team1"])
    cols[5].metric("Ball frames", s["ball_frames"])
    cal = s["calibration"]
    st.caption(f"Calibration: {cal['method']} — {cal['detail']}")

    st.subheader("Tactical map")
    left, right = st.columns(2)
    left.image(str(out / "tactical_map.png"), caption="Tactical map (middle frame)")
    if (out / "tactical_map.mp4").exists():
        right.video(str(out / "tactical_map.mp4"))
    st.subheader("Heatmaps")
    h0, h1 = st.columns(2)
    h0.image(str(out / "heatmap_team0.png"), caption="Team 0")
    h1.image(str(out / "heatmap_team1.png"), caption="Team 1")
    show_match_figures(out, s.get("match"))
    if (out / "annotated.mp4").exists():
        st.subheader("Annotated video")
        st.video(str(out / "annotated.mp4"))

    show_tracks(out / "tracks.csv", s.get("per_track", []))
    if run.gt_csv is not None:
        show_evaluation(run.gt_csv, str(out / "tracks.csv"))

    st.subheader("Downloads")
    present = [name for name in OUTPUT_FILES if (out / name).exists()]
    for col, name in zip(st.columns(len(present)), present, strict=True):
        col.download_button(
            name,
            (out / name).read_bytes(),
            file_name=name,
            mime=OUTPUT_FILES[name],
            key=f"footai-dl-{name}",
        )


def show_match_figures(out: Path, figures: dict[str, Any] | None) -> None:
    """Possession, pitch control and formations (summary.json's "match" section)."""
    import streamlit as st

    if not figures:
        return
    st.subheader("Match figures")

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{100 * value:.0f} %"

    poss, control, teams = figures["possession"], figures["pitch_control"], figures["teams"]
    cols = st.columns(6)
    cols[0].metric("Possession team 0", pct(poss["team0"]))
    cols[1].metric("Possession team 1", pct(poss["team1"]))
    cols[2].metric("Pitch control team 0", pct(control["team0"]))
    cols[3].metric("Pitch control team 1", pct(control["team1"]))
    for t in (0, 1):
        team = teams[f"team{t}"]
        guess = team["formation"] or "—"
        note = f"{100 * team['formation_confidence']:.0f} % sure" if team["formation"] else None
        cols[4 + t].metric(f"Team {t} formation", guess, note, delta_color="off")
    if (out / "pitch_control.png").exists():
        st.image(str(out / "pitch_control.png"), caption="Pitch control (middle frame)")
    st.caption(
        f"Possession: nearest player within {poss['radius_m']} m of the ball, over "
        f"{poss['frames_counted']} frames. Pitch control: {control['model']} model. The whole "
        "report (team shape over time, players' distances and speeds) is report.html below."
    )


def show_tracks(csv_path: Path, per_track: list[dict[str, Any]]) -> None:
    import streamlit as st

    st.subheader("Tracks")
    table = load_tracks(str(csv_path), csv_path.stat().st_mtime_ns)
    f1, f2, f3 = st.columns(3)
    teams = sorted(int(t) for t in table["team"].unique())
    roles = sorted(str(r) for r in table["role"].unique())
    ids = sorted(int(i) for i in table["track_id"].unique())
    team_pick = f1.multiselect("Team (-1 = none)", teams, default=teams)
    role_pick = f2.multiselect("Role", roles, default=roles)
    id_pick = f3.multiselect("Track id (empty = all)", ids)
    mask = table["team"].isin(team_pick) & table["role"].isin(role_pick)
    if id_pick:
        mask &= table["track_id"].isin(id_pick)
    rows = table[mask]
    st.caption(f"{len(rows)} of {len(table)} rows, {rows['track_id'].nunique()} tracks")
    st.dataframe(rows, hide_index=True, height=300)
    per = [
        p
        for p in per_track
        if p["team"] in team_pick
        and p["role"] in role_pick
        and (not id_pick or p["track_id"] in id_pick)
    ]
    if per:
        st.caption(
            "Per track: distance covered and top speed (smoothed pitch positions; only for"
            " tracks seen at least 5 s with a pitch position)"
        )
        st.dataframe(per, hide_index=True)


def load_tracks(path: str, mtime_ns: int) -> Any:
    import pandas as pd
    import streamlit as st

    @st.cache_data(show_spinner=False, max_entries=16)
    def read(path: str, mtime_ns: int) -> Any:
        return pd.read_csv(path)

    return read(path, mtime_ns)


def show_evaluation(gt_csv: str, pred_csv: str) -> None:
    import streamlit as st

    @st.cache_data(show_spinner="Scoring against the ground truth…", max_entries=16)
    def score(gt_csv: str, pred_csv: str, mtime_ns: int) -> dict[str, Any]:
        from portfolio_ml_footai.evaluate.inputs import load_prediction
        from portfolio_ml_footai.evaluate.tracks import evaluate
        from portfolio_ml_footai.io.tracks_csv import read_tracks

        pred = load_prediction(pred_csv)  # the player ids, as `footai eval` scores them
        return dict(evaluate(read_tracks(gt_csv), pred.table).to_json())

    st.subheader("Against the sample's ground truth")
    figures = score(gt_csv, pred_csv, Path(pred_csv).stat().st_mtime_ns)
    st.dataframe(
        [
            {
                "metric": k,
                "value": "—" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)),
            }
            for k, v in figures.items()
        ],
        hide_index=True,
    )
