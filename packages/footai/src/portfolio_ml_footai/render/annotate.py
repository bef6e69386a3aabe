"""Boxes on pictures: the annotated video (tracked people and the ball) and `detect`'s stills."""

from __future__ import annotations

import cv2
import numpy as np

from ..detections import Detections
from ..model.spec import BALL, CLASSES, PLAYER

BALL_COLOUR = (0, 255, 255)  # BGR
REFEREE_COLOUR = (30, 30, 30)
KEEPER_COLOURS = ((0, 200, 255), (255, 120, 0))  # team 0, team 1: apart from any kit
ROLE_COLOURS = {  # stills from `footai detect`: one colour per role
    "ball": BALL_COLOUR,
    "goalkeeper": (0, 165, 255),
    "player": (255, 200, 0),
    "referee": REFEREE_COLOUR,
}


def luminance(colour: tuple[int, int, int]) -> float:
    """Perceived brightness of a BGR colour, 0-255."""
    b, g, r = colour
    return 0.114 * b + 0.587 * g + 0.299 * r


def readable(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """A text colour that contrasts with ``colour``."""
    return (0, 0, 0) if luminance(colour) > 140 else (255, 255, 255)


def hex_colour(colour: tuple[int, int, int]) -> str:
    """A BGR colour as ``#rrggbb`` (summary.json, HTML, matplotlib)."""
    b, g, r = colour
    return f"#{r:02x}{g:02x}{b:02x}"


def bgr_colour(text: str) -> tuple[int, int, int]:
    """``#rrggbb`` back to BGR."""
    r, g, b = (int(text[i : i + 2], 16) for i in (1, 3, 5))
    return b, g, r


def track_label(track_id: int, role: int) -> str:
    """A person's label on pictures: the id, with G or R for goalkeepers and referees."""
    return str(track_id) if role == PLAYER else f"{track_id}{CLASSES[role][0].upper()}"


def person_ids(dets: Detections) -> np.ndarray:
    """The id pictures show for each row: the person's ``player_id`` (the same through all the
    tracks the re-identification joined), or the track id before it has run."""
    return np.where(dets.player_id >= 0, dets.player_id, dets.track_id)


def person_colour(
    role: int, team: int, team_colours: tuple[tuple[int, int, int], ...]
) -> tuple[int, int, int]:
    """Players in their kit's colour, keepers in a colour of their team, referees dark."""
    if team < 0:
        return REFEREE_COLOUR
    if team_colours and role == PLAYER:
        return team_colours[team]
    return KEEPER_COLOURS[team]


def annotate(
    frame: np.ndarray,
    dets: Detections,
    team_colours: tuple[tuple[int, int, int], ...],
    in_place: bool = False,
) -> np.ndarray:
    """Tracked people (an ellipse at the feet, the player id; G/R for keepers and referees)
    and a marker over the ball; on a copy of ``frame`` unless ``in_place``."""
    out = frame if in_place else frame.copy()
    people = dets.persons
    for (x0, _, x1, y1), tid, role, team in zip(
        people.xyxy, person_ids(people), people.class_id, people.team, strict=True
    ):
        colour = person_colour(int(role), int(team), team_colours)
        w = x1 - x0
        cx, fy = int(x0 + w / 2), int(y1)
        cv2.ellipse(
            out,
            (cx, fy),
            (max(6, int(w * 0.7)), max(3, int(w * 0.25))),
            0,
            -45,
            235,
            colour,
            2,
            cv2.LINE_AA,
        )
        label = track_label(int(tid), int(role))
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        tl = (cx - tw // 2 - 2, fy + 6)
        cv2.rectangle(out, tl, (tl[0] + tw + 4, tl[1] + th + 4), colour, -1)
        cv2.putText(
            out,
            label,
            (tl[0] + 2, tl[1] + th + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            readable(colour),
            1,
            cv2.LINE_AA,
        )
    for bx, by in dets.balls.centres.astype(int):
        tri = np.array([[bx, by - 8], [bx - 6, by - 18], [bx + 6, by - 18]], np.int32)
        cv2.fillPoly(out, [tri], BALL_COLOUR, cv2.LINE_AA)
        cv2.polylines(out, [tri], True, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def draw_detections(image: np.ndarray, dets: Detections) -> np.ndarray:
    """A detector's boxes on a still: role colour, role initial and score; balls circled."""
    out = image.copy()
    for (x0, y0, x1, y1), c, s in zip(
        dets.xyxy.astype(int), dets.class_id, dets.score, strict=True
    ):
        colour = ROLE_COLOURS[CLASSES[c]]
        if c == BALL:
            centre = ((x0 + x1) // 2, (y0 + y1) // 2)
            cv2.circle(out, centre, max(6, (x1 - x0)), colour, 2, cv2.LINE_AA)
            continue
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, 2)
        cv2.putText(
            out,
            f"{CLASSES[c][0].upper()} {s:.2f}",
            (x0, max(10, y0 - 3)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            colour,
            1,
            cv2.LINE_AA,
        )
    return out
