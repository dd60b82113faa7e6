"""Tests of nnaccel.data: data sets, file formats, validation, download, expansion."""
