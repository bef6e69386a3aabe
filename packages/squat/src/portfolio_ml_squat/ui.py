"""The squat page of ``portfolio-ml ui``: count reps in a video (upload or a path on this machine),
or live from the browser's camera.

File mode runs ``analyze_video`` — the function behind ``portfolio-ml squat run`` — and shows what it
wrote: the counts, the angle plot with every rep marked, the annotated video, a rep table and form
feedback. Runs are cached on disk (project cache, ``PORTFOLIO_ML_CACHE_DIR``) in a folder named by
the video's SHA-256 and the options; ``summary.json`` is written last, so its presence means done.
Live mode (needs ``streamlit-webrtc``) feeds each camera frame through the same ``FrameAnalyzer``
and ``draw_hud`` as ``squat live``. Streamlit imports stay inside the functions.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portfolio_ml_core.ui import PageCache

STATE_KEY = "squat_result"
OUTPUT_FILES = {
    "summary.json": "application/json",
    "frames.csv": "text/csv",
    "angles.png": "image/png",
    "annotated.mp4": "video/mp4",
}


@dataclass(frozen=True)
class PageRun:
    out_dir: str
    summary: dict[str, Any]
    cached: bool


CACHE = PageCache("squat")


def run_cached(
    video: Path, exercise: str, preset: str, write_video: bool
) -> tuple[Path, dict[str, Any], bool]:
    """(output folder, summary.json, came from the cache) of ``squat run`` on ``video``."""
    from portfolio_ml_core.errors import InputFileError
    from portfolio_ml_core.models import resolve_model

    from portfolio_ml_squat.pipeline import RunConfig, analyze_video

    if not video.is_file():
        raise InputFileError(f"video not found: {video}")
    model = resolve_model("pose_landmarker_full")
    options = {"exercise": exercise, "preset": preset, "video": write_video, "model": model.name}
    out = CACHE.run_dir(video, options)
    if (out / "summary.json").exists():
        return out, json.loads((out / "summary.json").read_text(encoding="utf-8")), True
    config = RunConfig(exercise=exercise, preset=preset, write_video=write_video)
    result = analyze_video(video, out, model, config)
    return out, result.summary(), False


def preload_webrtc() -> bool:
    """Import streamlit-webrtc now if that is still safe; True when it is loaded.

    Its SRTP library crashes the process (SIGSEGV in ``srtp_init``) when imported after
    TensorFlow, which loads its own BoringSSL with global symbols; the other order is fine.
    The UI registers pages before any page runs, so importing it here puts it first even
    when the CIFAR page (TensorFlow) is opened before the live mode.
    """
    if "pylibsrtp" in sys.modules:
        return True
    if "tensorflow" in sys.modules:
        return False
    try:
        import streamlit_webrtc  # noqa: F401
    except ImportError:
        return False
    return True


def render() -> None:
    import streamlit as st
    from portfolio_ml_core.errors import PortfolioError

    from portfolio_ml_squat.exercises import EXERCISES

    st.title("Rep counter")
    st.caption("MediaPipe Pose → angles → a state machine per exercise rule. See docs/squat.md.")
    names = sorted(EXERCISES)
    c1, c2, c3 = st.columns([2, 2, 3])
    exercise = c1.selectbox("Exercise", names, index=names.index("squat"))
    preset = c2.radio("Preset", ["beginner", "pro"], horizontal=True)
    mode = c3.radio("Source", ["Video file", "Live camera"], horizontal=True)
    if mode == "Live camera":
        render_live(str(exercise), str(preset))
        return
    upload = st.file_uploader("Video", type=["mp4", "mov", "avi", "mkv", "webm"])
    server_path = st.text_input("…or the path of a video on this machine")
    write_video = st.checkbox("Write the annotated video", value=True)
    if st.button("Count reps", type="primary"):
        try:
            if upload is not None:
                source = CACHE.save_upload(upload.name, upload.getvalue())
            elif server_path.strip():
                source = Path(server_path.strip()).expanduser()
            else:
                st.warning("Upload a video or give a path first.")
                return
            with st.spinner("Counting…"):
                out, summary, cached = run_cached(
                    source, str(exercise), str(preset), bool(write_video)
                )
        except PortfolioError as exc:
            st.session_state.pop(STATE_KEY, None)
            st.error(exc.message)
            return
        except Exception as exc:  # a page shows a message, never a traceback
            st.session_state.pop(STATE_KEY, None)
            st.error(f"unexpected error: {type(exc).__name__}: {exc}")
            return
        st.session_state[STATE_KEY] = PageRun(str(out), summary, cached)
    result = st.session_state.get(STATE_KEY)
    if isinstance(result, PageRun):
        show_result(result)


def rep_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Counted, partial and rejected reps in time order, one table row each."""
    events = [
        *summary.get("rep_details", []),
        *summary.get("partial_details", []),
        *summary.get("rejected_details", []),
    ]
    return [
        {
            "kind": e["kind"],
            "#": e["index"] or "",
            "start_s": e["start_s"],
            "bottom_s": e["bottom_s"],
            "end_s": e["end_s"],
            "duration_s": e["duration_s"],
            "min_angle": e["min_angle"],
            "depth_%": round(100 * e["depth"]),
            "faults": ", ".join(e["faults"]) or "—",
            "note": e.get("reason", ""),
        }
        for e in sorted(events, key=lambda e: e["start_s"])
    ]


