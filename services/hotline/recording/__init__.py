"""The recording service: records every agent call in stereo and announces
each finished file with its metadata."""
