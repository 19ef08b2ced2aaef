"""The dashboard's exports, rendering only: a report's data in, PDF or CSV bytes out."""