def feedback_lines(summary: dict[str, Any]) -> list[str]:
    """One plain sentence per rep: clean, or which form faults were seen at the bottom."""
    lines = []
    for e in summary.get("rep_details", []):
        faults = ", ".join(f.replace("_", " ") for f in e["faults"])
        lines.append(
            f"Rep {e['index']} ({e['start_s']:.1f}–{e['end_s']:.1f} s): "
            + (f"watch out: {faults}" if faults else "clean, depth reached")
        )
    for e in summary.get("partial_details", []):
        lines.append(
            f"Partial rep {e['index']} ({e['start_s']:.1f}–{e['end_s']:.1f} s): "
            f"only {100 * e['depth']:.0f}% of the target depth — go lower"
        )
    return lines


def show_result(run: PageRun) -> None:
    import streamlit as st

    out, s = Path(run.out_dir), run.summary
    if run.cached:
        st.caption("Shown from the cache (same video and options as an earlier run).")
    for warning in s.get("warnings", []):
        st.warning(warning)
    cols = st.columns(4)
    cols[0].metric("Reps", s["reps"])
    cols[1].metric("Partial reps", s["partial_reps"])
    cols[2].metric("Rejected", s["rejected"])
    cols[3].metric("Frames/s", f"{s['fps_processed']:.0f}")
    if (out / "angles.png").exists():
        st.image(str(out / "angles.png"), caption="Driving angle over time, every rep marked")
    rows = rep_rows(s)
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Reps")
        if rows:
            st.dataframe(rows, hide_index=True)
        else:
            st.caption("No rep was started.")
    with right:
        st.subheader("Form feedback")
        lines = feedback_lines(s)
        st.markdown("\n".join(f"- {line}" for line in lines) if lines else "Nothing to judge yet.")
    if (out / "annotated.mp4").exists():
        st.subheader("Annotated video")
        st.columns(2)[0].video(str(out / "annotated.mp4"))  # half width: phone clips are tall
    present = [name for name in OUTPUT_FILES if (out / name).exists()]
    for col, name in zip(st.columns(len(present)), present, strict=True):
        col.download_button(
            name,
            (out / name).read_bytes(),
            file_name=name,
            mime=OUTPUT_FILES[name],
            key=f"squat-dl-{name}",
        )


