"""The shift's paperwork: the shift close (blind count, variance, handover), the report view, and the report
as a document (HTML, PDF, print)."""
