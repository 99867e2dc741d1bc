"""Models of the students app."""
