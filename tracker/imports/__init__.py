"""Reading and streaming for the CSV import: the upload limit and stored uploads
(`uploads`), the file's checks and rows (`csv_reading`), the per-row rules and the report of
failed rows (`rows`), and COPY streaming (`pg_copy`). The writing is a service:
`services/imports.py`."""