class LiveCounter:
    """Camera frames → pose → a `Session` → HUD, as ``squat live`` does, one frame at a time.

    streamlit-webrtc calls ``process`` from its own thread; the reps are read from the page.
    """

    def __init__(self, model: Path, exercise: str, preset: str) -> None:
        from portfolio_ml_squat.live import LiveConfig
        from portfolio_ml_squat.session import Session

        self.model = model
        self.session = Session(exercise, preset)
        self.rule = self.session.rule
        self.pose_size = LiveConfig().pose_size  # the same pose input as `squat live`
        self.pose: Any = None
        self.start = time.monotonic()
        self.lock = threading.Lock()
        self.reps = 0
        self.partial_reps = 0
        self.frames = 0

    def process(self, image_bgr: Any) -> Any:
        from portfolio_ml_core.pose import PoseEstimator

        from portfolio_ml_squat.overlay import draw_hud
        from portfolio_ml_squat.pipeline import pose_input

        with self.lock:
            if self.pose is None:
                self.pose = PoseEstimator(self.model, mode="video")
            t = time.monotonic() - self.start
            image = pose_input(image_bgr, self.pose_size)
            people = self.pose.process(image, round(t * 1000))
            person, sample, update = self.session.step(self.frames, t, people)
            self.reps, self.partial_reps = update.reps, update.partial_reps
            self.frames += 1
            canvas = image.copy() if image is image_bgr else image
            return draw_hud(
                canvas, person, sample, update, exercise=self.rule.name, joint=self.rule.joint_name
            )

    def close(self) -> None:
        with self.lock:
            if self.pose is not None:
                self.pose.close()
                self.pose = None


def render_live(exercise: str, preset: str) -> None:
    import streamlit as st
    from portfolio_ml_core.errors import PortfolioError
    from portfolio_ml_core.models import resolve_model

    if not preload_webrtc():
        if "tensorflow" in sys.modules:
            st.error(
                "live mode unavailable in this server process: TensorFlow was loaded before "
                "streamlit-webrtc (they crash in that order); restart `portfolio-ml ui`."
            )
        else:
            st.info(
                "Live mode needs streamlit-webrtc (`uv sync` installs it); the file mode works."
            )
        return
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    try:
        model = resolve_model("pose_landmarker_full")
    except PortfolioError as exc:
        st.error(exc.message)
        return
    st.caption(
        "Your browser's camera, counted on this machine. Stand side-on, whole body in the picture. "
        "Needs a browser with WebRTC and camera permission (localhost or HTTPS)."
    )
    # One counter per exercise/preset in this browser session, kept across reruns.
    key = f"squat-live-{exercise}-{preset}"
    state_key = f"{key}-counter"  # streamlit-webrtc keeps its own state under ``key``
    counter = st.session_state.get(state_key)
    if not isinstance(counter, LiveCounter):
        counter = LiveCounter(model, exercise, preset)
        st.session_state[state_key] = counter

    def on_frame(frame: Any) -> Any:
        import av

        out = counter.process(frame.to_ndarray(format="bgr24"))
        return av.VideoFrame.from_ndarray(out, format="bgr24")

    try:
        ctx = webrtc_streamer(
            key=key,
            mode=WebRtcMode.SENDRECV,
            video_frame_callback=on_frame,
            media_stream_constraints={"video": True, "audio": False},
            # No STUN server: the browser and this server meet on their own addresses, offline.
            rtc_configuration={"iceServers": []},
            async_processing=True,
        )
    except Exception as exc:  # the file mode must stay usable whatever the live stack does
        st.error(f"live mode unavailable: {type(exc).__name__}: {exc}")
        return
    counts = st.empty()

    def show_counts() -> None:
        with counts.container():
            cols = st.columns(3)
            cols[0].metric("Reps", counter.reps)
            cols[1].metric("Partial reps", counter.partial_reps)
            cols[2].metric("Frames seen", counter.frames)

    show_counts()
    if st.button("Reset the count"):
        counter.close()
        st.session_state[state_key] = LiveCounter(model, exercise, preset)
        st.rerun()
    # streamlit-webrtc's pattern: refresh while the stream plays; any interaction (STOP
    # included) starts a new script run, which ends this loop.
    while ctx.state.playing:
        time.sleep(0.5)
        show_counts()
