"""The squat page of ``portfolio-ml ui``: count reps in an uploaded video (or a server path)."""

from __future__ import annotations


def render() -> None:
    import tempfile
    from pathlib import Path

    import streamlit as st
    from portfolio_ml_core.errors import PortfolioError
    from portfolio_ml_core.models import resolve_model

    from portfolio_ml_squat.exercises import EXERCISES
    from portfolio_ml_squat.pipeline import RunConfig, analyze_video

    st.title("Rep counter")
    st.caption("MediaPipe Pose → angles → a state machine per exercise rule. See docs/squat.md.")
    exercise = st.selectbox("Exercise", sorted(EXERCISES), index=sorted(EXERCISES).index("squat"))
    preset = st.radio("Preset", ["beginner", "pro"], horizontal=True)
    upload = st.file_uploader("Video", type=["mp4", "mov", "avi", "mkv", "webm"])
    server_path = st.text_input("…or the path of a video on this machine")
    if not st.button("Count reps", type="primary"):
        return
    work = Path(tempfile.mkdtemp(prefix="squat-ui-"))
    if upload is not None:
        source = work / Path(upload.name).name
        source.write_bytes(upload.getvalue())
    elif server_path.strip():
        source = Path(server_path.strip()).expanduser()
    else:
        st.warning("Upload a video or give a path first.")
        return
    try:
        model = resolve_model("pose_landmarker_full")
        with st.spinner("Counting…"):
            config = RunConfig(exercise=exercise, preset=preset)
            result = analyze_video(source, work / "out", model, config)
    except PortfolioError as exc:
        st.error(exc.message)
        return
    for warning in result.warnings:
        st.warning(warning)
    cols = st.columns(3)
    cols[0].metric("Reps", result.reps)
    cols[1].metric("Partial reps", result.partial_reps)
    cols[2].metric("Frames/s", f"{result.fps_processed:.0f}")
    st.image(str(work / "out" / "angles.png"))
    video = work / "out" / "annotated.mp4"
    if video.exists():
        st.video(str(video))
    if result.events:
        st.dataframe([e.to_dict() for e in result.events])
