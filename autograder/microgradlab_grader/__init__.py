"""The instructor-side grading tools for microgradlab."""
