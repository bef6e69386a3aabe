"""Exercises as data: which joint drives the count, what must be seen, thresholds, sanity limits.

An `ExerciseRule` says everything the counter needs to know about one movement; the counter
itself (`counter.RepCounter`) is the same code for every exercise. Adding an exercise means adding
a rule to `EXERCISES`, not writing a new counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.pose import PoseLandmark as LM


@dataclass(frozen=True)
class Thresholds:
    """Hysteresis thresholds on the driving angle (degrees; smaller = more flexed).

    ``top``: at or above it the body is at the top (standing / arms straight).
    ``start``: dropping below it starts a rep (``top - start`` is the hysteresis band).
    ``partial``: a rep whose deepest angle is at or below it, but not at ``bottom``, is partial.
    ``bottom``: reaching it makes the rep full depth.
    ``rebound``: rise above the deepest angle that marks the turn from going down to coming up.
    """

    top: float
    start: float
    partial: float
    bottom: float
    rebound: float = 10.0

    def __post_init__(self) -> None:
        if not self.top > self.start > self.partial > self.bottom:
            raise ValueError("thresholds must satisfy top > start > partial > bottom")


@dataclass(frozen=True)
class Limits:
    """Sanity limits that tell an exercise rep from other movement (walking, jumping, bending).

    Distances are in body-scale units (leg length ≈ 1), angles in degrees; ``None`` = no check.
    """

    min_rep_s: float = 0.5
    max_rep_s: float = 10.0
    max_torso_lean: float | None = None  # deepest point: torso angle from vertical
    min_torso_lean: float | None = None  # push-ups: the body must be near horizontal
    max_foot_lift: float | None = 0.15  # lowest ankle rising above its start: a jump
    max_foot_shift: float | None = 0.35  # an ankle sliding sideways: walking / stepping
    max_hip_drift: float | None = 0.6  # hips travelling horizontally: walking past
    min_hip_drop: float | None = None  # a full rep must lower the hips at least this much
    settle_s: float = 0.3  # feet must stay planted this long after the rep ends


FORM_CHECK_AT = ("bottom", "rep")  # where a `FormCheck` reads its metric (see there)


@dataclass(frozen=True)
class FormCheck:
    """A form fault: ``metric`` compared with ``limit``.

    ``at="bottom"``: ``metric`` is a per-frame feature (`PoseSample.metrics`) read at the
    deepest point of the rep. ``at="rep"``: ``metric`` is a timing of the whole rep
    (``descent_s``: from leaving the top to the deepest point).
    """

    name: str
    metric: str
    limit: float
    above: bool  # True: a fault when the metric exceeds the limit; False: when below it
    message: str
    at: str = "bottom"
    front_view_only: bool = False

    def __post_init__(self) -> None:
        if self.at not in FORM_CHECK_AT:
            known = ", ".join(repr(a) for a in FORM_CHECK_AT)
            raise ValueError(f"form check {self.name!r}: at={self.at!r} is not one of {known}")


@dataclass(frozen=True)
class ExerciseRule:
    """One exercise, described as data.

    ``joint``: (proximal, vertex, distal) landmarks of the LEFT side; the right side is mirrored.
    ``required``: landmarks (left side; mirrored too) that must be visible on a side to use it.
    ``use_extension``: also estimate the joint angle from the proximal–distal distance (law of
    cosines, segment lengths taken as equal). In a front view the 2D knee angle hardly changes
    while the hip–ankle distance shrinks, so this is what makes front-view squats countable.
    """

    name: str
    description: str
    joint: tuple[LM, LM, LM]
    required: tuple[LM, ...]
    presets: dict[str, Thresholds]
    limits: Limits = field(default_factory=Limits)
    form_checks: tuple[FormCheck, ...] = ()
    use_extension: bool = True
    default_preset: str = "beginner"

    @property
    def joint_name(self) -> str:
        """The driving joint in words ("knee", "elbow")."""
        return self.joint[1].name.split("_", 1)[1].lower()

    def thresholds(self, preset: str | None = None) -> Thresholds:
        name = preset or self.default_preset
        try:
            return self.presets[name]
        except KeyError:
            known = ", ".join(sorted(self.presets))
            raise PortfolioError(
                f"unknown preset {name!r} for {self.name} (known: {known})"
            ) from None


def mirror(landmark: LM) -> LM:
    """The right-side twin of a left-side landmark (and vice versa); centre ones map to themselves."""
    name = landmark.name
    if name.startswith("LEFT_"):
        return LM[name.replace("LEFT_", "RIGHT_", 1)]
    if name.startswith("RIGHT_"):
        return LM[name.replace("RIGHT_", "LEFT_", 1)]
    return landmark


_LEG = (LM.LEFT_HIP, LM.LEFT_KNEE, LM.LEFT_ANKLE)

SQUAT = ExerciseRule(
    name="squat",
    description="Squat: knees and hips bend together, feet planted, torso fairly upright.",
    joint=_LEG,
    required=_LEG,
    presets={
        # beginner: a rep counts from a bit above parallel; pro: parallel or deeper.
        "beginner": Thresholds(top=155, start=145, partial=135, bottom=110),
        "pro": Thresholds(top=160, start=150, partial=130, bottom=95),
    },
    limits=Limits(
        # Time spent below the top threshold: ~70 % of a full cycle; fast sets do ~0.7 s cycles.
        min_rep_s=0.35,
        max_rep_s=12.0,
        max_torso_lean=70.0,  # low-bar squats lean ~50–60°; picking things up leans further
        max_foot_lift=0.15,
        max_foot_shift=0.35,
        max_hip_drift=0.6,
        min_hip_drop=0.12,
    ),
    form_checks=(
        FormCheck("torso_lean", "torso_lean", 45.0, True, "keep your chest up"),
        FormCheck(
            "knees_in",
            "knee_width_ratio",
            0.8,
            False,
            "push your knees out",
            front_view_only=True,
        ),
        FormCheck("asymmetry", "left_right_diff", 20.0, True, "shift weight evenly", at="bottom"),
        FormCheck("too_fast", "descent_s", 0.4, False, "slow down the descent", at="rep"),
    ),
)

PUSHUP = ExerciseRule(
    name="pushup",
    description="Push-up: elbows bend and straighten with the body held in a line near horizontal.",
    joint=(LM.LEFT_SHOULDER, LM.LEFT_ELBOW, LM.LEFT_WRIST),
    required=(LM.LEFT_SHOULDER, LM.LEFT_ELBOW, LM.LEFT_WRIST, LM.LEFT_HIP),
    presets={
        "beginner": Thresholds(top=150, start=140, partial=125, bottom=105),
        "pro": Thresholds(top=160, start=150, partial=120, bottom=90),
    },
    limits=Limits(
        min_rep_s=0.4,
        max_rep_s=10.0,
        min_torso_lean=50.0,
        max_foot_lift=None,  # feet are behind the body, often out of view
        max_foot_shift=None,
        max_hip_drift=0.5,
        min_hip_drop=None,
        settle_s=0.0,
    ),
    form_checks=(
        FormCheck("hips_sag", "body_line", 155.0, False, "keep your body in a straight line"),
    ),
    use_extension=False,  # upper arm and forearm differ too much for the equal-segment estimate
)

LUNGE = ExerciseRule(
    name="lunge",
    description="Lunge / split squat: both knees bend with the feet split front and back.",
    joint=_LEG,
    required=_LEG,
    presets={
        "beginner": Thresholds(top=155, start=145, partial=135, bottom=115),
        "pro": Thresholds(top=160, start=150, partial=130, bottom=100),
    },
    limits=Limits(
        min_rep_s=0.4,
        max_rep_s=12.0,
        max_torso_lean=45.0,
        max_foot_lift=0.2,
        max_foot_shift=None,  # forward lunges step
        max_hip_drift=None,
        min_hip_drop=0.08,
    ),
    form_checks=(
        FormCheck("torso_lean", "torso_lean", 25.0, True, "keep your torso upright"),
        FormCheck("too_fast", "descent_s", 0.4, False, "control the descent", at="rep"),
    ),
)

EXERCISES: dict[str, ExerciseRule] = {rule.name: rule for rule in (SQUAT, PUSHUP, LUNGE)}


def get_exercise(name: str) -> ExerciseRule:
    try:
        return EXERCISES[name.lower().replace("-", "")]
    except KeyError:
        known = ", ".join(sorted(EXERCISES))
        raise PortfolioError(f"unknown exercise {name!r} (known: {known})") from None
