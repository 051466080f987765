"""The row-at-a-time line engine that jxc_sheets' columnar line tables replaced, kept
only as the reference of tests/test_line_engine.py: a RawLine per table row, its cells
looked up one by one (records.py), the reader's line building (read.py) and the
validation over them (validate.py), as they were before the change. The reader's row
stage (sheets, labels, header cells, footers) is the product's own and is shared.
Not product code: nothing in jxc_sheets imports it."""
