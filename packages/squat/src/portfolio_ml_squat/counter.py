"""The rep counter: a small state machine fed with `PoseSample`s, one per frame.

    ready ──top──▶ top ──< start──▶ descending ──≤ bottom──▶ bottom
                    ▲                   │ (turns early: partial)   │ rebound
                    │                   ▼                          ▼
                    └────────── ≥ top ◀───────── ascending ◀───────┘

A rep is a trip from the top down and back. When it ends it is classified — full (reached
``bottom``), partial (reached ``partial`` only) or a dip (ignored) — and vetted against the
exercise's `Limits`: plausible duration, torso angle, feet planted (before, during and shortly
after the rep, so a jump's take-off or landing is not a squat), hips not travelling (walking),
hips actually lowered. A rep that passes is announced after ``settle_s`` (the time it takes to
see that the feet stayed down); one that fails is reported as rejected with the reason.

Frames without a usable pose pause the machine; a gap longer than ``max_gap_s`` abandons the
rep in progress and waits for the top position again, as does a new person taking over.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from portfolio_ml_core.smoothing import OneEuroFilter

from portfolio_ml_squat.exercises import ExerciseRule, FormCheck, Thresholds
from portfolio_ml_squat.features import PoseSample


def _finite_median(values: np.ndarray) -> float:
    """Median of the finite values; NaN when there are none (a foot that is not watched)."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else math.nan


class Phase(StrEnum):
    READY = "ready"  # waiting to see the top position
    TOP = "top"  # standing (squat, lunge) / arms straight (push-up)
    DESCENDING = "descending"
    BOTTOM = "bottom"
    ASCENDING = "ascending"
    PAUSED = "paused"  # key landmarks not visible


class RepKind(StrEnum):
    FULL = "rep"
    PARTIAL = "partial"
    REJECTED = "rejected"


@dataclass(frozen=True)
class RepEvent:
    """One finished rep (counted, partial or rejected)."""

    kind: RepKind
    index: int  # 1-based number among reps of its kind (0 for rejected)
    start_s: float
    bottom_s: float
    end_s: float
    min_angle: float
    depth: float  # (top − min angle) / (top − bottom): 1.0 = reached the target depth
    faults: tuple[str, ...] = ()
    reason: str = ""  # why it was rejected
    cut_short: bool = False  # the input ended while this rep was rising back to the top

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "index": self.index,
            "start_s": round(self.start_s, 3),
            "bottom_s": round(self.bottom_s, 3),
            "end_s": round(self.end_s, 3),
            "duration_s": round(self.duration_s, 3),
            "min_angle": round(self.min_angle, 1),
            "depth": round(self.depth, 3),
            "depth_reached": self.kind is RepKind.FULL,
            "faults": list(self.faults),
            "reason": self.reason,
            "cut_short": self.cut_short,
        }


@dataclass(frozen=True)
class CounterUpdate:
    """The counter's state after one sample."""

    t: float
    phase: Phase
    angle: float  # smoothed driving angle (NaN while paused)
    reps: int
    partial_reps: int
    progress: float  # 0 at the top … 1 at target depth (for the gauge)
    rep_index: int  # number of the rep in progress (0 when none), for frames.csv
    events: tuple[RepEvent, ...] = ()
    messages: tuple[str, ...] = ()  # live form feedback for the rep in progress / just done


@dataclass
class _Rep:
    """Book-keeping for the rep in progress."""

    start_t: float
    base_hip_x: float
    base_hip_y: float
    base_foot_y: float
    base_ankle_x: tuple[float, float]
    scale: float
    pre_foot_range: float
    min_angle: float = math.inf
    bottom_t: float = 0.0
    bottom_metrics: dict[str, float] = field(default_factory=dict)
    bottom_frontal: float = 0.0
    max_foot_lift: float = 0.0
    max_foot_shift: float = 0.0
    max_hip_drift: float = 0.0
    max_hip_drop: float = 0.0
    turn_high: float = -math.inf  # highest angle while ascending (to spot a re-descent)
    turn_t: float = 0.0
    end_t: float = 0.0


@dataclass
class _Pending:
    rep: _Rep
    kind: RepKind
    faults: tuple[str, ...]
    confirm_at: float


