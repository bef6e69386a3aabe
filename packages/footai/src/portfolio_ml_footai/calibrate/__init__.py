"""Where the pitch is in each frame: keypoints → homography (`keypoints`), carried between fits
by the camera's motion (`motion`), restarted after cuts (`cuts`); calibration files and their
geometry checks (`geometry`); `footai calibrate` (`manual`)."""
