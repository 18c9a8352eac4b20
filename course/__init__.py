"""The course: tracks, modules, lessons, exercises, enrolment, progress, study groups."""