class RepCounter:
    """Counts reps of one exercise from per-frame samples.

    >>> counter = RepCounter(get_exercise("squat"), preset="beginner")
    >>> for sample in samples:
    ...     update = counter.update(sample)
    ...     for event in update.events: ...
    """

    _rep: _Rep | None
    _pending: list[_Pending]
    _top: tuple[float, float, float, float, tuple[float, float], float] | None
    _last_seen: float | None
    phase: Phase
    _resume_phase: Phase

    def __init__(
        self,
        rule: ExerciseRule,
        preset: str | None = None,
        *,
        max_gap_s: float = 0.5,
        min_cutoff: float = 1.0,
        beta: float = 0.02,
    ) -> None:
        self.rule = rule
        self.thresholds: Thresholds = rule.thresholds(preset)
        self.max_gap_s = max_gap_s
        self._min_cutoff = min_cutoff
        self._beta = beta
        self.reset()

    # -- public ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (counts included)."""
        self.reps = 0
        self.partial_reps = 0
        self.rejected = 0
        self.events: list[RepEvent] = []
        self._restart()

    def finish(self, t: float) -> CounterUpdate:
        """The input ended (the file, or a live session stopped by the user) at time ``t``.

        Reps waiting out their settle window are confirmed (no later frame can show a jump),
        and a rep in progress that already reached the target depth counts, marked
        ``cut_short``: a lifter who ends the clip on the way up did that rep.
        """
        events: list[RepEvent] = []
        for p in self._pending:
            self._confirm(p, events)
        self._pending = []
        rep = self._rep
        in_rep = self.phase in (Phase.DESCENDING, Phase.BOTTOM, Phase.ASCENDING) or (
            self.phase is Phase.PAUSED
            and self._resume_phase in (Phase.BOTTOM, Phase.ASCENDING, Phase.DESCENDING)
        )
        if rep is not None and in_rep and rep.min_angle <= self.thresholds.bottom:
            rep.end_t = t
            reason = self._implausible(rep, RepKind.FULL, cut_short=True)
            if reason:
                self._reject(rep, reason, events)
            else:
                self._confirm(
                    _Pending(rep, RepKind.FULL, self._faults(rep), t), events, cut_short=True
                )
        self._rep = None
        self.phase = Phase.READY
        return self._update(t, math.nan, events)

    def lose_track(self) -> None:
        """Another person (or nobody) is now in view: drop the rep in progress, keep the counts."""
        self._restart()

    def update(self, sample: PoseSample) -> CounterUpdate:
        t = sample.t
        events: list[RepEvent] = []
        if not sample.visible or not math.isfinite(sample.scale):
            return self._on_missing(t, events)
        if self._last_seen is not None and t - self._last_seen > self.max_gap_s:
            # Too long unseen to trust continuity: the person may have changed or moved.
            self._abandon(t, events, "lost sight of the person")
            self._filters_reset()
        self._last_seen = t

        # A short running median first: one-frame landmark glitches (a reflection, a limb
        # swapped for a frame) must not reach the thresholds; One-Euro then removes jitter.
        self._angle_window.append(sample.angle)
        angle = float(self._angle_filter(float(np.median(self._angle_window)), t))
        self._pos_window.append(
            np.array([sample.hip_x, sample.hip_y, sample.foot_y, *sample.ankle_x])
        )
        window = np.array(self._pos_window)
        hip_x, hip_y, foot_y = (float(v) for v in self._pos_filter(np.median(window[:, :3], 0), t))
        ank_l, ank_r = (_finite_median(column) for column in window[:, 3:].T)
        scale = float(self._scale_filter(sample.scale, t))
        self._foot_history.append((t, foot_y))
        while self._foot_history and self._foot_history[0][0] < t - 0.6:
            self._foot_history.popleft()
        top, start, partial = self._effective_thresholds(t, angle)

        self._check_pending(t, foot_y, events)
        th = self.thresholds
        phase = self.phase
        if phase is Phase.PAUSED:
            phase = self._resume_phase
        if self._rep is not None and t - self._rep.start_t > self.rule.limits.max_rep_s:
            # Sitting down, lying down, or stopping mid-rep: not a rep; wait for the top again.
            self._abandon(t, events, "held too long")
            phase = Phase.READY

        if phase is Phase.READY and angle >= top:
            phase = Phase.TOP
        if phase is Phase.TOP:
            if angle >= top:
                self._top = (t, hip_x, hip_y, foot_y, (ank_l, ank_r), scale)
            elif angle < start and self._top is not None:
                self._begin_rep()
                phase = Phase.DESCENDING
        rep = self._rep
        if rep is not None and phase in (Phase.DESCENDING, Phase.BOTTOM, Phase.ASCENDING):
            self._track(rep, sample, t, angle, hip_x, hip_y, foot_y, (ank_l, ank_r))
            if phase is Phase.DESCENDING:
                if angle <= th.bottom:
                    phase = Phase.BOTTOM
                elif angle >= rep.min_angle + th.rebound:
                    phase = Phase.ASCENDING
            elif phase is Phase.BOTTOM and angle >= rep.min_angle + th.rebound:
                phase = Phase.ASCENDING
            elif phase is Phase.ASCENDING:
                if angle >= top:
                    self._finish_rep(t, partial, events)
                    phase = Phase.TOP
                    self._top = (t, hip_x, hip_y, foot_y, (ank_l, ank_r), scale)
                elif angle <= th.bottom:
                    phase = Phase.BOTTOM
                elif angle <= rep.turn_high - th.rebound:
                    if rep.turn_high >= start:
                        # Came most of the way up and went down again without locking out:
                        # the rep ended at the turn, and the next one starts there.
                        self._finish_rep(rep.turn_t, partial, events)
                        self._top = (t, hip_x, hip_y, foot_y, (ank_l, ank_r), scale)
                        self._begin_rep()
                        assert self._rep is not None
                        self._track(
                            self._rep, sample, t, angle, hip_x, hip_y, foot_y, (ank_l, ank_r)
                        )
                        phase = Phase.DESCENDING
                    else:  # a bounce low down: still the same rep
                        phase = Phase.DESCENDING
            if phase is Phase.ASCENDING and self._rep is not None:
                if angle >= self._rep.turn_high:
                    self._rep.turn_high, self._rep.turn_t = angle, t
            elif self._rep is not None:
                self._rep.turn_high, self._rep.turn_t = -math.inf, t
        self.phase = phase
        return self._update(t, angle, events)

    def _effective_thresholds(self, t: float, angle: float) -> tuple[float, float, float]:
        """Top/start/partial thresholds adapted to how straight this person's limbs read.

        Some bodies (and some views) never read the nominal top angle when standing; the top
        follows the highest recent angle down to 15° below nominal, never lower.
        """
        th = self.thresholds
        self._recent.append((t, angle))
        while self._recent and self._recent[0][0] < t - 4.0:
            self._recent.popleft()
        ref = max(a for _, a in self._recent)
        top = max(th.top - 15.0, min(th.top, ref - 5.0))
        start = top - (th.top - th.start)
        partial = min(th.partial, start - 10.0)
        return top, start, partial

    # -- internals -------------------------------------------------------------------------
    def _restart(self) -> None:
        self.phase = Phase.READY
        self._rep = None
        self._pending = []
        self._top = None
        self._last_seen = None
        self._resume_phase = Phase.READY
        self._messages: tuple[str, ...] = ()
        self._filters_reset()

    def _filters_reset(self) -> None:
        self._angle_filter = OneEuroFilter(min_cutoff=self._min_cutoff, beta=self._beta)
        self._pos_filter = OneEuroFilter(min_cutoff=3.0, beta=0.0)
        self._scale_filter = OneEuroFilter(min_cutoff=0.5, beta=0.0)
        self._foot_history: deque[tuple[float, float]] = deque()
        self._recent: deque[tuple[float, float]] = deque()
        self._angle_window: deque[float] = deque(maxlen=3)
        self._pos_window: deque[np.ndarray] = deque(maxlen=5)

    def _on_missing(self, t: float, events: list[RepEvent]) -> CounterUpdate:
        if self.phase is not Phase.PAUSED:
            self._resume_phase = self.phase
            self.phase = Phase.PAUSED
        if self._last_seen is not None and t - self._last_seen > self.max_gap_s:
            if self._rep is not None:
                self._abandon(t, events, "lost sight of the person")
                self.phase = Phase.PAUSED
            self._resume_phase = Phase.READY
            self._top = None
        # A rep waiting out its settle window while unseen is still confirmed: no jump was seen.
        self._check_pending(t, None, events)
        return self._update(t, math.nan, events)

    def _begin_rep(self) -> None:
        assert self._top is not None
        top_t, hx, hy, fy, ax, scale = self._top
        recent = [v for (tt, v) in self._foot_history if tt >= top_t - 0.5]
        pre_range = (max(recent) - min(recent)) / scale if recent else 0.0
        self._rep = _Rep(
            start_t=top_t,
            base_hip_x=hx,
            base_hip_y=hy,
            base_foot_y=fy,
            base_ankle_x=ax,
            scale=scale,
            pre_foot_range=pre_range,
            turn_t=top_t,
        )

    def _track(
        self,
        rep: _Rep,
        sample: PoseSample,
        t: float,
        angle: float,
        hip_x: float,
        hip_y: float,
        foot_y: float,
        ankle_x: tuple[float, float],
    ) -> None:
        s = rep.scale
        rep.max_foot_lift = max(rep.max_foot_lift, abs(rep.base_foot_y - foot_y) / s)
        for now, base in zip(ankle_x, rep.base_ankle_x, strict=True):
            if math.isfinite(now) and math.isfinite(base):
                rep.max_foot_shift = max(rep.max_foot_shift, abs(now - base) / s)
        rep.max_hip_drift = max(rep.max_hip_drift, abs(hip_x - rep.base_hip_x) / s)
        rep.max_hip_drop = max(rep.max_hip_drop, (hip_y - rep.base_hip_y) / s)
        if angle < rep.min_angle:
            rep.min_angle = angle
            rep.bottom_t = t
            rep.bottom_metrics = dict(sample.metrics)
            rep.bottom_frontal = sample.frontal
            self._messages = tuple(
                c.message for c in self.rule.form_checks if c.at == "bottom" and self._fault(c, rep)
            )

    def _finish_rep(self, t: float, partial: float, events: list[RepEvent]) -> None:
        rep = self._rep
        assert rep is not None
        rep.end_t = t
        self._rep = None
        if rep.min_angle <= self.thresholds.bottom:
            kind = RepKind.FULL
        elif rep.min_angle <= partial:
            kind = RepKind.PARTIAL
        else:
            return  # a dip within the noise band of the top: not a rep at all
        reason = self._implausible(rep, kind)
        if reason:
            self._reject(rep, reason, events)
            return
        limits = self.rule.limits
        settle = limits.settle_s if limits.max_foot_lift is not None else 0.0
        self._pending.append(_Pending(rep, kind, self._faults(rep), confirm_at=t + settle))
        self._check_pending(t, None, events)

    def _check_pending(self, t: float, foot_y: float | None, events: list[RepEvent]) -> None:
        limit = self.rule.limits.max_foot_lift
        still: list[_Pending] = []
        for p in self._pending:
            lifted = (
                foot_y is not None
                and limit is not None
                and (abs(p.rep.base_foot_y - foot_y) / p.rep.scale > limit)
            )
            if lifted:
                self._reject(p.rep, "feet left the ground (jump)", events)
                continue
            if t >= p.confirm_at:
                self._confirm(p, events)
            else:
                still.append(p)
        self._pending = still

    def _confirm(self, p: _Pending, events: list[RepEvent], cut_short: bool = False) -> None:
        if p.kind is RepKind.FULL:
            self.reps += 1
            index = self.reps
        else:
            self.partial_reps += 1
            index = self.partial_reps
        event = self._event(p.rep, p.kind, index, faults=p.faults, cut_short=cut_short)
        self.events.append(event)
        events.append(event)
        by_name = {c.name: c.message for c in self.rule.form_checks}
        messages = [by_name[f] for f in p.faults if f in by_name]
        if p.kind is RepKind.PARTIAL:
            messages.insert(0, "go deeper")
        self._messages = tuple(messages) or ("good rep",)

    def _reject(self, rep: _Rep, reason: str, events: list[RepEvent]) -> None:
        self.rejected += 1
        event = self._event(rep, RepKind.REJECTED, 0, reason=reason)
        self.events.append(event)
        events.append(event)
        self._messages = (f"not counted: {reason}",)

    def _abandon(self, t: float, events: list[RepEvent], reason: str) -> None:
        rep = self._rep
        if rep is not None and rep.min_angle <= self.thresholds.partial:
            rep.end_t = t
            self._reject(rep, reason, events)
        self._rep = None
        self._top = None
        self.phase = Phase.READY

    def _event(
        self,
        rep: _Rep,
        kind: RepKind,
        index: int,
        *,
        faults: tuple[str, ...] = (),
        reason: str = "",
        cut_short: bool = False,
    ) -> RepEvent:
        th = self.thresholds
        depth = (th.top - rep.min_angle) / (th.top - th.bottom)
        return RepEvent(
            kind=kind,
            index=index,
            start_s=rep.start_t,
            bottom_s=rep.bottom_t,
            end_s=rep.end_t,
            min_angle=rep.min_angle,
            depth=float(depth),
            faults=faults,
            reason=reason,
            cut_short=cut_short,
        )

    def _implausible(self, rep: _Rep, kind: RepKind, cut_short: bool = False) -> str:
        """Why this trip down and up is not a rep of the exercise ('' when it is)."""
        lim = self.rule.limits
        duration = rep.end_t - rep.start_t
        if duration < lim.min_rep_s and not cut_short:  # a cut rep is short by nature
            return f"too quick ({duration:.2f} s)"
        if duration > lim.max_rep_s:
            return f"too slow ({duration:.1f} s)"
        lean = rep.bottom_metrics.get("torso_lean", math.nan)
        if lim.max_torso_lean is not None and lean > lim.max_torso_lean:
            return f"bent over ({lean:.0f}° torso lean)"
        if lim.min_torso_lean is not None and not lean >= lim.min_torso_lean:
            return f"body not horizontal ({lean:.0f}° from vertical)"
        if lim.max_foot_lift is not None and (
            rep.max_foot_lift > lim.max_foot_lift or rep.pre_foot_range > lim.max_foot_lift
        ):
            return "feet left the ground (jump)"
        if lim.max_foot_shift is not None and rep.max_foot_shift > lim.max_foot_shift:
            return "feet moved (walking or stepping)"
        if lim.max_hip_drift is not None and rep.max_hip_drift > lim.max_hip_drift:
            return "body travelled sideways (walking)"
        if lim.min_hip_drop is not None:
            need = lim.min_hip_drop if kind is RepKind.FULL else lim.min_hip_drop / 2
            if rep.max_hip_drop < need:
                return "hips did not go down"
        return ""

    def _fault(self, check: FormCheck, rep: _Rep) -> bool:
        if check.front_view_only and rep.bottom_frontal < 0.5:
            return False
        if check.at == "rep":
            value = {"descent_s": rep.bottom_t - rep.start_t}.get(check.metric, math.nan)
        else:
            value = rep.bottom_metrics.get(check.metric, math.nan)
        if not math.isfinite(value):
            return False
        return value > check.limit if check.above else value < check.limit

    def _faults(self, rep: _Rep) -> tuple[str, ...]:
        faults = [c.name for c in self.rule.form_checks if self._fault(c, rep)]
        if rep.min_angle > self.thresholds.bottom:
            faults.insert(0, "not_deep_enough")
        return tuple(faults)

    def _update(self, t: float, angle: float, events: list[RepEvent]) -> CounterUpdate:
        th = self.thresholds
        progress = (th.top - angle) / (th.top - th.bottom) if math.isfinite(angle) else 0.0
        if self.phase is Phase.READY and self._rep is None and not self._pending:
            self._messages = ()
        return CounterUpdate(
            t=t,
            phase=self.phase,
            angle=angle,
            reps=self.reps,
            partial_reps=self.partial_reps,
            progress=float(min(1.2, max(0.0, progress))),
            rep_index=self.reps + 1 if self._rep is not None else 0,
            events=tuple(events),
            messages=self._messages,
        )
