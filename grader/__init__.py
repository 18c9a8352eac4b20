"""Grading: the engine (grader.engine, no Django), submissions, and the Celery tasks that grade them."""
