"""Data: IDX files, named data sets, the downloader, and copying data to the device."""

from .arrays import DeviceData, to_device
from .datasets import NAMES, Dataset, load_dataset
from .idx import read_idx, write_idx

__all__ = ["NAMES", "Dataset", "DeviceData", "load_dataset", "read_idx", "to_device", "write_idx"]
