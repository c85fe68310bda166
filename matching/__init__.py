"""Mentor-mentee matching: a pure core (profiles, scoring, constraints, assignment, explanation)
and a service that reads and writes the database (``matching.service``)."""
