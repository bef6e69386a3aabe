"""What the learned Foot AI net sees and says: input size, classes, heads and the 32 pitch keypoints.

Kept free of TensorFlow so that inference, evaluation and the pipeline can read it without
importing a training framework.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Detection classes, in the order of the real dataset's labels (YOLO class ids).
CLASSES: tuple[str, ...] = ("ball", "goalkeeper", "player", "referee")
BALL, GOALKEEPER, PLAYER, REFEREE = range(4)
PERSON_CLASSES = (GOALKEEPER, PLAYER, REFEREE)


@dataclass(frozen=True)
class NetSpec:
    """Input size (16:9-ish, divisible by 32) and the output stride of every head."""

    width: int = 512
    height: int = 288
    stride: int = 4

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def out_size(self) -> tuple[int, int]:
        return self.width // self.stride, self.height // self.stride


NET = NetSpec()

# Output channels of the single head tensor, in order. One class-agnostic person heatmap (every
# player, keeper and referee is a positive of it) and role logits read at its peaks: the rare
# roles then cost the detector nothing, and the role is a 3-way choice at each person.
N_CLASSES = len(CLASSES)
N_KEYPOINTS = 32
BALL_CHANNEL = 0
PERSON_CHANNEL = 1
HEATMAP_CHANNELS = slice(0, 2)  # ball, person
ROLE_CHANNELS = slice(2, 5)  # goalkeeper, player, referee logits (softmax)
SIZE_CHANNELS = slice(5, 7)  # log box width/height in input pixels
OFFSET_CHANNELS = slice(7, 9)  # sub-cell centre offset
KEYPOINT_CHANNELS = slice(9, 9 + N_KEYPOINTS)
OUT_CHANNELS = 9 + N_KEYPOINTS
ROLE_CLASSES = (GOALKEEPER, PLAYER, REFEREE)  # class id of each role logit
# Role loss weights ~ 1/sqrt(frequency) in the real training set (players 85 %, referees 10 %,
# goalkeepers 3.5 %): the rare roles are not drowned, nor overweighted into false alarms.
ROLE_WEIGHTS = (5.0, 1.0, 3.0)
# A keypoint counts as seen above this confidence (chosen on the valid split: 100 % of frames
# within 1 m; 0.2: 97 %, 0.4: 93 %).
KEYPOINT_THRESHOLD = 0.3


# Keypoint i is `pitch.KEYPOINTS[i]`; a horizontal flip makes it FLIP_INDEX[i] (the dataset's
# own flip_idx).
FLIP_INDEX = np.array(
    [24, 25, 26, 27, 28, 29, 22, 23, 21, 17, 18, 19, 20, 13, 14, 15,
     16, 9, 10, 11, 12, 8, 6, 7, 0, 1, 2, 3, 4, 5, 31, 30]
)  # fmt: skip
