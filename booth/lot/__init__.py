"""A lot of several booths on one PostgreSQL (issue #18): the server's tables, each booth's journal pushed
to them, and the lot's stays found at any booth's exit."""
